/* SPDX-License-Identifier: GPL-3.0-or-later */
/* session-monitor-bridge: the native-messaging host a browser starts for a
 * web wallet. It speaks the wallet's own service-worker protocol
 * ({type, payload} messages, optional id) in native-messaging frames on
 * stdin/stdout, and the daemon's D-Bus API through the generated proxy. One
 * bridge per browser port; its bus connection owns the presence it
 * configures, so closing the port (stdin EOF) lets that presence lapse. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <unistd.h>

#include "sm-bridge-frame.h"
#include "sm-bridge-json.h"
#include "sm-dbus-generated.h"
#include "sm-names.h"

typedef struct
{
  GMainLoop *loop;              /* (owned) */
  SmDBusSessionMonitor1 *proxy; /* (owned) */
  SmBridgeFrameReader *reader;  /* (owned) */
  guint stdin_watch;
  guint sigterm_watch;
  guint sigint_watch;
  int exit_code;
} SmBridge;

static void
sm_bridge_quit (SmBridge *bridge, int exit_code)
{
  bridge->exit_code = exit_code;
  g_main_loop_quit (bridge->loop);
}

/* Output ------------------------------------------------------------------ */

static gboolean
write_all (const guint8 *data, gsize len)
{
  while (len > 0)
    {
      ssize_t n = write (STDOUT_FILENO, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= (gsize) n;
    }
  return TRUE;
}

static void send_error (SmBridge *bridge, JsonNode *id, const char *code, const char *message);

/* Sends @message (consumed). A message over the browsers' 1 MiB limit is
 * never sent: an answer becomes an ERROR frame, an event is dropped. */
static void
send_message (SmBridge *bridge, JsonNode *message)
{
  g_autoptr (JsonNode) owned = message;
  gsize len = 0;
  g_autofree char *json = json_to_string (owned, FALSE);
  g_autoptr (GBytes) frame = NULL;

  len = strlen (json);
  if (len > SM_BRIDGE_FRAME_MAX)
    {
      JsonObject *object = json_node_get_object (owned);
      const char *type = json_object_get_string_member_with_default (object, "type", "");

      g_printerr ("session-monitor-bridge: a %s message of %zu bytes exceeds the browser's "
                  "1 MiB limit%s\n",
                  type, len, json_object_has_member (object, "id") ? "" : "; dropped");
      if (json_object_has_member (object, "id") && g_strcmp0 (type, "ERROR") != 0)
        {
          g_autofree char *text = g_strdup_printf (
              "the answer (%zu bytes) exceeds the browser's 1 MiB message limit", len);

          send_error (bridge, json_object_get_member (object, "id"), SM_BRIDGE_ERROR_TOO_LARGE,
                      text);
        }
      return;
    }
  frame = sm_bridge_frame_encode (json, len);
  if (!write_all (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame)))
    {
      g_printerr ("session-monitor-bridge: cannot write to the browser: %s\n", g_strerror (errno));
      sm_bridge_quit (bridge, 1);
    }
}

static JsonNode *
new_message (const char *type, JsonNode *id, JsonObject **out_payload)
{
  g_autoptr (JsonObject) object = json_object_new ();

  json_object_set_string_member (object, "type", type);
  if (id != NULL)
    json_object_set_member (object, "id", json_node_copy (id));
  if (out_payload != NULL)
    {
      *out_payload = json_object_new ();
      json_object_set_object_member (object, "payload", *out_payload);
    }
  return json_node_init_object (json_node_alloc (), object);
}

static void
send_error (SmBridge *bridge, JsonNode *id, const char *code, const char *message)
{
  JsonObject *payload;
  JsonNode *node = new_message ("ERROR", id, &payload);

  json_object_set_string_member (payload, "code", code);
  json_object_set_string_member (payload, "message", message);
  send_message (bridge, node);
}

static void
send_gerror (SmBridge *bridge, JsonNode *id, GError *error)
{
  g_autofree char *name = g_dbus_error_get_remote_error (error);

  if (name == NULL)
    name = g_strdup ("org.freedesktop.DBus.Error.Failed");
  g_dbus_error_strip_remote_error (error);
  send_error (bridge, id, name, error->message);
}

/* Messages in -------------------------------------------------------------- */

typedef gboolean (*SmBridgeHandler) (SmBridge *bridge,
                                     JsonObject *payload,
                                     JsonNode **out_result,
                                     GError **error);

static gboolean
add_string_option (GVariantBuilder *options,
                   JsonObject *payload,
                   const char *field,
                   const char *key,
                   GError **error)
{
  const char *value;

  if (!sm_bridge_json_get_string (payload, field, FALSE, &value, error))
    return FALSE;
  if (value != NULL)
    g_variant_builder_add (options, "{sv}", key, g_variant_new_string (value));
  return TRUE;
}

