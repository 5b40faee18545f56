/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The measuring side of the benchmarks, in C so the client is not the
 * bottleneck. Every mode talks to DBUS_SESSION_BUS_ADDRESS and prints one
 * line of "key value" pairs for bench/run to parse.
 *
 *   register  --dest NAME --count N --window W [--first I] [--hours H]
 *       N pipelined RegisterSession calls (at most W outstanding), unique ids,
 *       typical options; expiry H hours ahead (deadlines far away); with
 *       --threshold-ms T, one warning T ms before expiry.
 *   unregister --dest NAME --count N --window W [--first I]
 *       N pipelined UnregisterSession calls for the ids register gave.
 *   lateness  --dest NAME --count N --spread-ms S --delay-ms D --threshold-ms T
 *       N sessions expiring over S ms starting D ms from now plus T, each with
 *       one warning T ms before expiry; records receipt minus due time of every
 *       SessionExpiring/SessionExpired, and apart the lateness of the last
 *       SessionExpired received and the window of due times (wall clock ms).
 *   startup   --dest NAME -- ARGV...
 *       execs ARGV, times exec to NameOwnerChanged(NAME), counts GetSessions,
 *       then stops it with SIGTERM.
 *   get       --dest NAME --count N [--copy-from NAME2]
 *       N GetSessions calls one after the other; prints their median, min
 *       and max round trip (the client's decoding included) and the reply
 *       size. With --copy-from, first gives NAME (the floor server) the
 *       GetSessions reply of NAME2 (the daemon) with SetSessions. */

#define G_LOG_DOMAIN "sm-bench-client"

#include <gio/gio.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define OBJECT_PATH "/org/musig2/SessionMonitor1"
#define IFACE "org.musig2.SessionMonitor1"

typedef struct
{
  GDBusConnection *connection;
  GMainLoop *loop;
  const char *dest;
  const char *prefix;
  guint first;
  guint count;
  guint window;
  guint issued;
  guint done;
  guint errors;
  char *first_error;
  /* expiry of session i: base_ms + i * step_ms (lateness) or fixed */
  gint64 base_ms;
  double step_ms;
  gint64 threshold_ms;
  gboolean typical;
  gboolean unregister;
  guint timeout_id;
} Run;

static gint64
wall_us (void)
{
  return g_get_real_time ();
}

static gint64
expiry_of (const Run *run, guint i)
{
  return run->base_ms + (gint64) floor (i * run->step_ms);
}

static GVariant *
make_params (const Run *run, guint i)
{
  g_autofree char *id = g_strdup_printf ("%s-%u", run->prefix, run->first + i);
  GVariantBuilder options, metadata;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  if (run->typical)
    {
      g_autofree char *url = g_strdup_printf ("wallet://sessions/%s", id);

      /* What a wallet typically sends: a few metadata fields and its app. */
      g_variant_builder_init (&metadata, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&metadata, "{sv}", "wallet-id", g_variant_new_string ("wallet-7f3a"));
      g_variant_builder_add (&metadata, "{sv}", "peer-count", g_variant_new_uint32 (3));
      g_variant_builder_add (&metadata, "{sv}", "amount-sat", g_variant_new_uint64 (150000));
      g_variant_builder_add (&metadata, "{sv}", "label",
                             g_variant_new_string ("Quarterly treasury spend"));
      g_variant_builder_add (&options, "{sv}", "session-type", g_variant_new_string ("signing"));
      g_variant_builder_add (&options, "{sv}", "metadata", g_variant_builder_end (&metadata));
      g_variant_builder_add (&options, "{sv}", "app-id",
                             g_variant_new_string ("org.example.Wallet"));
      g_variant_builder_add (&options, "{sv}", "url", g_variant_new_string (url));
    }
  if (run->threshold_ms > 0)
    {
      gint64 t = run->threshold_ms;

      g_variant_builder_add (
          &options, "{sv}", "warn-thresholds",
          g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, &t, 1, sizeof (gint64)));
    }
  return g_variant_new ("(sxa{sv})", id, expiry_of (run, i), &options);
}

