/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "session-monitor"

#include "config.h"

#include "sm-error.h"
#include "sm-names.h"
#include "sm-scheduler.h"
#include "sm-service.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>

/* Everything the daemon owns; the only mutable state it has. */
typedef struct
{
  GMainLoop *loop;
  GDBusConnection *connection;
  SmScheduler *scheduler;
  SmService *service;
  guint name_id;
  GBusType bus_type;
  gboolean notifications;
  int exit_status;
  char *state_dir; /* (nullable): NULL keeps the state in memory only */
  gboolean state_loaded;
  /* SIGINT/SIGTERM arrived: a bus that goes away now (Ctrl+C signals the
   * bus of dbus-run-session too) is part of the shutdown, not a failure. */
  gboolean shutting_down;
  guint bus_gone_id;      /* the grace period before exiting for a lost bus */
  guint close_timeout_id; /* closing the connection at shutdown takes too long */
  char *bus_gone_reason;  /* (owned) (nullable) why reconnecting failed */
} SmDaemon;

static void
sm_daemon_free (SmDaemon *daemon)
{
  daemon->shutting_down = TRUE;
  g_clear_handle_id (&daemon->bus_gone_id, g_source_remove);
  g_clear_handle_id (&daemon->close_timeout_id, g_source_remove);
  /* After a clean stop the connection is closed and GLib has dropped it
   * from the name owner: no ReleaseName call is made here. */
  g_clear_handle_id (&daemon->name_id, g_bus_unown_name);
  /* A failed reconnection leaves the service exported nowhere. */
  if (daemon->service != NULL
      && g_dbus_interface_skeleton_get_connection (G_DBUS_INTERFACE_SKELETON (daemon->service))
             != NULL)
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (daemon->service));
  g_clear_object (&daemon->service);
  g_clear_object (&daemon->scheduler);
  g_clear_object (&daemon->connection);
  g_clear_pointer (&daemon->loop, g_main_loop_unref);
  g_free (daemon->state_dir);
  g_free (daemon->bus_gone_reason);
  g_free (daemon);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmDaemon, sm_daemon_free)

static gboolean
on_close_timeout (gpointer user_data)
{
  SmDaemon *daemon = user_data;

  daemon->close_timeout_id = 0;
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  SmDaemon *daemon = user_data;

  g_debug ("Terminating on signal");
  if (daemon->shutting_down)
    return G_SOURCE_CONTINUE;
  daemon->shutting_down = TRUE;
  /* The bus went away a moment before the signal was seen: that was the
   * shutdown too, not a failure. */
  if (daemon->bus_gone_id != 0)
    {
      g_clear_handle_id (&daemon->bus_gone_id, g_source_remove);
      daemon->exit_status = EXIT_SUCCESS;
    }
  if (daemon->connection == NULL || g_dbus_connection_is_closed (daemon->connection))
    {
      g_main_loop_quit (daemon->loop);
      return G_SOURCE_CONTINUE;
    }
  /* Closing the connection releases the name on the bus's side, and the
   * loop ends when GLib has seen it closed (on_name_lost()): a
   * g_bus_unown_name() on an open connection would call ReleaseName, which
   * a bus going away at the same moment (Ctrl+C on dbus-run-session)
   * fails with a warning. Flushed first: what is queued still goes out. */
  g_dbus_connection_flush_sync (daemon->connection, NULL, NULL);
  g_dbus_connection_close (daemon->connection, NULL, NULL, NULL);
  daemon->close_timeout_id = g_timeout_add (2000, on_close_timeout, daemon);
  return G_SOURCE_CONTINUE;
}

static void
on_name_acquired (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  SmDaemon *daemon = user_data;

  g_debug ("Owning %s", name);
  /* Only now: the catch-up signals of the restored state must reach the
   * clients that match on the bus name. */
  if (!daemon->state_loaded)
    {
      daemon->state_loaded = TRUE;
      sm_service_load_state (daemon->service, daemon->state_dir);
    }
}

static gboolean sm_daemon_connect (SmDaemon *daemon, GBusNameOwnerFlags flags, GError **error);

/* GDBus closes a connection on a message it cannot decode (GLib 2.74 fails
 * on some valid ones, e.g. an "a{yg}" in a variant), so one client could
 * otherwise take the daemon off the bus. Everything it serves lives in the
 * models and on disk: a new connection serves it all again. At once, so
 * that no deadline's signal falls into the gap. */
