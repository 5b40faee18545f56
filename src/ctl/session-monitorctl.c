/* SPDX-License-Identifier: GPL-3.0-or-later */

/* session-monitorctl: a thin command-line client of the public D-Bus API,
 * for scripts and for people (see session-monitorctl(1)). */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
sm_ctl_connect (SmCtl *ctl, gboolean auto_start, int *out_exit)
{
  g_autoptr (GError) error = NULL;
  GDBusProxyFlags flags = G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES;

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

static gboolean
parse_expiry (const char *expires_in, const char *expires_at, gint64 *out_ms, int *out_exit)
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

static void
add_string_option (GVariantBuilder *builder, const char *key, const char *value)
{
  if (value != NULL)
    g_variant_builder_add (builder, "{sv}", key, g_variant_new_string (value));
}

static gboolean
need_one_arg (int argc, const char *what, const char *command, int *out_exit)
{
  if (argc == 2)
    return TRUE;
  g_printerr (argc < 2 ? _ ("session-monitorctl %s: missing %s\n")
                       : _ ("session-monitorctl %s: expected only one %s\n"),
              command, what);
  *out_exit = SM_CTL_EXIT_USAGE;
  return FALSE;
}

/* register / unregister ---------------------------------------------------- */

static gboolean
parse_thresholds (const char *text, GVariantBuilder *options, int *out_exit)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  GVariantBuilder list;
  gsize i;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("ax"));
  for (i = 0; parts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 ms;

      if (!sm_ctl_parse_duration (g_strstrip (parts[i]), &ms, &error))
        {
          g_printerr ("session-monitorctl register: --thresholds: %s\n", error->message);
          g_variant_builder_clear (&list);
          *out_exit = SM_CTL_EXIT_USAGE;
          return FALSE;
        }
      g_variant_builder_add (&list, "x", ms);
    }
  g_variant_builder_add (options, "{sv}", "warn-thresholds", g_variant_builder_end (&list));
  return TRUE;
}

static gboolean
parse_metadata (char **pairs, GVariantBuilder *options, int *out_exit)
{
  GVariantBuilder dict;

  g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
  for (; pairs != NULL && *pairs != NULL; pairs++)
    {
      const char *eq = strchr (*pairs, '=');
      g_autofree char *key = NULL;

      if (eq == NULL || eq == *pairs)
        {
          g_printerr (_ ("session-monitorctl register: --metadata wants KEY=VALUE, not “%s”\n"),
                      *pairs);
          g_variant_builder_clear (&dict);
          *out_exit = SM_CTL_EXIT_USAGE;
          return FALSE;
        }
      key = g_strndup (*pairs, (gsize) (eq - *pairs));
      g_variant_builder_add (&dict, "{sv}", key, g_variant_new_string (eq + 1));
    }
  g_variant_builder_add (options, "{sv}", "metadata", g_variant_builder_end (&dict));
  return TRUE;
}