static GVariant *
make_unregister_params (const Run *run, guint i)
{
  g_autofree char *id = g_strdup_printf ("%s-%u", run->prefix, run->first + i);

  return g_variant_new ("(ss)", id, "completed");
}

static void issue_next (Run *run);

static void
on_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
      g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL)
    {
      run->errors++;
      if (run->first_error == NULL)
        run->first_error = g_strdup (error->message);
    }
  run->done++;
  if (run->done == run->count)
    g_main_loop_quit (run->loop);
  else
    issue_next (run);
}

static void
issue_next (Run *run)
{
  while (run->issued < run->count && run->issued - run->done < run->window)
    {
      g_dbus_connection_call (run->connection, run->dest, OBJECT_PATH, IFACE,
                              run->unregister ? "UnregisterSession" : "RegisterSession",
                              run->unregister ? make_unregister_params (run, run->issued)
                                              : make_params (run, run->issued),
                              NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, on_reply, run);
      run->issued++;
    }
}

/* Returns the seconds the N calls took. */
static double
run_calls (Run *run)
{
  gint64 start = g_get_monotonic_time ();

  run->issued = run->done = run->errors = 0;
  if (run->count == 0)
    return 0;
  issue_next (run);
  g_main_loop_run (run->loop);
  return (g_get_monotonic_time () - start) / 1e6;
}

static char *
resolve_owner (GDBusConnection *connection, const char *name)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetNameOwner", g_variant_new ("(s)", name), G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE,
      5000, NULL, NULL);
  char *owner = NULL;

  if (reply != NULL)
    g_variant_get (reply, "(s)", &owner);
  return owner;
}

/* Lateness ------------------------------------------------------------------ */

typedef struct
{
  Run *run;
  GArray *lateness_us; /* gint64 */
  guint expected;
  guint early;
  guint unknown;
  guint expired;            /* SessionExpired received */
  gint64 expired_max_us;    /* the latest of them, against its own due */
  gint64 last_expired_us;   /* the last one received, against its own due */
  gint64 last_expired_wall; /* when that one was received (wall clock us) */
} Lateness;

static void
on_deadline_signal (GDBusConnection *connection G_GNUC_UNUSED,
                    const char *sender G_GNUC_UNUSED,
                    const char *path G_GNUC_UNUSED,
                    const char *iface G_GNUC_UNUSED,
                    const char *signal,
                    GVariant *params,
                    gpointer user_data)
{
  gint64 received_us = wall_us ();
  Lateness *lat = user_data;
  const char *id;
  gsize prefix_len = strlen (lat->run->prefix);
  gint64 due_ms, late;
  guint64 index;

  g_variant_get_child (params, 0, "&s", &id);
  if (strncmp (id, lat->run->prefix, prefix_len) != 0 || id[prefix_len] != '-')
    {
      lat->unknown++;
      return;
    }
  index = g_ascii_strtoull (id + prefix_len + 1, NULL, 10) - lat->run->first;
  due_ms = expiry_of (lat->run, (guint) index);
  if (g_str_equal (signal, "SessionExpiring"))
    due_ms -= lat->run->threshold_ms;

  late = received_us - due_ms * 1000;
  if (late < 0)
    lat->early++;
  if (g_str_equal (signal, "SessionExpired"))
    {
      lat->expired_max_us = lat->expired++ == 0 ? late : MAX (lat->expired_max_us, late);
      lat->last_expired_us = late;
      lat->last_expired_wall = received_us;
    }
  g_array_append_val (lat->lateness_us, late);
  if (lat->lateness_us->len == lat->expected)
    g_main_loop_quit (lat->run->loop);
}

static gboolean
on_timeout_quit (gpointer user_data)
{
  Run *run = user_data;

  run->timeout_id = 0;
  g_main_loop_quit (run->loop);
  return G_SOURCE_REMOVE;
}

static gint
compare_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static double
percentile_ms (GArray *sorted, double p)
{
  guint n = sorted->len;
  guint i;

  if (n == 0)
    return NAN;
  i = (guint) ceil (p * n);
  i = i == 0 ? 0 : MIN (i - 1, n - 1);
  return g_array_index (sorted, gint64, i) / 1000.0;
}

