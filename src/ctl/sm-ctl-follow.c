/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The presence commands of session-monitorctl and the two that run until
 * interrupted, following the daemon's signals: watch (prints every signal)
 * and presence (owns the presence and refreshes it on each tick). */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl-commands.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

typedef struct _SmCtlFollow SmCtlFollow;

/* A command that follows the daemon: what it does with each signal, and
 * with a daemon that came back after it had gone. */
struct _SmCtlFollow
{
  SmCtl *ctl;
  GMainLoop *loop; /* (owned) */
  guint subscription;
  guint name_watch;
  gboolean vanished;
  void (*handle_signal) (SmCtlFollow *follow, const char *name, GVariant *params);
  void (*handle_back) (SmCtlFollow *follow);
  /* presence only */
  char *wallet; /* (owned) */
  gint64 ttl;
  GVariant *options; /* (owned) */
  char *exec;        /* (owned) (nullable) */
};

static void
sm_ctl_follow_clear (SmCtlFollow *follow)
{
  if (follow->subscription != 0)
    g_dbus_connection_signal_unsubscribe (follow->ctl->connection, follow->subscription);
  g_clear_handle_id (&follow->name_watch, g_bus_unwatch_name);
  g_clear_pointer (&follow->loop, g_main_loop_unref);
  g_clear_pointer (&follow->wallet, g_free);
  g_clear_pointer (&follow->options, g_variant_unref);
  g_clear_pointer (&follow->exec, g_free);
}

/* Printing signals --------------------------------------------------------- */

static char *
arg_key (GDBusSignalInfo *info, gsize i)
{
  if (info != NULL && info->args != NULL && i < g_strv_length ((char **) info->args))
    return g_strdelimit (g_strdup (info->args[i]->name), "_", '-');
  return g_strdup_printf ("arg%" G_GSIZE_FORMAT, i);
}

/* One JSON object per line: the signal, when it came and its arguments. */
static void
print_signal_json (GDBusSignalInfo *info, const char *name, GVariant *params, gint64 now)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  gsize n = g_variant_n_children (params);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "signal");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "received-at");
  json_builder_add_int_value (builder, now);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) value = g_variant_get_child_value (params, i);
      g_autofree char *key = arg_key (info, i);

      json_builder_set_member_name (builder, key);
      json_builder_add_value (builder, json_gvariant_serialize (value));
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  sm_ctl_print_json (root, FALSE);
}

static char *
format_arg (const char *key, GVariant *value, gint64 now)
{
  /* Time stamps read better as times. */
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64)
      && (g_str_has_suffix (key, "-at") || g_str_equal (key, "last-refresh"))
      && g_variant_get_int64 (value) > 0)
    {
      g_autofree char *absolute = sm_ctl_format_absolute (g_variant_get_int64 (value));
      g_autofree char *relative = sm_ctl_format_relative (g_variant_get_int64 (value), now);

      return g_strdup_printf ("%s (%s)", absolute, relative);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_strescape (g_variant_get_string (value, NULL), NULL);
  return g_variant_print (value, FALSE);
}

/* One line: the time, the signal and key=value for each argument. */
static void
print_signal_text (GDBusSignalInfo *info, const char *name, GVariant *params, gint64 now)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (now / 1000);
  g_autofree char *clock = g_date_time_format (dt, "%H:%M:%S");
  g_autoptr (GString) line = g_string_new (NULL);
  gsize n = g_variant_n_children (params);

  g_string_printf (line, "%s.%03d %s", clock, (int) (now % 1000), name);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) value = g_variant_get_child_value (params, i);
      g_autofree char *key = arg_key (info, i);
      g_autofree char *text = format_arg (key, value, now);

      g_string_append_printf (line, " %s=%s", key, text);
    }
  g_print ("%s\n", line->str);
  fflush (stdout);
}

static void
print_signal (SmCtl *ctl, const char *name, GVariant *params)
{
  GDBusSignalInfo *info =
      g_dbus_interface_info_lookup_signal (sm_dbus_session_monitor1_interface_info (), name);

  if (ctl->json)
    print_signal_json (info, name, params, sm_ctl_now_ms ());
  else
    print_signal_text (info, name, params, sm_ctl_now_ms ());
}