/* warnThresholds: not in the design (its thresholds are fixed), but a page
 * may choose them as the D-Bus API allows: an array of integer ms. */
static gboolean
add_thresholds_option (GVariantBuilder *options, JsonObject *payload, GError **error)
{
  g_auto (GVariantBuilder) thresholds = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("ax"));
  JsonNode *node = json_object_get_member (payload, "warnThresholds");
  JsonArray *array;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                                     "payload.warnThresholds must be an array"));
      return FALSE;
    }
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

static gboolean
handle_register_session (SmBridge *bridge,
                         JsonObject *payload,
                         JsonNode **out_result,
                         GError **error)
{
  g_auto (GVariantBuilder) options = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  const char *session_id;
  gint64 expires_at, warn_before;
  gboolean has_warn_before;
  JsonNode *metadata;

  if (!sm_bridge_json_get_string (payload, "sessionId", TRUE, &session_id, error)
      || !sm_bridge_json_get_int64 (payload, "expiresAt", TRUE, NULL, &expires_at, error)
      || !sm_bridge_json_get_int64 (payload, "warnBeforeMinutes", FALSE, &has_warn_before,
                                    &warn_before, error)
      || !add_string_option (&options, payload, "sessionType", "session-type", error)
      || !add_string_option (&options, payload, "appId", "app-id", error)
      || !add_string_option (&options, payload, "url", "url", error)
      || !add_thresholds_option (&options, payload, error))
    return FALSE;
  if (has_warn_before)
    {
      if (warn_before < 0 || warn_before > G_MAXUINT32)
        {
          g_propagate_error (error,
                             sm_bridge_error_new (
                                 SM_BRIDGE_ERROR_INVALID_ARGS,
                                 "payload.warnBeforeMinutes must be 0 to %u, not %" G_GINT64_FORMAT,
                                 G_MAXUINT32, warn_before));
          return FALSE;
        }
      g_variant_builder_add (&options, "{sv}", "warn-before-minutes",
                             g_variant_new_uint32 ((guint32) warn_before));
    }
  metadata = json_object_get_member (payload, "metadata");
  if (metadata != NULL && !JSON_NODE_HOLDS_NULL (metadata))
    {
      if (!JSON_NODE_HOLDS_OBJECT (metadata))
        {
          g_propagate_error (error, sm_bridge_error_new (SM_BRIDGE_ERROR_INVALID_ARGS,
                                                         "payload.metadata must be an object"));
          return FALSE;
        }
      GVariant *value = sm_bridge_json_to_variant (metadata, error);

      if (value == NULL)
        return FALSE;
      g_variant_builder_add (&options, "{sv}", "metadata", value);
    }
  *out_result = NULL;
  return sm_dbus_session_monitor1_call_register_session_sync (
      bridge->proxy, session_id, expires_at, g_variant_builder_end (&options), NULL, error);
}

static gboolean
handle_unregister_session (SmBridge *bridge,
                           JsonObject *payload,
                           JsonNode **out_result,
                           GError **error)
{
  const char *session_id, *reason;

  *out_result = NULL;
  if (!sm_bridge_json_get_string (payload, "sessionId", TRUE, &session_id, error)
      || !sm_bridge_json_get_string (payload, "reason", FALSE, &reason, error))
    return FALSE;
  return sm_dbus_session_monitor1_call_unregister_session_sync (
      bridge->proxy, session_id, reason != NULL ? reason : "", NULL, error);
}

static gboolean
handle_register_signing_request (SmBridge *bridge,
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
      || !add_string_option (&options, payload, "fromNickname", "from-nickname", error)
      || !add_string_option (&options, payload, "amount", "amount", error)
      || !add_string_option (&options, payload, "purpose", "purpose", error)
      || !add_string_option (&options, payload, "appId", "app-id", error)
      || !add_string_option (&options, payload, "url", "url", error))
    return FALSE;
  return sm_dbus_session_monitor1_call_register_signing_request_sync (
      bridge->proxy, request_id, session_id, from_peer_id, expires_at,
      g_variant_builder_end (&options), NULL, error);
}

static gboolean
handle_unregister_signing_request (SmBridge *bridge,
                                   JsonObject *payload,
                                   JsonNode **out_result,
                                   GError **error)
{
  const char *request_id, *reason;

  *out_result = NULL;
  if (!sm_bridge_json_get_string (payload, "requestId", TRUE, &request_id, error)
      || !sm_bridge_json_get_string (payload, "reason", FALSE, &reason, error))
    return FALSE;
  return sm_dbus_session_monitor1_call_unregister_signing_request_sync (
      bridge->proxy, request_id, reason != NULL ? reason : "", NULL, error);
}