static void
print_lateness (Run *run, Lateness *lat, double seconds, gint64 register_end_ms, guint spread_ms)
{
  g_array_sort (lat->lateness_us, compare_i64);
  g_print ("sessions %u register_s %.3f register_errors %u register_overran_ms %" G_GINT64_FORMAT
           " signals %u missing %u unknown %u early %u p50_ms %.3f p99_ms %.3f max_ms %.3f "
           "min_ms %.3f",
           run->count, seconds, run->errors,
           MAX ((gint64) 0, register_end_ms - (run->base_ms - run->threshold_ms)),
           lat->lateness_us->len, lat->expected - MIN (lat->expected, lat->lateness_us->len),
           lat->unknown, lat->early, percentile_ms (lat->lateness_us, 0.50),
           percentile_ms (lat->lateness_us, 0.99), percentile_ms (lat->lateness_us, 1.0),
           percentile_ms (lat->lateness_us, 0.0));
  /* The due times are run->base_ms + [0, spread_ms): bench/run relates
   * them to what a notification server received. */
  g_print (" expired %u expired_max_ms %.3f last_expired_ms %.3f last_expired_at_ms %.3f"
           " first_due_ms %" G_GINT64_FORMAT " spread_ms %u\n",
           lat->expired, lat->expired ? lat->expired_max_us / 1000.0 : NAN,
           lat->expired ? lat->last_expired_us / 1000.0 : NAN,
           lat->expired ? lat->last_expired_wall / 1000.0 : NAN, run->base_ms, spread_ms);
  if (run->first_error != NULL)
    g_printerr ("bench-client: first error: %s\n", run->first_error);
}

static int
mode_lateness (Run *run, guint spread_ms, guint delay_ms)
{
  g_autofree char *owner = resolve_owner (run->connection, run->dest);
  Lateness lat = { .run = run,
                   .lateness_us = g_array_new (FALSE, FALSE, sizeof (gint64)),
                   .expected = run->count * 2 };
  gint64 register_end_ms;
  double seconds;
  guint sub_expiring, sub_expired;

  if (owner == NULL)
    {
      g_printerr ("bench-client: %s is not on the bus\n", run->dest);
      return EXIT_FAILURE;
    }
  sub_expiring = g_dbus_connection_signal_subscribe (
      run->connection, owner, IFACE, "SessionExpiring", OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
      on_deadline_signal, &lat, NULL);
  sub_expired = g_dbus_connection_signal_subscribe (run->connection, owner, IFACE, "SessionExpired",
                                                    OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                    on_deadline_signal, &lat, NULL);

  /* The first warning is due delay_ms from now; registering must end first. */
  run->base_ms = wall_us () / 1000 + delay_ms + run->threshold_ms;
  run->step_ms = run->count > 0 ? (double) spread_ms / run->count : 0;
  seconds = run_calls (run);
  register_end_ms = wall_us () / 1000;

  run->timeout_id = g_timeout_add (
      (guint) MAX (0, run->base_ms + spread_ms - register_end_ms) + 10000, on_timeout_quit, run);
  if (lat.lateness_us->len < lat.expected)
    g_main_loop_run (run->loop);
  g_clear_handle_id (&run->timeout_id, g_source_remove);
  g_dbus_connection_signal_unsubscribe (run->connection, sub_expiring);
  g_dbus_connection_signal_unsubscribe (run->connection, sub_expired);

  print_lateness (run, &lat, seconds, register_end_ms, spread_ms);
  g_array_unref (lat.lateness_us);
  return EXIT_SUCCESS;
}

/* Start-up ------------------------------------------------------------------- */

