/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The wallet's request messages as calls of the daemon's D-Bus API, in the
 * design's field names. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "sm-bridge-call.h"

#include "sm-bridge-json.h"

/* An optional string field of the payload and the a{sv} option it fills. */
typedef struct
{
  const char *field;
  const char *key;
} StringOption;

static const StringOption session_options[] = {
  { "sessionType", "session-type" },
  { "appId", "app-id" },
  { "url", "url" },
  { NULL, NULL },
};

static const StringOption request_options[] = {
  { "fromNickname", "from-nickname" },
  { "amount", "amount" },
  { "purpose", "purpose" },
  { "appId", "app-id" },
  { "url", "url" },
  { NULL, NULL },
};

static const StringOption presence_options[] = {
  { "nickname", "nickname" },
  { "avatar", "avatar" },
  { "peerId", "peer-id" },
  { NULL, NULL },
};

static gboolean
add_string_options (GVariantBuilder *options,
                    JsonObject *payload,
                    const StringOption *list,
                    GError **error)
{
  for (; list->field != NULL; list++)
    {
      const char *value;

      if (!sm_bridge_json_get_string (payload, list->field, FALSE, &value, error))
        return FALSE;
      if (value != NULL)
        g_variant_builder_add (options, "{sv}", list->key, g_variant_new_string (value));
    }
  return TRUE;
}

/* warnThresholds: not in the design (its thresholds are fixed), but a page
 * may choose them as the D-Bus API allows: an array of integer ms. */
static gboolean
add_thresholds_option (GVariantBuilder *options, JsonObject *payload, GError **error)
{
  g_auto (GVariantBuilder) thresholds = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("ax"));
  JsonNode *node;
  JsonArray *array;

  if (!sm_bridge_json_get_node (payload, "warnThresholds", JSON_NODE_ARRAY, "an array", &node,
                                error))
    return FALSE;
  if (node == NULL)
    return TRUE;
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_INT64)
        {
          g_propagate_error (
              error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                          "payload.warnThresholds[%u] must be an integer (ms)", i));
          return FALSE;
        }
      g_variant_builder_add (&thresholds, "x", json_node_get_int (item));
    }
  g_variant_builder_add (options, "{sv}", "warn-thresholds", g_variant_builder_end (&thresholds));
  return TRUE;
}

/* warnBeforeMinutes, read (and type-checked) with the other fields. */
static gboolean
add_warn_before_option (GVariantBuilder *options,
                        gboolean present,
                        gint64 warn_before,
                        GError **error)
{
  if (!present)
    return TRUE;
  if (warn_before < 0 || warn_before > G_MAXUINT32)
    {
      g_propagate_error (
          error,
          sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                               "payload.warnBeforeMinutes must be 0 to %u, not %" G_GINT64_FORMAT,
                               G_MAXUINT32, warn_before));
      return FALSE;
    }
  g_variant_builder_add (options, "{sv}", "warn-before-minutes",
                         g_variant_new_uint32 ((guint32) warn_before));
  return TRUE;
}

static gboolean
add_metadata_option (GVariantBuilder *options, JsonObject *payload, GError **error)
{
  JsonNode *metadata;
  GVariant *value;

  if (!sm_bridge_json_get_node (payload, "metadata", JSON_NODE_OBJECT, "an object", &metadata,
                                error))
    return FALSE;
  if (metadata == NULL)
    return TRUE;
  value = sm_bridge_json_to_variant (metadata, error);
  if (value == NULL)
    return FALSE;
  g_variant_builder_add (options, "{sv}", "metadata", value);
  return TRUE;
}

static gboolean
register_session (SmDBusSessionMonitor1 *proxy,
                  JsonObject *payload,
                  JsonNode **out_result,
                  GError **error)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  const char *session_id;
  gint64 expires_at, warn_before;
  gboolean has_warn_before;

  *out_result = NULL;
  if (!sm_bridge_json_get_string (payload, "sessionId", TRUE, &session_id, error)
      || !sm_bridge_json_get_int64 (payload, "expiresAt", TRUE, NULL, &expires_at, error)
      || !sm_bridge_json_get_int64 (payload, "warnBeforeMinutes", FALSE, &has_warn_before,
                                    &warn_before, error)
      || !add_string_options (&options, payload, session_options, error)
      || !add_thresholds_option (&options, payload, error)
      || !add_warn_before_option (&options, has_warn_before, warn_before, error)
      || !add_metadata_option (&options, payload, error))
    return FALSE;
  return sm_dbus_session_monitor1_call_register_session_sync (
      proxy, session_id, expires_at, g_variant_builder_end (&options), NULL, error);
}