static gboolean
handle_update_presence (SmBridge *bridge,
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
      || !add_string_option (&options, payload, "nickname", "nickname", error)
      || !add_string_option (&options, payload, "avatar", "avatar", error)
      || !add_string_option (&options, payload, "peerId", "peer-id", error))
    return FALSE;
  return sm_dbus_session_monitor1_call_update_presence_sync (
      bridge->proxy, wallet_address, ttl, g_variant_builder_end (&options), NULL, error);
}

static gboolean
handle_stop_presence (SmBridge *bridge, JsonObject *payload, JsonNode **out_result, GError **error)
{
  (void) payload;
  *out_result = NULL;
  return sm_dbus_session_monitor1_call_stop_presence_sync (bridge->proxy, NULL, error);
}

static JsonNode *
entries_to_json (GVariant *entries)
{
  g_autoptr (JsonArray) array = json_array_new ();
  gsize n = g_variant_n_children (entries);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (entries, i);

      json_array_add_element (array, sm_bridge_entry_to_json (entry));
    }
  return json_node_init_array (json_node_alloc (), array);
}

/* "State recovery on tab reactivation": the daemon's three Get methods in
 * the design's field names; presence is null when none is configured. */
static gboolean
handle_get_state (SmBridge *bridge, JsonObject *payload, JsonNode **out_result, GError **error)
{
  g_autoptr (GVariant) sessions = NULL;
  g_autoptr (GVariant) requests = NULL;
  g_autoptr (GVariant) presence = NULL;
  g_autoptr (JsonObject) state = json_object_new ();

  (void) payload;
  if (!sm_dbus_session_monitor1_call_get_sessions_sync (bridge->proxy, &sessions, NULL, error)
      || !sm_dbus_session_monitor1_call_get_signing_requests_sync (bridge->proxy, &requests, NULL,
                                                                   error)
      || !sm_dbus_session_monitor1_call_get_presence_sync (bridge->proxy, &presence, NULL, error))
    return FALSE;
  json_object_set_member (state, "sessions", entries_to_json (sessions));
  json_object_set_member (state, "signingRequests", entries_to_json (requests));
  if (g_variant_n_children (presence) > 0)
    json_object_set_member (state, "presence", sm_bridge_entry_to_json (presence));
  else
    json_object_set_null_member (state, "presence");
  *out_result = json_node_init_object (json_node_alloc (), state);
  return TRUE;
}

static const struct
{
  const char *type;
  SmBridgeHandler handler;
  gboolean needs_payload;
} handlers[] = {
  { "REGISTER_SESSION", handle_register_session, TRUE },
  { "UNREGISTER_SESSION", handle_unregister_session, TRUE },
  { "REGISTER_SIGNING_REQUEST", handle_register_signing_request, TRUE },
  { "UNREGISTER_SIGNING_REQUEST", handle_unregister_signing_request, TRUE },
  { "UPDATE_PRESENCE", handle_update_presence, TRUE },
  { "STOP_PRESENCE", handle_stop_presence, FALSE },
  { "GET_STATE", handle_get_state, FALSE },
};

