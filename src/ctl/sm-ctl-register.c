/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The commands of session-monitorctl that register and unregister what the
 * daemon monitors: sessions and signing requests. */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl-commands.h"

#include <glib/gi18n.h>
#include <string.h>

/* What register and request send to the daemon. */
typedef struct
{
  const char *id;
  const char *session_id; /* request only */
  const char *from;       /* request only: NULL for a session */
  gint64 when;
  GVariantBuilder *options; /* ended by the call */
} Registration;

static gboolean
call_register (SmCtl *ctl, const Registration *r, GError **error)
{
  if (r->from == NULL)
    return sm_dbus_session_monitor1_call_register_session_sync (
        ctl->proxy, r->id, r->when, g_variant_builder_end (r->options), NULL, error);
  return sm_dbus_session_monitor1_call_register_signing_request_sync (
      ctl->proxy, r->id, r->session_id, r->from, r->when, g_variant_builder_end (r->options), NULL,
      error);
}

static void
print_registration (SmCtl *ctl, const Registration *r)
{
  g_autofree char *expires = NULL;

  if (ctl->json && r->from == NULL)
    sm_ctl_print_json_object ("session-id", g_variant_new_string (r->id), "expires-at",
                              g_variant_new_int64 (r->when), NULL);
  else if (ctl->json)
    sm_ctl_print_json_object ("request-id", g_variant_new_string (r->id), "session-id",
                              g_variant_new_string (r->session_id), "expires-at",
                              g_variant_new_int64 (r->when), NULL);
  else
    {
      expires = sm_ctl_describe_time (r->when, sm_ctl_now_ms ());
      g_print (r->from == NULL ? _ ("Registered session %s, expires %s.\n")
                               : _ ("Registered signing request %s, expires %s.\n"),
               r->id, expires);
    }
}

/* Connects, registers and says so. */
static int
send_registration (SmCtl *ctl, const Registration *r)
{
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_connect (ctl, TRUE, &code))
    return code;
  if (!call_register (ctl, r, &error))
    return sm_ctl_fail (ctl, error);
  print_registration (ctl, r);
  return SM_CTL_EXIT_OK;
}

/* @entries (ending in G_OPTION_ENTRY_NULL) followed by --app-id and --url,
 * which register and request both take, last. */
static GOptionEntry *
with_route_options (const GOptionEntry *entries, char **app_id, char **url)
{
  const GOptionEntry route[] = {
    { "app-id", 0, 0, G_OPTION_ARG_STRING, app_id, N_ ("Desktop id of the wallet app"), N_ ("ID") },
    { "url", 0, 0, G_OPTION_ARG_STRING, url, N_ ("Route handed back on a click"), N_ ("URL") },
    G_OPTION_ENTRY_NULL,
  };
  gsize n = 0;
  GOptionEntry *all;

  while (entries[n].long_name != NULL)
    n++;
  all = g_new (GOptionEntry, n + G_N_ELEMENTS (route));
  memcpy (all, entries, n * sizeof *entries);
  memcpy (all + n, route, sizeof route);
  return all;
}

/* register ----------------------------------------------------------------- */

static gboolean
parse_thresholds (const char *text, GVariantBuilder *options, int *out_exit)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  g_auto (GVariantBuilder) list = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("ax"));

  for (gsize i = 0; parts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 ms;

      if (!sm_ctl_parse_duration (g_strstrip (parts[i]), &ms, &error))
        {
          g_printerr ("session-monitorctl register: --thresholds: %s\n", error->message);
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
  g_auto (GVariantBuilder) dict = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  for (; pairs != NULL && *pairs != NULL; pairs++)
    {
      const char *eq = strchr (*pairs, '=');
      g_autofree char *key = NULL;

      if (eq == NULL || eq == *pairs)
        {
          g_printerr (_ ("session-monitorctl register: --metadata wants KEY=VALUE, not “%s”\n"),
                      *pairs);
          *out_exit = SM_CTL_EXIT_USAGE;
          return FALSE;
        }
      key = g_strndup (*pairs, (gsize) (eq - *pairs));
      g_variant_builder_add (&dict, "{sv}", key, g_variant_new_string (eq + 1));
    }
  g_variant_builder_add (options, "{sv}", "metadata", g_variant_builder_end (&dict));
  return TRUE;
}

int
sm_ctl_cmd_register (SmCtl *ctl, int argc, char **argv)
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
    G_OPTION_ENTRY_NULL,
  };
  g_autofree GOptionEntry *all = with_route_options (entries, &app_id, &url);
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  Registration r = { 0 };
  int code;

  if (!sm_ctl_parse_args (ctl, "register", N_ ("SESSION_ID"),
                          _ ("Starts (or replaces) the monitoring of a session."), all, &argc,
                          &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_need_one_arg (argc, _ ("SESSION_ID"), "register", &code)
      || !sm_ctl_parse_expiry (expires_in, expires_at, &r.when, &code))
    return code;
  sm_ctl_add_string_option (&options, "session-type", type);
  sm_ctl_add_string_option (&options, "app-id", app_id);
  sm_ctl_add_string_option (&options, "url", url);
  if (warn_before >= 0)
    g_variant_builder_add (&options, "{sv}", "warn-before-minutes",
                           g_variant_new_uint32 ((guint32) warn_before));
  if ((thresholds != NULL && !parse_thresholds (thresholds, &options, &code))
      || (metadata != NULL && !parse_metadata (metadata, &options, &code)))
    return code;
  r.id = argv[1];
  r.options = &options;
  return send_registration (ctl, &r);
}