static gboolean
sm_daemon_reconnect (SmDaemon *daemon, GError **error)
{
  g_clear_handle_id (&daemon->name_id, g_bus_unown_name);
  g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (daemon->service),
                                                      daemon->connection);
  g_clear_object (&daemon->connection);

  /* The bus may not have noticed yet that our old connection is gone: it
   * still owns the name and allows replacement. */
  if (!sm_daemon_connect (
          daemon, G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT | G_BUS_NAME_OWNER_FLAGS_REPLACE, error))
    return FALSE;
  sm_service_reconnect (daemon->service, daemon->connection);
  return TRUE;
}

/* How long a daemon whose bus is gone waits for the SIGINT/SIGTERM that
 * usually comes with it (Ctrl+C on dbus-run-session, a session ending)
 * before it calls the loss a failure. */
#define SM_BUS_GONE_GRACE_MS 1000

static gboolean
on_bus_gone_timeout (gpointer user_data)
{
  SmDaemon *daemon = user_data;

  daemon->bus_gone_id = 0;
  g_message ("Lost the connection to the bus and cannot reconnect: %s; exiting",
             daemon->bus_gone_reason);
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

/* The one place where losing the bus is handled: no connection of the
 * daemon exits or raises a signal on its own when the bus goes away. */
static void
sm_daemon_bus_lost (SmDaemon *daemon)
{
  g_autoptr (GError) error = NULL;

  if (daemon->shutting_down)
    {
      g_debug ("Disconnected from the bus");
      g_main_loop_quit (daemon->loop);
      return;
    }
  /* Before the state is loaded nothing was served yet: a daemon started
   * on a bus that went away at once just ends. */
  if (daemon->state_loaded && sm_daemon_reconnect (daemon, &error))
    {
      g_message ("Lost the connection to the bus; reconnected");
      return;
    }
  daemon->exit_status = EXIT_FAILURE;
  g_free (daemon->bus_gone_reason);
  daemon->bus_gone_reason =
      g_strdup (error != NULL ? error->message : "the bus closed the connection");
  if (daemon->bus_gone_id == 0)
    daemon->bus_gone_id = g_timeout_add (SM_BUS_GONE_GRACE_MS, on_bus_gone_timeout, daemon);
}

static void
on_name_lost (GDBusConnection *connection, const char *name, gpointer user_data)
{
  SmDaemon *daemon = user_data;

  if (connection == NULL || g_dbus_connection_is_closed (connection))
    {
      sm_daemon_bus_lost (daemon);
      return;
    }
  g_message ("Could not own or lost %s (another instance runs? try --replace); exiting", name);
  daemon->exit_status = EXIT_FAILURE;
  g_main_loop_quit (daemon->loop);
}

/* A connection of our own rather than the shared singleton: the notifier
 * (Notify calls and the server's name watch) uses that one, and neither
 * should go down with ours (nor ours with theirs). */
static gboolean
sm_daemon_connect (SmDaemon *daemon, GBusNameOwnerFlags flags, GError **error)
{
  g_autofree char *address = g_dbus_address_get_for_bus_sync (daemon->bus_type, NULL, error);

  if (address == NULL)
    return FALSE;
  daemon->connection =
      g_dbus_connection_new_for_address_sync (address,
                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                                                  | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                              NULL, NULL, error);
  if (daemon->connection == NULL)
    return FALSE;
  /* Losing the bus is handled in sm_daemon_bus_lost(), not by exit(). */
  g_dbus_connection_set_exit_on_close (daemon->connection, FALSE);

  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (daemon->service),
                                         daemon->connection, SM_OBJECT_PATH, error))
    return FALSE;
  daemon->name_id = g_bus_own_name_on_connection (daemon->connection, SM_BUS_NAME, flags,
                                                  on_name_acquired, on_name_lost, daemon, NULL);
  return TRUE;
}