/* Following the daemon ------------------------------------------------------ */

static void
on_signal (GDBusConnection *connection G_GNUC_UNUSED,
           const char *sender G_GNUC_UNUSED,
           const char *path G_GNUC_UNUSED,
           const char *interface G_GNUC_UNUSED,
           const char *name,
           GVariant *params,
           gpointer user_data)
{
  SmCtlFollow *follow = user_data;

  follow->handle_signal (follow, name, params);
}

static void
sm_ctl_follow_subscribe (SmCtlFollow *follow)
{
  follow->subscription = g_dbus_connection_signal_subscribe (
      follow->ctl->connection, SM_BUS_NAME, SM_INTERFACE, NULL, SM_OBJECT_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_signal, follow, NULL);
}

static void
on_name_appeared (GDBusConnection *connection G_GNUC_UNUSED,
                  const char *name G_GNUC_UNUSED,
                  const char *owner G_GNUC_UNUSED,
                  gpointer user_data)
{
  SmCtlFollow *follow = user_data;

  if (!follow->vanished)
    return;
  follow->vanished = FALSE;
  follow->handle_back (follow);
}

static void
on_name_vanished (GDBusConnection *connection G_GNUC_UNUSED,
                  const char *name G_GNUC_UNUSED,
                  gpointer user_data)
{
  SmCtlFollow *follow = user_data;

  if (!follow->vanished)
    g_printerr (_ ("session-monitor is not running; waiting for it to start\n"));
  follow->vanished = TRUE;
}

static void
sm_ctl_follow_watch_name (SmCtlFollow *follow)
{
  follow->name_watch = g_bus_watch_name_on_connection (
      follow->ctl->connection, SM_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, on_name_appeared,
      on_name_vanished, follow, NULL);
}

static gboolean
on_interrupt (gpointer user_data)
{
  SmCtlFollow *follow = user_data;

  g_main_loop_quit (follow->loop);
  return G_SOURCE_CONTINUE;
}

