/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's signals as the wallet's event messages: each argument under
 * its name in the design, or (NOTIFICATION_CLICK) picked out of a dict. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "sm-bridge-event.h"

#include "sm-bridge-json.h"
#include "sm-bridge.h"

#define MAX_ARGS 4

/* The arguments in order, each under its name in the payload. */
static void
fill_fields (GVariant *parameters, const char *const *fields, JsonObject *payload)
{
  for (gsize i = 0; i < MAX_ARGS && fields[i] != NULL; i++)
    {
      g_autoptr (GVariant) arg = g_variant_get_child_value (parameters, i);

      json_object_set_member (payload, fields[i], sm_bridge_variant_to_json (arg));
    }
}

static void
action_invoked (GVariant *parameters, JsonObject *payload)
{
  g_autoptr (GVariant) data = NULL;
  const char *action, *value;

  g_variant_get (parameters, "(&s@a{sv})", &action, &data);
  json_object_set_string_member (payload, "action", action);
  if (g_variant_lookup (data, "url", "&s", &value))
    json_object_set_string_member (payload, "url", value);
  else
    json_object_set_null_member (payload, "url");
  if (g_variant_lookup (data, "session-id", "&s", &value))
    json_object_set_string_member (payload, "sessionId", value);
  if (g_variant_lookup (data, "request-id", "&s", &value))
    json_object_set_string_member (payload, "requestId", value);
}

static const struct
{
  const char *signal;
  const char *signature;
  const char *type;
  const char *fields[MAX_ARGS]; /* the payload's name for each argument */
  void (*fill) (GVariant *parameters, JsonObject *payload); /* instead of fields */
} events[] = {
  { "SessionExpiring",
    "(sxus)",
    "SESSION_EXPIRING",
    { "sessionId", "expiresAt", "minutesRemaining", "sessionType" },
    NULL },
  { "SessionExpired", "(ss)", "SESSION_EXPIRED", { "sessionId", "sessionType" }, NULL },
  { "SigningRequestExpired",
    "(ss)",
    "SIGNING_REQUEST_EXPIRED",
    { "requestId", "sessionId" },
    NULL },
  { "PresenceRefreshNeeded",
    "(sx)",
    "PRESENCE_REFRESH_NEEDED",
    { "walletAddress", "lastRefresh" },
    NULL },
  { "PresenceRefreshed", "(bx)", "PRESENCE_REFRESHED", { "success", "nextRefreshAt" }, NULL },
  { "ActionInvoked", "(sa{sv})", "NOTIFICATION_CLICK", { NULL }, action_invoked },
};

JsonNode *
sm_bridge_event_from_signal (const char *name, GVariant *parameters)
{
  for (gsize i = 0; i < G_N_ELEMENTS (events); i++)
    {
      JsonObject *payload;
      JsonNode *message;

      if (g_strcmp0 (name, events[i].signal) != 0
          || !g_variant_is_of_type (parameters, G_VARIANT_TYPE (events[i].signature)))
        continue;
      message = sm_bridge_new_message (events[i].type, NULL, &payload);
      if (events[i].fill != NULL)
        events[i].fill (parameters, payload);
      else
        fill_fields (parameters, events[i].fields, payload);
      return message;
    }
  return NULL;
}