static int
cmd_register (SmCtl *ctl, int argc, char **argv)
{
  g_autofree char *expires_in = NULL, *expires_at = NULL, *type = NULL, *thresholds = NULL;
  g_autofree char *app_id = NULL, *url = NULL;
  g_auto (GStrv) metadata = NULL;
  int warn_before = -1;
  const GOptionEntry entries[] = {
    { "expires-in", 'e', 0, G_OPTION_ARG_STRING, &expires_in,
      N_ ("Expire after DURATION (90s, 10m, 1h30m)"), N_ ("DURATION") },
    { "expires-at", 0, 0, G_OPTION_ARG_STRING, &expires_at, N_ ("Expire at an ISO 8601 time"),
      N_ ("TIME") },
    { "type", 't', 0, G_OPTION_ARG_STRING, &type, N_ ("Session type (default: signing)"),
      N_ ("TYPE") },
    { "thresholds", 0, 0, G_OPTION_ARG_STRING, &thresholds,
      N_ ("Warn this long before expiry (default: 10m,5m,2m,1m)"), N_ ("D1,D2,...") },
    { "warn-before-minutes", 0, 0, G_OPTION_ARG_INT, &warn_before,
      N_ ("Show notifications only for warnings at most this many minutes ahead"), N_ ("N") },
    { "metadata", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &metadata,
      N_ ("Store KEY=VALUE with the session (repeatable)"), N_ ("KEY=VALUE") },
    { "app-id", 0, 0, G_OPTION_ARG_STRING, &app_id, N_ ("Desktop id of the wallet app"),
      N_ ("ID") },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url, N_ ("Route handed back on a click"), N_ ("URL") },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  GVariantBuilder options;
  gint64 when;
  int code;

  if (!sm_ctl_parse_args (ctl, "register", N_ ("SESSION_ID"),
                          _ ("Starts (or replaces) the monitoring of a session."), entries, &argc,
                          &argv))
    return SM_CTL_EXIT_USAGE;
  if (!need_one_arg (argc, _ ("SESSION_ID"), "register", &code)
      || !parse_expiry (expires_in, expires_at, &when, &code))
    return code;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  add_string_option (&options, "session-type", type);
  add_string_option (&options, "app-id", app_id);
  add_string_option (&options, "url", url);
  if (warn_before >= 0)
    g_variant_builder_add (&options, "{sv}", "warn-before-minutes",
                           g_variant_new_uint32 ((guint32) warn_before));
  if ((thresholds != NULL && !parse_thresholds (thresholds, &options, &code))
      || (metadata != NULL && !parse_metadata (metadata, &options, &code)))
    {
      g_variant_builder_clear (&options);
      return code;
    }

  if (!sm_ctl_connect (ctl, TRUE, &code))
    {
      g_variant_builder_clear (&options);
      return code;
    }
  if (!sm_dbus_session_monitor1_call_register_session_sync (
          ctl->proxy, argv[1], when, g_variant_builder_end (&options), NULL, &error))
    return sm_ctl_fail (ctl, error);

  if (ctl->json)
    sm_ctl_print_json_object ("session-id", g_variant_new_string (argv[1]), "expires-at",
                              g_variant_new_int64 (when), NULL);
  else
    {
      g_autofree char *expires = sm_ctl_describe_time (when, sm_ctl_now_ms ());

      g_print (_ ("Registered session %s, expires %s.\n"), argv[1], expires);
    }
  return SM_CTL_EXIT_OK;
}