/* request ------------------------------------------------------------------ */

int
sm_ctl_cmd_request (SmCtl *ctl, int argc, char **argv)
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
    G_OPTION_ENTRY_NULL,
  };
  g_autofree GOptionEntry *all = with_route_options (entries, &app_id, &url);
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  Registration r = { 0 };
  int code;

  if (!sm_ctl_parse_args (ctl, "request", N_ ("REQUEST_ID"),
                          _ ("Tracks an incoming signing request (shows a notification)."), all,
                          &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_need_one_arg (argc, _ ("REQUEST_ID"), "request", &code)
      || !sm_ctl_parse_expiry (expires_in, expires_at, &r.when, &code))
    return code;
  if (session == NULL || from == NULL)
    {
      g_printerr (_ ("session-monitorctl request: --session and --from are required\n"));
      return SM_CTL_EXIT_USAGE;
    }
  sm_ctl_add_string_option (&options, "from-nickname", nickname);
  sm_ctl_add_string_option (&options, "amount", amount);
  sm_ctl_add_string_option (&options, "purpose", purpose);
  sm_ctl_add_string_option (&options, "app-id", app_id);
  sm_ctl_add_string_option (&options, "url", url);
  r.id = argv[1];
  r.session_id = session;
  r.from = from;
  r.options = &options;
  return send_registration (ctl, &r);
}

/* unregister, unregister-request ------------------------------------------ */

typedef gboolean (*UnregisterCall) (SmDBusSessionMonitor1 *proxy,
                                    const char *id,
                                    const char *reason,
                                    GCancellable *cancellable,
                                    GError **error);

/* What tells the two unregister commands apart. */
typedef struct
{
  const char *command;
  const char *parameter;   /* translatable */
  const char *summary;     /* translatable */
  const char *reason_help; /* translatable */
  const char *id_key;      /* in the JSON output */
  const char *done;        /* translatable, a format with the id */
  UnregisterCall call;
} Unregister;

static const Unregister unregister_session = {
  "unregister",
  N_ ("SESSION_ID"),
  N_ ("Stops the monitoring of a session."),
  N_ ("Why (completed, aborted, cancelled...; default: unregistered)"),
  "session-id",
  N_ ("Unregistered session %s.\n"),
  sm_dbus_session_monitor1_call_unregister_session_sync,
};

static const Unregister unregister_request = {
  "unregister-request",
  N_ ("REQUEST_ID"),
  N_ ("Stops tracking a signing request and withdraws its notification."),
  N_ ("accepted, rejected, expired or cancelled"),
  "request-id",
  N_ ("Unregistered signing request %s.\n"),
  sm_dbus_session_monitor1_call_unregister_signing_request_sync,
};

static int
run_unregister (const Unregister *what, SmCtl *ctl, int argc, char **argv)
{
  g_autofree char *reason = NULL;
  const GOptionEntry entries[] = {
    { "reason", 'r', 0, G_OPTION_ARG_STRING, &reason, what->reason_help, N_ ("REASON") },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_parse_args (ctl, what->command, what->parameter, _ (what->summary), entries, &argc,
                          &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_need_one_arg (argc, _ (what->parameter), what->command, &code)
      || !sm_ctl_connect (ctl, TRUE, &code))
    return code;
  if (!what->call (ctl->proxy, argv[1], reason != NULL ? reason : "", NULL, &error))
    return sm_ctl_fail (ctl, error);
  if (ctl->json)
    sm_ctl_print_json_object (what->id_key, g_variant_new_string (argv[1]), "reason",
                              g_variant_new_string (reason != NULL ? reason : ""), NULL);
  else
    g_print (_ (what->done), argv[1]);
  return SM_CTL_EXIT_OK;
}

int
sm_ctl_cmd_unregister (SmCtl *ctl, int argc, char **argv)
{
  return run_unregister (&unregister_session, ctl, argc, argv);
}

int
sm_ctl_cmd_unregister_request (SmCtl *ctl, int argc, char **argv)
{
  return run_unregister (&unregister_request, ctl, argc, argv);
}