static gboolean
sm_daemon_start (SmDaemon *daemon, gboolean system_bus, gboolean replace, GError **error)
{
  GBusNameOwnerFlags flags = G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT;

  daemon->bus_type = system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION;
  daemon->scheduler = sm_scheduler_new (error);
  if (daemon->scheduler == NULL)
    return FALSE;

  daemon->service = sm_service_new (daemon->scheduler);
  /* Before any state comes back, so restored requests are shown too. */
  if (daemon->notifications)
    sm_service_start_notifications (daemon->service);

  if (replace)
    flags |= G_BUS_NAME_OWNER_FLAGS_REPLACE;
  if (!sm_daemon_connect (daemon, flags, error))
    return FALSE;
  if (system_bus)
    sm_service_separate_users (daemon->service, daemon->connection);
  return TRUE;
}

/* What the command line asks for. */
typedef struct
{
  gboolean system_bus;
  gboolean replace;
  gboolean verbose;
  gboolean version;
  gboolean no_notifications;
  gboolean no_persist;
  char *state_dir; /* (owned) (nullable) */
} SmArgs;

static gboolean
sm_args_parse (SmArgs *args, int *argc, char ***argv, GError **error)
{
  g_autoptr (GOptionContext) context = NULL;
  const GOptionEntry entries[] = {
    { "system", 0, 0, G_OPTION_ARG_NONE, &args->system_bus, N_ ("Serve on the system bus"), NULL },
    { "replace", 'r', 0, G_OPTION_ARG_NONE, &args->replace, N_ ("Replace a running instance"),
      NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &args->verbose, N_ ("Log debug messages"), NULL },
    { "no-notifications", 0, 0, G_OPTION_ARG_NONE, &args->no_notifications,
      N_ ("Do not show desktop notifications"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &args->version, N_ ("Print the version and exit"), NULL },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &args->state_dir,
      N_ ("Keep the state in DIR (default: $XDG_STATE_HOME/session-monitor)"), N_ ("DIR") },
    /* For benchmarks only: measures what persistence costs. */
    { "no-persist", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &args->no_persist, NULL, NULL },
    G_OPTION_ENTRY_NULL,
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _ ("Watches MuSig2 signing deadlines and tells the user "
                                            "and wallet apps in time."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  return g_option_context_parse (context, argc, argv, error);
}

static void
sm_setup_locale (void)
{
  const char *localedir = g_getenv ("SM_LOCALEDIR");

  setlocale (LC_ALL, "");
  /* SM_LOCALEDIR: the tests run translations from the build tree. */
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

int
main (int argc, char **argv)
{
  g_autoptr (SmDaemon) daemon = g_new0 (SmDaemon, 1);
  g_autoptr (GError) error = NULL;
  SmArgs args = { 0 };
  g_autofree char *state_dir = NULL; /* (owned) args.state_dir */
  gboolean parsed;

  /* A large reply (GetSessions at thousands of sessions is megabytes) is
   * built in one buffer. glibc raises its mmap threshold to the size of
   * the first such buffer it frees, after which the next ones come from the
   * heap and their pages stay with the process; a fixed threshold keeps
   * every large buffer in its own mapping, given back when freed. */
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);

  sm_setup_locale ();
  parsed = sm_args_parse (&args, &argc, &argv, &error);
  state_dir = args.state_dir;
  if (!parsed)
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }
  if (args.version)
    {
      g_print ("session-monitor %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }
  if (args.verbose)
    g_log_set_debug_enabled (TRUE);

  /* Registers the error domain before the first reply can need it. */
  (void) SM_ERROR;

  if (!args.no_persist)
    daemon->state_dir = state_dir != NULL
                            ? g_steal_pointer (&state_dir)
                            : g_build_filename (g_get_user_state_dir (), "session-monitor", NULL);

  /* The system bus has no desktop: its clients get the signals only. */
  daemon->notifications = !args.no_notifications && !args.system_bus;
  daemon->loop = g_main_loop_new (NULL, FALSE);
  if (!sm_daemon_start (daemon, args.system_bus, args.replace, &error))
    {
      g_printerr ("%s: %s\n", g_get_prgname (), error->message);
      return EXIT_FAILURE;
    }

  /* A file-size limit (RLIMIT_FSIZE) fails a state write with EFBIG, which
   * the store refuses as StorageFailed, instead of killing the daemon. */
  signal (SIGXFSZ, SIG_IGN);
  g_unix_signal_add (SIGINT, on_quit_signal, daemon);
  g_unix_signal_add (SIGTERM, on_quit_signal, daemon);

  g_main_loop_run (daemon->loop);
  return daemon->exit_status;
}
