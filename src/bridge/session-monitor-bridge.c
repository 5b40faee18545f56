/* SPDX-License-Identifier: GPL-3.0-or-later */
/* session-monitor-bridge: the native-messaging host a browser starts for a
 * web wallet. It speaks the wallet's own service-worker protocol
 * ({type, payload} messages, optional id) in native-messaging frames on
 * stdin/stdout, and the daemon's D-Bus API through the generated proxy. One
 * bridge per browser port; its bus connection owns the presence it
 * configures, so closing the port (stdin EOF) lets that presence lapse.
 *
 * main() and the D-Bus side; the messages in are in sm-bridge-input.c (and
 * the calls they make in sm-bridge-call.c), the events out in
 * sm-bridge-event.c, the sending in sm-bridge.c. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "config.h"

#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include "sm-bridge-event.h"
#include "sm-bridge-input.h"
#include "sm-bridge.h"
#include "sm-names.h"

/* The daemon's signals, passed on as events. */
static void
on_daemon_signal (GDBusProxy *proxy G_GNUC_UNUSED,
                  const char *sender G_GNUC_UNUSED,
                  const char *name,
                  GVariant *parameters,
                  gpointer user_data)
{
  SmBridge *bridge = user_data;
  JsonNode *message = sm_bridge_event_from_signal (name, parameters);

  if (message != NULL)
    sm_bridge_send (bridge, message);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  SmBridge *bridge = user_data;

  sm_bridge_quit (bridge, 0);
  return G_SOURCE_CONTINUE;
}

/* FALSE with *out_exit when there is nothing more to do. */
static gboolean
parse_options (int *argc, char ***argv, int *out_exit)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = NULL;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };

  /* Browsers pass the caller's origin (and on Windows a window handle) as
   * arguments; they are not options of ours. */
  context = g_option_context_new ("[ORIGIN]");
  g_option_context_set_summary (context,
                                "Native-messaging host: connects a web wallet's browser extension "
                                "to session-monitor. Started by the browser, not by hand.");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_ignore_unknown_options (context, TRUE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("session-monitor-bridge: %s\n", error->message);
      *out_exit = 2;
      return FALSE;
    }
  if (version)
    {
      g_print ("session-monitor-bridge %s\n", PACKAGE_VERSION);
      *out_exit = 0;
      return FALSE;
    }
  return TRUE;
}

/* The proxy for the daemon, its signals connected to @bridge. */
static gboolean
connect_daemon (SmBridge *bridge, GDBusConnection **out_connection)
{
  g_autoptr (GError) error = NULL;

  *out_connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (*out_connection == NULL)
    {
      g_printerr ("session-monitor-bridge: cannot connect to the session bus: %s\n",
                  error->message);
      return FALSE;
    }
  bridge->proxy = sm_dbus_session_monitor1_proxy_new_sync (
      *out_connection, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES, SM_BUS_NAME, SM_OBJECT_PATH, NULL,
      &error);
  if (bridge->proxy == NULL)
    {
      g_printerr ("session-monitor-bridge: %s\n", error->message);
      return FALSE;
    }
  g_signal_connect (bridge->proxy, "g-signal", G_CALLBACK (on_daemon_signal), bridge);
  /* A no-op on the session bus, but it starts the daemon by D-Bus activation
   * if it is not running, so its signals reach this bridge from the start. */
  if (!sm_dbus_session_monitor1_call_subscribe_sync (bridge->proxy, NULL, &error))
    g_printerr ("session-monitor-bridge: the daemon does not answer yet: %s\n", error->message);
  return TRUE;
}

/* Serves the browser until it closes the port or we are told to stop. */
static void
run (SmBridge *bridge)
{
  bridge->loop = g_main_loop_new (NULL, FALSE);
  bridge->reader = sm_bridge_frame_reader_new ();
  bridge->stdin_watch =
      g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, sm_bridge_input_on_stdin, bridge);
  bridge->sigterm_watch = g_unix_signal_add (SIGTERM, on_quit_signal, bridge);
  bridge->sigint_watch = g_unix_signal_add (SIGINT, on_quit_signal, bridge);

  g_main_loop_run (bridge->loop);

  g_clear_handle_id (&bridge->stdin_watch, g_source_remove);
  g_clear_handle_id (&bridge->sigterm_watch, g_source_remove);
  g_clear_handle_id (&bridge->sigint_watch, g_source_remove);
  g_signal_handlers_disconnect_by_data (bridge->proxy, bridge);
  g_clear_object (&bridge->proxy);
  g_clear_pointer (&bridge->reader, sm_bridge_frame_reader_free);
  g_clear_pointer (&bridge->loop, g_main_loop_unref);
}

int
main (int argc, char **argv)
{
  g_autoptr (GDBusConnection) connection = NULL;
  SmBridge bridge = { 0 };
  int code;

  if (!parse_options (&argc, &argv, &code))
    return code;
  /* A browser that goes away closes our stdout: report it, do not die of it. */
  signal (SIGPIPE, SIG_IGN);

  if (!connect_daemon (&bridge, &connection))
    return 1;
  run (&bridge);
  /* Flush anything queued so the daemon sees our calls before we leave. */
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  return bridge.exit_code;
}