static void
on_name_owner_changed (GDBusConnection *connection G_GNUC_UNUSED,
                       const char *sender G_GNUC_UNUSED,
                       const char *path G_GNUC_UNUSED,
                       const char *iface G_GNUC_UNUSED,
                       const char *signal G_GNUC_UNUSED,
                       GVariant *params,
                       gpointer user_data)
{
  gint64 *owned_at = user_data;
  const char *new_owner;

  g_variant_get (params, "(&s&s&s)", NULL, NULL, &new_owner);
  if (*new_owner != '\0' && *owned_at == 0)
    *owned_at = g_get_monotonic_time ();
}

static int
mode_startup (Run *run, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) daemon = NULL;
  g_autoptr (GVariant) reply = NULL;
  gint64 owned_at = 0, answered_at, start;
  guint sub;
  gsize sessions = 0;

  sub = g_dbus_connection_signal_subscribe (
      run->connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
      "/org/freedesktop/DBus", run->dest, G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed,
      &owned_at, NULL);
  /* The match rule is in place once a round trip has returned. */
  g_free (resolve_owner (run->connection, "org.freedesktop.DBus"));

  start = g_get_monotonic_time ();
  daemon = g_subprocess_newv ((const char *const *) argv, G_SUBPROCESS_FLAGS_NONE, &error);
  if (daemon == NULL)
    {
      g_printerr ("bench-client: %s\n", error->message);
      return EXIT_FAILURE;
    }
  while (owned_at == 0 && g_get_monotonic_time () - start < 30 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  g_dbus_connection_signal_unsubscribe (run->connection, sub);

  /* Owning the name is not the whole story if loading comes after it: the
   * first answer to a cheap call says when the daemon really serves. */
  g_clear_pointer (&reply, g_variant_unref);
  reply =
      g_dbus_connection_call_sync (run->connection, run->dest, OBJECT_PATH, IFACE, "GetPresence",
                                   NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, NULL);
  answered_at = g_get_monotonic_time ();
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_dbus_connection_call_sync (run->connection, run->dest, OBJECT_PATH, IFACE,
                                       "GetSessions", NULL, G_VARIANT_TYPE ("(aa{sv})"),
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, &error);
  if (reply != NULL)
    {
      g_autoptr (GVariant) list = g_variant_get_child_value (reply, 0);

      sessions = g_variant_n_children (list);
    }
  g_subprocess_send_signal (daemon, SIGTERM);
  g_subprocess_wait (daemon, NULL, NULL);

  g_print ("startup_ms %.3f first_reply_ms %.3f sessions %" G_GSIZE_FORMAT "\n",
           owned_at ? (owned_at - start) / 1000.0 : NAN, (answered_at - start) / 1000.0, sessions);
  return owned_at ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int
mode_calls (Run *run, gboolean unregister, double hours)
{
  double seconds;

  run->unregister = unregister;
  run->base_ms = wall_us () / 1000 + (gint64) (hours * 3600 * 1000);
  seconds = run_calls (run);

  g_print ("calls %u errors %u seconds %.4f rate %.1f\n", run->count, run->errors, seconds,
           seconds > 0 ? run->count / seconds : 0);
  if (run->first_error != NULL)
    g_printerr ("bench-client: first error: %s\n", run->first_error);
  return run->errors == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double da = *(const double *) a, db = *(const double *) b;

  return da < db ? -1 : da > db ? 1 : 0;
}

static int
mode_get (Run *run, const char *copy_from)
{
  g_autofree double *ms = g_new0 (double, MAX (run->count, 1));
  gsize bytes = 0, sessions = 0;

  if (copy_from != NULL)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) list = NULL, done = NULL;

      list = g_dbus_connection_call_sync (run->connection, copy_from, OBJECT_PATH, IFACE,
                                          "GetSessions", NULL, G_VARIANT_TYPE ("(aa{sv})"),
                                          G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, &error);
      if (list != NULL)
        done = g_dbus_connection_call_sync (run->connection, run->dest, OBJECT_PATH, IFACE,
                                            "SetSessions", list, NULL,
                                            G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, &error);
      if (done == NULL)
        {
          g_printerr ("bench-client: %s\n", error->message);
          return EXIT_FAILURE;
        }
    }

  for (guint i = 0; i < run->count; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) reply = NULL, list = NULL;
      gint64 start = g_get_monotonic_time ();

      reply = g_dbus_connection_call_sync (run->connection, run->dest, OBJECT_PATH, IFACE,
                                           "GetSessions", NULL, G_VARIANT_TYPE ("(aa{sv})"),
                                           G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, &error);
      ms[i] = (g_get_monotonic_time () - start) / 1000.0;
      if (reply == NULL)
        {
          g_printerr ("bench-client: %s\n", error->message);
          return EXIT_FAILURE;
        }
      bytes = g_variant_get_size (reply);
      list = g_variant_get_child_value (reply, 0);
      sessions = g_variant_n_children (list);
    }
  qsort (ms, run->count, sizeof ms[0], compare_doubles);
  g_print ("calls %u p50_ms %.3f min_ms %.3f max_ms %.3f bytes %" G_GSIZE_FORMAT
           " sessions %" G_GSIZE_FORMAT "\n",
           run->count, run->count ? ms[run->count / 2] : NAN, run->count ? ms[0] : NAN,
           run->count ? ms[run->count - 1] : NAN, bytes, sessions);
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autofree char *dest = NULL, *prefix = NULL, *copy_from = NULL;
  int count = 1000, window = 16, first = 0, spread_ms = 3000, delay_ms = 3000, threshold_ms = 0;
  double hours = 6;
  gboolean plain = FALSE;
  Run run = { 0 };
  const char *mode;
  const GOptionEntry entries[] = {
    { "dest", 0, 0, G_OPTION_ARG_STRING, &dest, "Bus name to call", "NAME" },
    { "prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, "Session id prefix", "P" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "Sessions", "N" },
    { "first", 0, 0, G_OPTION_ARG_INT, &first, "First id number", "I" },
    { "window", 0, 0, G_OPTION_ARG_INT, &window, "Calls outstanding", "W" },
    { "hours", 0, 0, G_OPTION_ARG_DOUBLE, &hours, "Expiry this far ahead", "H" },
    { "spread-ms", 0, 0, G_OPTION_ARG_INT, &spread_ms, "Deadlines spread", "MS" },
    { "delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "First deadline after", "MS" },
    { "threshold-ms", 0, 0, G_OPTION_ARG_INT, &threshold_ms, "One warning before expiry", "MS" },
    { "copy-from", 0, 0, G_OPTION_ARG_STRING, &copy_from, "get: prime the floor from", "NAME" },
    { "plain", 0, 0, G_OPTION_ARG_NONE, &plain, "No options at all", NULL },
    G_OPTION_ENTRY_NULL,
  };

  context = g_option_context_new ("register|unregister|lateness|startup|get [-- ARGV]");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 2)
    {
      g_printerr ("bench-client: %s\n", error ? error->message : "no mode given");
      return EXIT_FAILURE;
    }
  mode = argv[1];

  run.connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (run.connection == NULL)
    {
      g_printerr ("bench-client: %s\n", error->message);
      return EXIT_FAILURE;
    }
  run.loop = g_main_loop_new (NULL, FALSE);
  run.dest = dest ? dest : "org.musig2.SessionMonitor1";
  run.prefix = prefix ? prefix : "bench";
  run.count = (guint) MAX (count, 0);
  run.first = (guint) MAX (first, 0);
  run.window = (guint) MAX (window, 1);
  run.typical = !plain;
  run.threshold_ms = threshold_ms;

  if (g_str_equal (mode, "register") || g_str_equal (mode, "unregister"))
    return mode_calls (&run, g_str_equal (mode, "unregister"), hours);
  if (g_str_equal (mode, "lateness"))
    return mode_lateness (&run, (guint) spread_ms, (guint) delay_ms);
  if (g_str_equal (mode, "get"))
    return mode_get (&run, copy_from);
  if (g_str_equal (mode, "startup") && argc >= 3)
    return mode_startup (&run, argv + (g_str_equal (argv[2], "--") ? 3 : 2));

  g_printerr ("bench-client: unknown mode %s\n", mode);
  return EXIT_FAILURE;
}