static void
handle_frame (SmBridge *bridge, const char *text, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (JsonObject) empty = json_object_new ();
  g_autoptr (JsonNode) result = NULL;
  JsonObject *message, *payload = empty;
  JsonNode *id, *type_node, *payload_node;
  const char *type;
  gboolean overflow, id_overflow;

  if (!sm_bridge_json_precheck (text, len, &overflow, &id_overflow, &error))
    {
      send_gerror (bridge, NULL, error);
      return;
    }
  if (!json_parser_load_from_data (parser, text, (gssize) len, &error))
    {
      send_error (bridge, NULL, SM_BRIDGE_ERROR_INVALID_JSON, error->message);
      return;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      send_error (bridge, NULL, SM_BRIDGE_ERROR_INVALID_JSON, "the message is empty");
      return;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      send_error (bridge, NULL, SM_BRIDGE_ERROR_INVALID_MESSAGE,
                  "a message must be a JSON object {type, payload, id}");
      return;
    }
  message = json_node_get_object (json_parser_get_root (parser));
  id = id_overflow ? NULL : json_object_get_member (message, "id");
  if (overflow)
    {
      send_error (bridge, id, SM_BRIDGE_ERROR_INVALID_ARGS,
                  "a number in the message is beyond the 64-bit integer range");
      return;
    }
  type_node = json_object_get_member (message, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node)
      || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      send_error (bridge, id, SM_BRIDGE_ERROR_INVALID_MESSAGE, "type must be a string");
      return;
    }
  type = json_node_get_string (type_node);
  for (gsize i = 0; i < G_N_ELEMENTS (handlers); i++)
    {
      if (g_strcmp0 (handlers[i].type, type) != 0)
        continue;
      payload_node = json_object_get_member (message, "payload");
      if (payload_node != NULL && JSON_NODE_HOLDS_OBJECT (payload_node))
        payload = json_node_get_object (payload_node);
      else if (handlers[i].needs_payload
               || (payload_node != NULL && !JSON_NODE_HOLDS_NULL (payload_node)))
        {
          send_error (bridge, id, SM_BRIDGE_ERROR_INVALID_ARGS, "payload must be an object");
          return;
        }
      if (!handlers[i].handler (bridge, payload, &result, &error))
        send_gerror (bridge, id, error);
      else if (id != NULL)
        {
          JsonNode *answer = new_message ("RESULT", id, NULL);

          if (result != NULL)
            json_object_set_member (json_node_get_object (answer), "payload",
                                    g_steal_pointer (&result));
          send_message (bridge, answer);
        }
      return;
    }
  {
    g_autofree char *text_out = g_strdup_printf ("unknown message type “%s”", type);

    send_error (bridge, id, SM_BRIDGE_ERROR_UNKNOWN_TYPE, text_out);
  }
}

static gboolean
on_stdin (int fd, GIOCondition condition, gpointer user_data)
{
  SmBridge *bridge = user_data;
  guint8 buffer[65536];
  ssize_t n;

  (void) condition;
  n = read (fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      gsize pending = sm_bridge_frame_reader_pending (bridge->reader);

      bridge->stdin_watch = 0;
      if (n < 0)
        {
          g_printerr ("session-monitor-bridge: cannot read from the browser: %s\n",
                      g_strerror (errno));
          sm_bridge_quit (bridge, 1);
        }
      else if (pending > 0)
        {
          g_printerr ("session-monitor-bridge: the browser closed the port in the middle of a "
                      "frame (%zu bytes of it arrived); exiting\n",
                      pending);
          sm_bridge_quit (bridge, 1);
        }
      else
        sm_bridge_quit (bridge, 0);
      return G_SOURCE_REMOVE;
    }

  sm_bridge_frame_reader_feed (bridge->reader, buffer, (gsize) n);
  for (;;)
    {
      g_autoptr (GBytes) frame = NULL;
      gsize len;

      switch (sm_bridge_frame_reader_next (bridge->reader, &frame, &len))
        {
        case SM_BRIDGE_FRAME_NEED_MORE:
          return G_SOURCE_CONTINUE;
        case SM_BRIDGE_FRAME_TOO_LARGE:
          g_printerr ("session-monitor-bridge: a frame of %zu bytes exceeds the 1 MiB limit; "
                      "exiting\n",
                      len);
          bridge->stdin_watch = 0;
          sm_bridge_quit (bridge, 1);
          return G_SOURCE_REMOVE;
        case SM_BRIDGE_FRAME_READY:
        default:
          handle_frame (bridge, g_bytes_get_data (frame, NULL), len);
          break;
        }
    }
}

/* Messages out: the daemon's signals in the design's names ----------------- */