/* Runs until SIGINT or SIGTERM. */
static void
sm_ctl_follow_run (SmCtlFollow *follow)
{
  guint sigint = g_unix_signal_add (SIGINT, on_interrupt, follow);
  guint sigterm = g_unix_signal_add (SIGTERM, on_interrupt, follow);

  g_main_loop_run (follow->loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
}

/* watch -------------------------------------------------------------------- */

/* Blocks until the bus has processed our match rules, so no signal sent
 * after the "watching" line is printed can be missed; on the system bus the
 * daemon sends a user's signals only to that user's subscribed connections:
 * makes ours one of them. The replies (or errors) are dropped. */
static void
sync_with_bus (SmCtl *ctl)
{
  GVariant *reply = sm_ctl_call_bus (ctl, "GetId", NULL, NULL);

  g_clear_pointer (&reply, g_variant_unref);
  if (ctl->system_bus)
    reply = g_dbus_connection_call_sync (ctl->connection, SM_BUS_NAME, SM_OBJECT_PATH, SM_INTERFACE,
                                         "Subscribe", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                         -1, NULL, NULL);
  g_clear_pointer (&reply, g_variant_unref);
}

static void
watch_signal (SmCtlFollow *follow, const char *name, GVariant *params)
{
  print_signal (follow->ctl, name, params);
}

/* A restarted daemon knows none of its old listeners: on the system bus,
 * subscribe again (without blocking: signals keep being printed). */
static void
watch_back (SmCtlFollow *follow)
{
  if (follow->ctl->system_bus)
    g_dbus_connection_call (follow->ctl->connection, SM_BUS_NAME, SM_OBJECT_PATH, SM_INTERFACE,
                            "Subscribe", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL,
                            NULL, NULL);
}

int
sm_ctl_cmd_watch (SmCtl *ctl, int argc, char **argv)
{
  SmCtlFollow follow = { .ctl = ctl, .handle_signal = watch_signal, .handle_back = watch_back };
  int code;

  if (!sm_ctl_parse_args (ctl, "watch", NULL,
                          _ ("Prints every signal of the daemon until interrupted; with --json "
                             "one JSON object per line."),
                          NULL, &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_connect (ctl, FALSE, &code))
    return code;

  follow.loop = g_main_loop_new (NULL, FALSE);
  sm_ctl_follow_subscribe (&follow);
  sm_ctl_follow_watch_name (&follow);
  sync_with_bus (ctl);
  g_printerr (_ ("Watching %s on the %s bus (Ctrl+C to stop)\n"), SM_BUS_NAME,
              ctl->system_bus ? "system" : "session");
  sm_ctl_follow_run (&follow);
  sm_ctl_follow_clear (&follow);
  return SM_CTL_EXIT_OK;
}

/* presence ----------------------------------------------------------------- */

static void
on_exec_exited (GPid pid, int status, gpointer user_data G_GNUC_UNUSED)
{
  g_autoptr (GError) error = NULL;

  if (!g_spawn_check_wait_status (status, &error))
    g_printerr (_ ("session-monitorctl presence: --exec command failed: %s\n"), error->message);
  g_spawn_close_pid (pid);
}

static void
run_exec (SmCtlFollow *follow, const char *wallet, gint64 last_refresh)
{
  g_auto (GStrv) envp = g_get_environ ();
  g_autofree char *last = g_strdup_printf ("%" G_GINT64_FORMAT, last_refresh);
  const char *child_argv[] = { "/bin/sh", "-c", follow->exec, NULL };
  g_autoptr (GError) error = NULL;
  GPid pid;

  envp = g_environ_setenv (envp, "SM_WALLET_ADDRESS", wallet, TRUE);
  envp = g_environ_setenv (envp, "SM_LAST_REFRESH", last, TRUE);
  if (!g_spawn_async (NULL, (char **) child_argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid,
                      &error))
    {
      g_printerr (_ ("session-monitorctl presence: cannot run --exec command: %s\n"),
                  error->message);
      return;
    }
  g_child_watch_add (pid, on_exec_exited, NULL);
}

static void
presence_signal (SmCtlFollow *follow, const char *name, GVariant *params)
{
  if (g_str_equal (name, "PresenceRefreshNeeded"))
    {
      const char *wallet;
      gint64 last_refresh;

      g_variant_get (params, "(&sx)", &wallet, &last_refresh);
      /* Another client may have taken the presence over: act only for ours. */
      if (!g_str_equal (wallet, follow->wallet))
        return;
      print_signal (follow->ctl, name, params);
      if (follow->exec != NULL)
        run_exec (follow, wallet, last_refresh);
    }
  else if (g_str_equal (name, "PresenceRefreshed"))
    print_signal (follow->ctl, name, params);
}

static gboolean
update_presence (SmCtlFollow *follow, GError **error)
{
  return sm_dbus_session_monitor1_call_update_presence_sync (
      follow->ctl->proxy, follow->wallet, follow->ttl, follow->options, NULL, error);
}

/* A restarted daemon only knows a stale owner: claim the presence again. */
static void
presence_back (SmCtlFollow *follow)
{
  g_autoptr (GError) error = NULL;

  g_printerr (_ ("session-monitor is back; configuring the presence again\n"));
  if (!update_presence (follow, &error))
    g_printerr ("session-monitorctl presence: %s\n", error->message);
}

/* Leaves the presence alone if someone else owns it by now. */
static void
stop_own_presence (SmCtlFollow *follow)
{
  g_autoptr (GVariant) presence = NULL;
  const char *owner = NULL;

  if (!sm_dbus_session_monitor1_call_get_presence_sync (follow->ctl->proxy, &presence, NULL, NULL))
    return;
  if (g_variant_lookup (presence, "owner", "&s", &owner)
      && g_str_equal (owner, g_dbus_connection_get_unique_name (follow->ctl->connection)))
    sm_dbus_session_monitor1_call_stop_presence_sync (follow->ctl->proxy, NULL, NULL);
}

/* Owns the presence until interrupted, then gives it up. */
static int
own_presence (SmCtlFollow *follow)
{
  g_autoptr (GError) error = NULL;

  follow->loop = g_main_loop_new (NULL, FALSE);
  /* Subscribe first: the first tick comes with UpdatePresence itself. */
  sm_ctl_follow_subscribe (follow);
  if (!update_presence (follow, &error))
    return sm_ctl_fail (follow->ctl, error);
  sm_ctl_follow_watch_name (follow);
  g_printerr (_ ("Owning the presence of %s (Ctrl+C to stop)\n"), follow->wallet);
  sm_ctl_follow_run (follow);
  stop_own_presence (follow);
  return SM_CTL_EXIT_OK;
}

int
sm_ctl_cmd_presence (SmCtl *ctl, int argc, char **argv)
{
  g_autofree char *wallet = NULL, *ttl = NULL, *nickname = NULL, *avatar = NULL, *peer = NULL;
  g_autofree char *exec = NULL;
  const GOptionEntry entries[] = {
    { "wallet", 'w', 0, G_OPTION_ARG_STRING, &wallet, N_ ("Wallet address to advertise"),
      N_ ("ADDRESS") },
    { "ttl", 0, 0, G_OPTION_ARG_STRING, &ttl,
      N_ ("Lifetime of an advertisement (10s to 7d; refreshed every 40 %)"), N_ ("DURATION") },
    { "nickname", 0, 0, G_OPTION_ARG_STRING, &nickname, N_ ("Nickname"), N_ ("NAME") },
    { "avatar", 0, 0, G_OPTION_ARG_STRING, &avatar, N_ ("Avatar"), N_ ("AVATAR") },
    { "peer-id", 0, 0, G_OPTION_ARG_STRING, &peer, N_ ("Peer id"), N_ ("PEER_ID") },
    { "exec", 'x', 0, G_OPTION_ARG_STRING, &exec,
      N_ ("Run CMD (with /bin/sh) on each refresh; it gets SM_WALLET_ADDRESS and "
          "SM_LAST_REFRESH"),
      N_ ("CMD") },
    G_OPTION_ENTRY_NULL,
  };
  SmCtlFollow follow = { .ctl = ctl,
                         .handle_signal = presence_signal,
                         .handle_back = presence_back };
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_parse_args (ctl, "presence", NULL,
                          _ ("Configures the presence refresh and owns it until interrupted "
                             "(the daemon refreshes only while its owner is connected)."),
                          entries, &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (wallet == NULL || ttl == NULL)
    {
      g_printerr (_ ("session-monitorctl presence: --wallet and --ttl are required\n"));
      return SM_CTL_EXIT_USAGE;
    }
  if (!sm_ctl_parse_duration (ttl, &follow.ttl, &error))
    {
      g_printerr ("session-monitorctl presence: --ttl: %s\n", error->message);
      return SM_CTL_EXIT_USAGE;
    }
  if (!sm_ctl_connect (ctl, TRUE, &code))
    return code;

  sm_ctl_add_string_option (&options, "nickname", nickname);
  sm_ctl_add_string_option (&options, "avatar", avatar);
  sm_ctl_add_string_option (&options, "peer-id", peer);
  follow.options = g_variant_ref_sink (g_variant_builder_end (&options));
  follow.wallet = g_steal_pointer (&wallet);
  follow.exec = g_steal_pointer (&exec);
  code = own_presence (&follow);
  sm_ctl_follow_clear (&follow);
  return code;
}

/* stop-presence ------------------------------------------------------------ */

int
sm_ctl_cmd_stop_presence (SmCtl *ctl, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_parse_args (ctl, "stop-presence", NULL, _ ("Stops presence management."), NULL, &argc,
                          &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_connect (ctl, TRUE, &code))
    return code;
  if (!sm_dbus_session_monitor1_call_stop_presence_sync (ctl->proxy, NULL, &error))
    return sm_ctl_fail (ctl, error);
  if (ctl->json)
    sm_ctl_print_json_object ("stopped", g_variant_new_boolean (TRUE), NULL);
  else
    g_print (_ ("Presence stopped.\n"));
  return SM_CTL_EXIT_OK;
}
