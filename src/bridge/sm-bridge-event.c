/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's signals as the wallet's event messages. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "sm-bridge-event.h"

#include "sm-bridge.h"

static void
session_expiring (GVariant *parameters, JsonObject *payload)
{
  const char *session_id, *session_type;
  gint64 expires_at;
  guint32 minutes;

  g_variant_get (parameters, "(&sxu&s)", &session_id, &expires_at, &minutes, &session_type);
  json_object_set_string_member (payload, "sessionId", session_id);
  json_object_set_int_member (payload, "expiresAt", expires_at);
  json_object_set_int_member (payload, "minutesRemaining", minutes);
  json_object_set_string_member (payload, "sessionType", session_type);
}

static void
session_expired (GVariant *parameters, JsonObject *payload)
{
  const char *session_id, *session_type;

  g_variant_get (parameters, "(&s&s)", &session_id, &session_type);
  json_object_set_string_member (payload, "sessionId", session_id);
  json_object_set_string_member (payload, "sessionType", session_type);
}

static void
signing_request_expired (GVariant *parameters, JsonObject *payload)
{
  const char *request_id, *session_id;

  g_variant_get (parameters, "(&s&s)", &request_id, &session_id);
  json_object_set_string_member (payload, "requestId", request_id);
  json_object_set_string_member (payload, "sessionId", session_id);
}

static void
presence_refresh_needed (GVariant *parameters, JsonObject *payload)
{
  const char *wallet_address;
  gint64 last_refresh;

  g_variant_get (parameters, "(&sx)", &wallet_address, &last_refresh);
  json_object_set_string_member (payload, "walletAddress", wallet_address);
  json_object_set_int_member (payload, "lastRefresh", last_refresh);
}

static void
presence_refreshed (GVariant *parameters, JsonObject *payload)
{
  gboolean success;
  gint64 next_refresh_at;

  g_variant_get (parameters, "(bx)", &success, &next_refresh_at);
  json_object_set_boolean_member (payload, "success", success);
  json_object_set_int_member (payload, "nextRefreshAt", next_refresh_at);
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
  void (*fill) (GVariant *parameters, JsonObject *payload);
} events[] = {
  { "SessionExpiring", "(sxus)", "SESSION_EXPIRING", session_expiring },
  { "SessionExpired", "(ss)", "SESSION_EXPIRED", session_expired },
  { "SigningRequestExpired", "(ss)", "SIGNING_REQUEST_EXPIRED", signing_request_expired },
  { "PresenceRefreshNeeded", "(sx)", "PRESENCE_REFRESH_NEEDED", presence_refresh_needed },
  { "PresenceRefreshed", "(bx)", "PRESENCE_REFRESHED", presence_refreshed },
  { "ActionInvoked", "(sa{sv})", "NOTIFICATION_CLICK", action_invoked },
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
      events[i].fill (parameters, payload);
      return message;
    }
  return NULL;
}