static void
on_daemon_signal (GDBusProxy *proxy,
                  const char *sender,
                  const char *name,
                  GVariant *parameters,
                  gpointer user_data)
{
  SmBridge *bridge = user_data;
  JsonObject *payload;
  JsonNode *message = NULL;

  (void) proxy;
  (void) sender;
  if (g_strcmp0 (name, "SessionExpiring") == 0
      && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sxus)")))
    {
      const char *session_id, *session_type;
      gint64 expires_at;
      guint32 minutes;

      g_variant_get (parameters, "(&sxu&s)", &session_id, &expires_at, &minutes, &session_type);
      message = new_message ("SESSION_EXPIRING", NULL, &payload);
      json_object_set_string_member (payload, "sessionId", session_id);
      json_object_set_int_member (payload, "expiresAt", expires_at);
      json_object_set_int_member (payload, "minutesRemaining", minutes);
      json_object_set_string_member (payload, "sessionType", session_type);
    }
  else if (g_strcmp0 (name, "SessionExpired") == 0
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ss)")))
    {
      const char *session_id, *session_type;

      g_variant_get (parameters, "(&s&s)", &session_id, &session_type);
      message = new_message ("SESSION_EXPIRED", NULL, &payload);
      json_object_set_string_member (payload, "sessionId", session_id);
      json_object_set_string_member (payload, "sessionType", session_type);
    }
  else if (g_strcmp0 (name, "SigningRequestExpired") == 0
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(ss)")))
    {
      const char *request_id, *session_id;

      g_variant_get (parameters, "(&s&s)", &request_id, &session_id);
      message = new_message ("SIGNING_REQUEST_EXPIRED", NULL, &payload);
      json_object_set_string_member (payload, "requestId", request_id);
      json_object_set_string_member (payload, "sessionId", session_id);
    }
  else if (g_strcmp0 (name, "PresenceRefreshNeeded") == 0
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sx)")))
    {
      const char *wallet_address;
      gint64 last_refresh;

      g_variant_get (parameters, "(&sx)", &wallet_address, &last_refresh);
      message = new_message ("PRESENCE_REFRESH_NEEDED", NULL, &payload);
      json_object_set_string_member (payload, "walletAddress", wallet_address);
      json_object_set_int_member (payload, "lastRefresh", last_refresh);
    }
  else if (g_strcmp0 (name, "PresenceRefreshed") == 0
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(bx)")))
    {
      gboolean success;
      gint64 next_refresh_at;

      g_variant_get (parameters, "(bx)", &success, &next_refresh_at);
      message = new_message ("PRESENCE_REFRESHED", NULL, &payload);
      json_object_set_boolean_member (payload, "success", success);
      json_object_set_int_member (payload, "nextRefreshAt", next_refresh_at);
    }
  else if (g_strcmp0 (name, "ActionInvoked") == 0
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sa{sv})")))
    {
      g_autoptr (GVariant) data = NULL;
      const char *action, *value;

      g_variant_get (parameters, "(&s@a{sv})", &action, &data);
      message = new_message ("NOTIFICATION_CLICK", NULL, &payload);
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
  if (message != NULL)
    send_message (bridge, message);
}

static gboolean
on_quit_signal (gpointer user_data)
{
  SmBridge *bridge = user_data;

  sm_bridge_quit (bridge, 0);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) connection = NULL;
  g_autoptr (GOptionContext) context = NULL;
  gboolean version = FALSE;
  SmBridge bridge = { 0 };
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
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("session-monitor-bridge: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("session-monitor-bridge %s\n", PACKAGE_VERSION);
      return 0;
    }
  /* A browser that goes away closes our stdout: report it, do not die of it. */
  signal (SIGPIPE, SIG_IGN);

  connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (connection == NULL)
    {
      g_printerr ("session-monitor-bridge: cannot connect to the session bus: %s\n",
                  error->message);
      return 1;
    }
  bridge.proxy = sm_dbus_session_monitor1_proxy_new_sync (
      connection, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES, SM_BUS_NAME, SM_OBJECT_PATH, NULL,
      &error);
  if (bridge.proxy == NULL)
    {
      g_printerr ("session-monitor-bridge: %s\n", error->message);
      return 1;
    }
  g_signal_connect (bridge.proxy, "g-signal", G_CALLBACK (on_daemon_signal), &bridge);
  /* A no-op on the session bus, but it starts the daemon by D-Bus activation
   * if it is not running, so its signals reach this bridge from the start. */
  if (!sm_dbus_session_monitor1_call_subscribe_sync (bridge.proxy, NULL, &error))
    {
      g_printerr ("session-monitor-bridge: the daemon does not answer yet: %s\n", error->message);
      g_clear_error (&error);
    }

  bridge.loop = g_main_loop_new (NULL, FALSE);
  bridge.reader = sm_bridge_frame_reader_new ();
  bridge.stdin_watch =
      g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &bridge);
  bridge.sigterm_watch = g_unix_signal_add (SIGTERM, on_quit_signal, &bridge);
  bridge.sigint_watch = g_unix_signal_add (SIGINT, on_quit_signal, &bridge);

  g_main_loop_run (bridge.loop);

  g_clear_handle_id (&bridge.stdin_watch, g_source_remove);
  g_clear_handle_id (&bridge.sigterm_watch, g_source_remove);
  g_clear_handle_id (&bridge.sigint_watch, g_source_remove);
  g_signal_handlers_disconnect_by_data (bridge.proxy, &bridge);
  g_clear_object (&bridge.proxy);
  g_clear_pointer (&bridge.reader, sm_bridge_frame_reader_free);
  g_clear_pointer (&bridge.loop, g_main_loop_unref);
  /* Flush anything queued so the daemon sees our calls before we leave. */
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  return bridge.exit_code;
}