static int
cmd_unregister (SmCtl *ctl, int argc, char **argv)
{
  g_autofree char *reason = NULL;
  const GOptionEntry entries[] = {
    { "reason", 'r', 0, G_OPTION_ARG_STRING, &reason,
      N_ ("Why (completed, aborted, cancelled...; default: unregistered)"), N_ ("REASON") },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_parse_args (ctl, "unregister", N_ ("SESSION_ID"),
                          _ ("Stops the monitoring of a session."), entries, &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!need_one_arg (argc, _ ("SESSION_ID"), "unregister", &code)
      || !sm_ctl_connect (ctl, TRUE, &code))
    return code;
  if (!sm_dbus_session_monitor1_call_unregister_session_sync (
          ctl->proxy, argv[1], reason != NULL ? reason : "", NULL, &error))
    return sm_ctl_fail (ctl, error);
  if (ctl->json)
    sm_ctl_print_json_object ("session-id", g_variant_new_string (argv[1]), "reason",
                              g_variant_new_string (reason != NULL ? reason : ""), NULL);
  else
    g_print (_ ("Unregistered session %s.\n"), argv[1]);
  return SM_CTL_EXIT_OK;
}

/* signing requests --------------------------------------------------------- */

static int
cmd_request (SmCtl *ctl, int argc, char **argv)
{
  g_autofree char *session = NULL, *from = NULL, *expires_in = NULL, *expires_at = NULL;
  g_autofree char *nickname = NULL, *amount = NULL, *purpose = NULL, *app_id = NULL, *url = NULL;
  const GOptionEntry entries[] = {
    { "session", 's', 0, G_OPTION_ARG_STRING, &session, N_ ("Session the request belongs to"),
      N_ ("SESSION_ID") },
    { "from", 'f', 0, G_OPTION_ARG_STRING, &from, N_ ("Peer id of the requester"), N_ ("PEER_ID") },
    { "expires-in", 'e', 0, G_OPTION_ARG_STRING, &expires_in,
      N_ ("Expire after DURATION (90s, 10m, 1h30m)"), N_ ("DURATION") },
    { "expires-at", 0, 0, G_OPTION_ARG_STRING, &expires_at, N_ ("Expire at an ISO 8601 time"),
      N_ ("TIME") },
    { "nickname", 0, 0, G_OPTION_ARG_STRING, &nickname, N_ ("Requester's nickname"), N_ ("NAME") },
    { "amount", 0, 0, G_OPTION_ARG_STRING, &amount, N_ ("Amount shown to the user"),
      N_ ("AMOUNT") },
    { "purpose", 0, 0, G_OPTION_ARG_STRING, &purpose, N_ ("Purpose shown to the user"),
      N_ ("TEXT") },
    { "app-id", 0, 0, G_OPTION_ARG_STRING, &app_id, N_ ("Desktop id of the wallet app"),
      N_ ("ID") },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url, N_ ("Route handed back on a click"), N_ ("URL") },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  GVariantBuilder options;
  gint64 when;
  int code;

  if (!sm_ctl_parse_args (ctl, "request", N_ ("REQUEST_ID"),
                          _ ("Tracks an incoming signing request (shows a notification)."), entries,
                          &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!need_one_arg (argc, _ ("REQUEST_ID"), "request", &code)
      || !parse_expiry (expires_in, expires_at, &when, &code))
    return code;
  if (session == NULL || from == NULL)
    {
      g_printerr (_ ("session-monitorctl request: --session and --from are required\n"));
      return SM_CTL_EXIT_USAGE;
    }

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  add_string_option (&options, "from-nickname", nickname);
  add_string_option (&options, "amount", amount);
  add_string_option (&options, "purpose", purpose);
  add_string_option (&options, "app-id", app_id);
  add_string_option (&options, "url", url);
  if (!sm_ctl_connect (ctl, TRUE, &code))
    {
      g_variant_builder_clear (&options);
      return code;
    }
  if (!sm_dbus_session_monitor1_call_register_signing_request_sync (
          ctl->proxy, argv[1], session, from, when, g_variant_builder_end (&options), NULL, &error))
    return sm_ctl_fail (ctl, error);
  if (ctl->json)
    sm_ctl_print_json_object ("request-id", g_variant_new_string (argv[1]), "session-id",
                              g_variant_new_string (session), "expires-at",
                              g_variant_new_int64 (when), NULL);
  else
    {
      g_autofree char *expires = sm_ctl_describe_time (when, sm_ctl_now_ms ());

      g_print (_ ("Registered signing request %s, expires %s.\n"), argv[1], expires);
    }
  return SM_CTL_EXIT_OK;
}

static int
cmd_unregister_request (SmCtl *ctl, int argc, char **argv)
{
  g_autofree char *reason = NULL;
  const GOptionEntry entries[] = {
    { "reason", 'r', 0, G_OPTION_ARG_STRING, &reason,
      N_ ("accepted, rejected, expired or cancelled"), N_ ("REASON") },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_parse_args (ctl, "unregister-request", N_ ("REQUEST_ID"),
                          _ ("Stops tracking a signing request and withdraws its notification."),
                          entries, &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!need_one_arg (argc, _ ("REQUEST_ID"), "unregister-request", &code)
      || !sm_ctl_connect (ctl, TRUE, &code))
    return code;
  if (!sm_dbus_session_monitor1_call_unregister_signing_request_sync (
          ctl->proxy, argv[1], reason != NULL ? reason : "", NULL, &error))
    return sm_ctl_fail (ctl, error);
  if (ctl->json)
    sm_ctl_print_json_object ("request-id", g_variant_new_string (argv[1]), "reason",
                              g_variant_new_string (reason != NULL ? reason : ""), NULL);
  else
    g_print (_ ("Unregistered signing request %s.\n"), argv[1]);
  return SM_CTL_EXIT_OK;
}

/* presence / status -------------------------------------------------------- */

static int
cmd_stop_presence (SmCtl *ctl, int argc, char **argv)
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

/* main --------------------------------------------------------------------- */

typedef struct
{
  const char *name;
  int (*run) (SmCtl *ctl, int argc, char **argv);
  const char *summary;
} SmCtlCommand;

static const SmCtlCommand commands[] = {
  { "list", sm_ctl_cmd_list, N_ ("List sessions, signing requests and presence") },
  { "register", cmd_register, N_ ("Monitor a session: register ID --expires-in 10m") },
  { "unregister", cmd_unregister, N_ ("Stop monitoring a session") },
  { "request", cmd_request, N_ ("Track a signing request") },
  { "unregister-request", cmd_unregister_request, N_ ("Stop tracking a signing request") },
  { "presence", sm_ctl_cmd_presence, N_ ("Own the presence and refresh it until interrupted") },
  { "stop-presence", cmd_stop_presence, N_ ("Stop presence management") },
  { "watch", sm_ctl_cmd_watch, N_ ("Print every signal until interrupted") },
  { "status", sm_ctl_cmd_status, N_ ("Tell whether the daemon runs and what it monitors") },
};

static void
print_usage (FILE *out)
{
  gsize i;

  fprintf (out, "%s",
           _ ("Usage:\n  session-monitorctl [--system] [--json] COMMAND [ARGS...]\n\n"
              "Commands:\n"));
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-20s %s\n", commands[i].name, _ (commands[i].summary));
  fprintf (out, "%s",
           _ ("\nOptions:\n  --system    talk to the daemon on the system bus\n"
              "  --json      print JSON\n  --version   print the version\n\n"
              "“session-monitorctl COMMAND --help” describes a command.\n"));
}

int
main (int argc, char **argv)
{
  SmCtl ctl = { 0 };
  const SmCtlCommand *command = NULL;
  int first = 1, code;
  gsize j;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Global options may come before the command; the command parses the rest. */
  for (; first < argc && argv[first][0] == '-'; first++)
    {
      if (g_str_equal (argv[first], "--json") || g_str_equal (argv[first], "-j"))
        ctl.json = TRUE;
      else if (g_str_equal (argv[first], "--system"))
        ctl.system_bus = TRUE;
      else if (g_str_equal (argv[first], "--version"))
        {
          g_print ("session-monitorctl %s\n", PACKAGE_VERSION);
          return SM_CTL_EXIT_OK;
        }
      else if (g_str_equal (argv[first], "--help") || g_str_equal (argv[first], "-h"))
        {
          print_usage (stdout);
          return SM_CTL_EXIT_OK;
        }
      else
        {
          g_printerr (_ ("session-monitorctl: unknown option “%s”\n"), argv[first]);
          print_usage (stderr);
          return SM_CTL_EXIT_USAGE;
        }
    }
  if (first >= argc)
    {
      print_usage (stderr);
      return SM_CTL_EXIT_USAGE;
    }
  for (j = 0; j < G_N_ELEMENTS (commands); j++)
    if (g_str_equal (argv[first], commands[j].name))
      command = &commands[j];
  if (command == NULL)
    {
      g_printerr (_ ("session-monitorctl: unknown command “%s”\n"), argv[first]);
      print_usage (stderr);
      return SM_CTL_EXIT_USAGE;
    }

  /* The command parses its own options and sees its name as argv[0]. */
  code = command->run (&ctl, argc - first, argv + first);

  g_clear_object (&ctl.proxy);
  g_clear_object (&ctl.connection);
  return code;
}
