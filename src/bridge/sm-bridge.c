/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The bridge's messages to the browser: framed, size-checked, written to
 * stdout. */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "config.h"

#include "sm-bridge.h"

#include "sm-bridge-json.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void
sm_bridge_quit (SmBridge *bridge, int exit_code)
{
  bridge->exit_code = exit_code;
  g_main_loop_quit (bridge->loop);
}

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

/* A message over the browsers' 1 MiB limit is never sent: an answer becomes
 * an ERROR frame, an event is dropped. */
static void
refuse_too_large (SmBridge *bridge, JsonObject *object, gsize len)
{
  const char *type = json_object_get_string_member_with_default (object, "type", "");

  g_printerr ("session-monitor-bridge: a %s message of %zu bytes exceeds the browser's "
              "1 MiB limit%s\n",
              type, len, json_object_has_member (object, "id") ? "" : "; dropped");
  if (json_object_has_member (object, "id") && g_strcmp0 (type, "ERROR") != 0)
    {
      g_autofree char *text =
          g_strdup_printf ("the answer (%zu bytes) exceeds the browser's 1 MiB message limit", len);

      sm_bridge_send_error (bridge, json_object_get_member (object, "id"),
                            SM_BRIDGE_ERROR_TOO_LARGE, text);
    }
}

void
sm_bridge_send (SmBridge *bridge, JsonNode *message)
{
  g_autoptr (JsonNode) owned = message;
  g_autofree char *json = json_to_string (owned, FALSE);
  gsize len = strlen (json);
  g_autoptr (GBytes) frame = NULL;

  if (len > SM_BRIDGE_FRAME_MAX)
    {
      refuse_too_large (bridge, json_node_get_object (owned), len);
      return;
    }
  frame = sm_bridge_frame_encode (json, len);
  if (!write_all (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame)))
    {
      g_printerr ("session-monitor-bridge: cannot write to the browser: %s\n", g_strerror (errno));
      sm_bridge_quit (bridge, 1);
    }
}

JsonNode *
sm_bridge_new_message (const char *type, JsonNode *id, JsonObject **out_payload)
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

void
sm_bridge_send_error (SmBridge *bridge, JsonNode *id, const char *code, const char *message)
{
  JsonObject *payload;
  JsonNode *node = sm_bridge_new_message ("ERROR", id, &payload);

  json_object_set_string_member (payload, "code", code);
  json_object_set_string_member (payload, "message", message);
  sm_bridge_send (bridge, node);
}

void
sm_bridge_send_gerror (SmBridge *bridge, JsonNode *id, GError *error)
{
  g_autofree char *name = g_dbus_error_get_remote_error (error);

  if (name == NULL)
    name = g_strdup ("org.freedesktop.DBus.Error.Failed");
  g_dbus_error_strip_remote_error (error);
  sm_bridge_send_error (bridge, id, name, error->message);
}