static gboolean
register_signing_request (SmDBusSessionMonitor1 *proxy,
                          JsonObject *payload,
                          JsonNode **out_result,
                          GError **error)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  const char *request_id, *session_id, *from_peer_id;
  gint64 expires_at;

  *out_result = NULL;
  if (!sm_bridge_json_get_string (payload, "requestId", TRUE, &request_id, error)
      || !sm_bridge_json_get_string (payload, "sessionId", TRUE, &session_id, error)
      || !sm_bridge_json_get_string (payload, "fromPeerId", TRUE, &from_peer_id, error)
      || !sm_bridge_json_get_int64 (payload, "expiresAt", TRUE, NULL, &expires_at, error)
      || !add_string_options (&options, payload, request_options, error))
    return FALSE;
  return sm_dbus_session_monitor1_call_register_signing_request_sync (
      proxy, request_id, session_id, from_peer_id, expires_at, g_variant_builder_end (&options),
      NULL, error);
}

typedef gboolean (*UnregisterFunc) (SmDBusSessionMonitor1 *proxy,
                                    const char *id,
                                    const char *reason,
                                    GCancellable *cancellable,
                                    GError **error);

/* UNREGISTER_SESSION and UNREGISTER_SIGNING_REQUEST: an id and a reason. */
static gboolean
unregister (SmDBusSessionMonitor1 *proxy,
            JsonObject *payload,
            const char *id_field,
            UnregisterFunc func,
            GError **error)
{
  const char *id, *reason;

  if (!sm_bridge_json_get_string (payload, id_field, TRUE, &id, error)
      || !sm_bridge_json_get_string (payload, "reason", FALSE, &reason, error))
    return FALSE;
  return func (proxy, id, reason != NULL ? reason : "", NULL, error);
}

static gboolean
unregister_session (SmDBusSessionMonitor1 *proxy,
                    JsonObject *payload,
                    JsonNode **out_result,
                    GError **error)
{
  *out_result = NULL;
  return unregister (proxy, payload, "sessionId",
                     sm_dbus_session_monitor1_call_unregister_session_sync, error);
}

static gboolean
unregister_signing_request (SmDBusSessionMonitor1 *proxy,
                            JsonObject *payload,
                            JsonNode **out_result,
                            GError **error)
{
  *out_result = NULL;
  return unregister (proxy, payload, "requestId",
                     sm_dbus_session_monitor1_call_unregister_signing_request_sync, error);
}

static gboolean
update_presence (SmDBusSessionMonitor1 *proxy,
                 JsonObject *payload,
                 JsonNode **out_result,
                 GError **error)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  const char *wallet_address;
  gint64 ttl;

  *out_result = NULL;
  if (!sm_bridge_json_get_string (payload, "walletAddress", TRUE, &wallet_address, error)
      || !sm_bridge_json_get_int64 (payload, "ttl", TRUE, NULL, &ttl, error)
      || !add_string_options (&options, payload, presence_options, error))
    return FALSE;
  return sm_dbus_session_monitor1_call_update_presence_sync (
      proxy, wallet_address, ttl, g_variant_builder_end (&options), NULL, error);
}

static gboolean
stop_presence (SmDBusSessionMonitor1 *proxy,
               JsonObject *payload G_GNUC_UNUSED,
               JsonNode **out_result,
               GError **error)
{
  *out_result = NULL;
  return sm_dbus_session_monitor1_call_stop_presence_sync (proxy, NULL, error);
}

/* "State recovery on tab reactivation": the daemon's three Get methods in
 * the design's field names; presence is null when none is configured. */
static gboolean
get_state (SmDBusSessionMonitor1 *proxy,
           JsonObject *payload G_GNUC_UNUSED,
           JsonNode **out_result,
           GError **error)
{
  g_autoptr (GVariant) sessions = NULL;
  g_autoptr (GVariant) requests = NULL;
  g_autoptr (GVariant) presence = NULL;
  g_autoptr (JsonObject) state = json_object_new ();

  if (!sm_dbus_session_monitor1_call_get_sessions_sync (proxy, &sessions, NULL, error)
      || !sm_dbus_session_monitor1_call_get_signing_requests_sync (proxy, &requests, NULL, error)
      || !sm_dbus_session_monitor1_call_get_presence_sync (proxy, &presence, NULL, error))
    return FALSE;
  json_object_set_member (state, "sessions", sm_bridge_entries_to_json (sessions));
  json_object_set_member (state, "signingRequests", sm_bridge_entries_to_json (requests));
  if (g_variant_n_children (presence) > 0)
    json_object_set_member (state, "presence", sm_bridge_entry_to_json (presence));
  else
    json_object_set_null_member (state, "presence");
  *out_result = json_node_init_object (json_node_alloc (), state);
  return TRUE;
}

static const SmBridgeCall calls[] = {
  { "REGISTER_SESSION", register_session, TRUE },
  { "UNREGISTER_SESSION", unregister_session, TRUE },
  { "REGISTER_SIGNING_REQUEST", register_signing_request, TRUE },
  { "UNREGISTER_SIGNING_REQUEST", unregister_signing_request, TRUE },
  { "UPDATE_PRESENCE", update_presence, TRUE },
  { "STOP_PRESENCE", stop_presence, FALSE },
  { "GET_STATE", get_state, FALSE },
};

const SmBridgeCall *
sm_bridge_call_find (const char *type)
{
  for (gsize i = 0; i < G_N_ELEMENTS (calls); i++)
    if (g_strcmp0 (calls[i].type, type) == 0)
      return &calls[i];
  return NULL;
}
