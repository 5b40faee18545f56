/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The helpers every command of session-monitorctl shares: option parsing,
 * the connection and proxy, error reporting and printing. */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl.h"
#include "sm-error.h"

#include <glib/gi18n.h>

void
sm_ctl_clear (SmCtl *ctl)
{
  g_clear_object (&ctl->proxy);
  g_clear_object (&ctl->connection);
}

gboolean
sm_ctl_parse_args (SmCtl *ctl,
                   const char *command,
                   const char *parameters,
                   const char *summary,
                   const GOptionEntry *entries,
                   int *argc,
                   char ***argv)
{
  const GOptionEntry common[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &ctl->json, N_ ("Print JSON"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &ctl->system_bus,
      N_ ("Talk to the daemon on the system bus"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) context = g_option_context_new (parameters);
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("session-monitorctl %s", command);

  g_set_prgname (prgname);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, common, GETTEXT_PACKAGE);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      g_printerr ("session-monitorctl %s: %s\n", command, error->message);
      g_printerr (_ ("Try “session-monitorctl %s --help”.\n"), command);
      return FALSE;
    }
  return TRUE;
}

gboolean
sm_ctl_need_one_arg (int argc, const char *what, const char *command, int *out_exit)
{
  if (argc == 2)
    return TRUE;
  g_printerr (argc < 2 ? _ ("session-monitorctl %s: missing %s\n")
                       : _ ("session-monitorctl %s: expected only one %s\n"),
              command, what);
  *out_exit = SM_CTL_EXIT_USAGE;
  return FALSE;
}

gboolean
sm_ctl_parse_expiry (const char *expires_in, const char *expires_at, gint64 *out_ms, int *out_exit)
{
  g_autoptr (GError) error = NULL;
  gint64 value;

  if ((expires_in == NULL) == (expires_at == NULL))
    {
      g_printerr (_ ("session-monitorctl: give exactly one of --expires-in and --expires-at\n"));
      *out_exit = SM_CTL_EXIT_USAGE;
      return FALSE;
    }
  if (expires_in != NULL ? !sm_ctl_parse_duration (expires_in, &value, &error)
                         : !sm_ctl_parse_time (expires_at, &value, &error))
    {
      g_printerr ("session-monitorctl: %s\n", error->message);
      *out_exit = SM_CTL_EXIT_USAGE;
      return FALSE;
    }
  *out_ms = expires_in != NULL ? sm_ctl_now_ms () + value : value;
  return TRUE;
}

void
sm_ctl_add_string_option (GVariantBuilder *builder, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_builder_add (builder, "{sv}", key, g_variant_new_string (value));
}

gboolean
sm_ctl_connect (SmCtl *ctl, gboolean auto_start, int *out_exit)
{
  g_autoptr (GError) error = NULL;
  GDBusProxyFlags flags = G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES;

  /* With the domain registered, the daemon's errors arrive as SM_ERROR codes. */
  (void) sm_error_quark ();
  ctl->connection =
      g_bus_get_sync (ctl->system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);
  if (ctl->connection == NULL)
    {
      g_printerr (_ ("session-monitorctl: cannot connect to the %s: %s\n"),
                  ctl->system_bus ? _ ("system bus") : _ ("session bus"), error->message);
      *out_exit = SM_CTL_EXIT_NOT_RUNNING;
      return FALSE;
    }
  if (!auto_start)
    flags |= G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START;
  ctl->proxy = sm_dbus_session_monitor1_proxy_new_sync (ctl->connection, flags, SM_BUS_NAME,
                                                        SM_OBJECT_PATH, NULL, &error);
  if (ctl->proxy == NULL)
    {
      *out_exit = sm_ctl_fail (ctl, error);
      return FALSE;
    }
  return TRUE;
}

int
sm_ctl_fail (SmCtl *ctl, const GError *error)
{
  g_autofree char *message = NULL;
  SmCtlExit code = sm_ctl_describe_error (error, ctl->system_bus, &message);

  g_printerr ("session-monitorctl: %s\n", message);
  return code;
}

/* The daemon's three Get methods, in one go. */
gboolean
sm_ctl_get_state (SmCtl *ctl,
                  GVariant **out_sessions,
                  GVariant **out_requests,
                  GVariant **out_presence,
                  GError **error)
{
  return sm_dbus_session_monitor1_call_get_sessions_sync (ctl->proxy, out_sessions, NULL, error)
         && sm_dbus_session_monitor1_call_get_signing_requests_sync (ctl->proxy, out_requests, NULL,
                                                                     error)
         && sm_dbus_session_monitor1_call_get_presence_sync (ctl->proxy, out_presence, NULL, error);
}

/* A call to the bus itself (org.freedesktop.DBus) about the daemon's name
 * or for its side effect; NULL when it fails. */
GVariant *
sm_ctl_call_bus (SmCtl *ctl,
                 const char *method,
                 GVariant *parameters,
                 const GVariantType *reply_type)
{
  return g_dbus_connection_call_sync (
      ctl->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      method, parameters, reply_type, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
}

/* Prints {"key": value} built from alternating key/variant pairs (floating
 * variants are consumed); a NULL variant is JSON null. */
void
sm_ctl_print_json_object (const char *first_key, ...)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  const char *key;
  va_list args;

  json_builder_begin_object (builder);
  va_start (args, first_key);
  for (key = first_key; key != NULL; key = va_arg (args, const char *))
    {
      GVariant *value = va_arg (args, GVariant *);

      json_builder_set_member_name (builder, key);
      if (value == NULL)
        {
          json_builder_add_null_value (builder);
          continue;
        }
      json_builder_add_value (builder, json_gvariant_serialize (value));
      g_variant_unref (g_variant_ref_sink (value));
    }
  va_end (args);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  sm_ctl_print_json (root, FALSE);
}

char *
sm_ctl_describe_time (gint64 when_ms, gint64 now_ms)
{
  g_autofree char *relative = sm_ctl_format_relative (when_ms, now_ms);
  g_autofree char *absolute = sm_ctl_format_absolute (when_ms);

  return g_strdup_printf ("%s (%s)", relative, absolute);
}
