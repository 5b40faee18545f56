/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The bridge's input: native-messaging frames from the browser, each one
 * message {type, payload, id} answered with RESULT or ERROR. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "sm-bridge-input.h"

#include "sm-bridge-call.h"
#include "sm-bridge-json.h"

#include <errno.h>
#include <unistd.h>

/* Checks and parses one frame into @parser: the message object, or NULL
 * once the browser has been told what is wrong. *@out_id is the message's
 * id (NULL: none, or one that cannot be echoed). */
static JsonObject *
parse_message (SmBridge *bridge, JsonParser *parser, const char *text, gsize len, JsonNode **out_id)
{
  g_autoptr (GError) error = NULL;
  gboolean overflow, id_overflow;
  JsonObject *message;

  *out_id = NULL;
  if (!sm_bridge_json_precheck (text, len, &overflow, &id_overflow, &error))
    {
      sm_bridge_send_gerror (bridge, NULL, error);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, (gssize) len, &error))
    {
      sm_bridge_send_error (bridge, NULL, SM_BRIDGE_ERROR_INVALID_JSON, error->message);
      return NULL;
    }
  if (json_parser_get_root (parser) == NULL)
    {
      sm_bridge_send_error (bridge, NULL, SM_BRIDGE_ERROR_INVALID_JSON, "the message is empty");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      sm_bridge_send_error (bridge, NULL, SM_BRIDGE_ERROR_INVALID_MESSAGE,
                            "a message must be a JSON object {type, payload, id}");
      return NULL;
    }
  message = json_node_get_object (json_parser_get_root (parser));
  *out_id = id_overflow ? NULL : json_object_get_member (message, "id");
  if (overflow)
    {
      sm_bridge_send_error (bridge, *out_id, SM_BRIDGE_ERROR_INVALID_ARGS,
                            "a number in the message is beyond the 64-bit integer range");
      return NULL;
    }
  return message;
}

/* Makes the call and answers: RESULT (only to a message with an id) or
 * ERROR. */
static void
answer (SmBridge *bridge, const SmBridgeCall *call, JsonObject *message, JsonNode *id)
{
  g_autoptr (JsonObject) empty = json_object_new ();
  g_autoptr (JsonNode) result = NULL;
  g_autoptr (GError) error = NULL;
  JsonNode *payload_node = json_object_get_member (message, "payload");
  JsonObject *payload = empty;
  JsonNode *reply;

  if (payload_node != NULL && JSON_NODE_HOLDS_OBJECT (payload_node))
    payload = json_node_get_object (payload_node);
  else if (call->needs_payload || (payload_node != NULL && !JSON_NODE_HOLDS_NULL (payload_node)))
    {
      sm_bridge_send_error (bridge, id, SM_BRIDGE_ERROR_INVALID_ARGS, "payload must be an object");
      return;
    }
  if (!call->func (bridge->proxy, payload, &result, &error))
    {
      sm_bridge_send_gerror (bridge, id, error);
      return;
    }
  if (id == NULL)
    return;
  reply = sm_bridge_new_message ("RESULT", id, NULL);
  if (result != NULL)
    json_object_set_member (json_node_get_object (reply), "payload", g_steal_pointer (&result));
  sm_bridge_send (bridge, reply);
}

static void
handle_frame (SmBridge *bridge, const char *text, gsize len)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *unknown = NULL;
  JsonObject *message;
  JsonNode *id, *type_node;
  const SmBridgeCall *call;

  message = parse_message (bridge, parser, text, len, &id);
  if (message == NULL)
    return;
  type_node = json_object_get_member (message, "type");
  if (type_node == NULL || !JSON_NODE_HOLDS_VALUE (type_node)
      || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      sm_bridge_send_error (bridge, id, SM_BRIDGE_ERROR_INVALID_MESSAGE, "type must be a string");
      return;
    }
  call = sm_bridge_call_find (json_node_get_string (type_node));
  if (call != NULL)
    {
      answer (bridge, call, message, id);
      return;
    }
  unknown = g_strdup_printf ("unknown message type “%s”", json_node_get_string (type_node));
  sm_bridge_send_error (bridge, id, SM_BRIDGE_ERROR_UNKNOWN_TYPE, unknown);
}

/* End of input: a clean close between frames, or not. */
static void
on_stdin_closed (SmBridge *bridge, ssize_t n)
{
  gsize pending = sm_bridge_frame_reader_pending (bridge->reader);

  bridge->stdin_watch = 0;
  if (n < 0)
    {
      g_printerr ("session-monitor-bridge: cannot read from the browser: %s\n", g_strerror (errno));
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
}

gboolean
sm_bridge_input_on_stdin (int fd, GIOCondition condition G_GNUC_UNUSED, gpointer user_data)
{
  SmBridge *bridge = user_data;
  guint8 buffer[65536];
  ssize_t n;

  n = read (fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      on_stdin_closed (bridge, n);
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
