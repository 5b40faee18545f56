/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "session-monitor-bridge"

#include "sm-bridge-frame.h"

#include <string.h>

struct _SmBridgeFrameReader
{
  GByteArray *buffer; /* (owned): bytes received and not yet framed */
};

SmBridgeFrameReader *
sm_bridge_frame_reader_new (void)
{
  SmBridgeFrameReader *reader = g_new0 (SmBridgeFrameReader, 1);

  reader->buffer = g_byte_array_new ();
  return reader;
}

void
sm_bridge_frame_reader_free (SmBridgeFrameReader *reader)
{
  if (reader == NULL)
    return;
  g_byte_array_unref (reader->buffer);
  g_free (reader);
}

void
sm_bridge_frame_reader_feed (SmBridgeFrameReader *reader, const guint8 *data, gsize len)
{
  g_byte_array_append (reader->buffer, data, (guint) len);
}

SmBridgeFrameStatus
sm_bridge_frame_reader_next (SmBridgeFrameReader *reader, GBytes **out_frame, gsize *out_len)
{
  guint32 length;
  guint8 *payload;

  *out_frame = NULL;
  *out_len = 0;
  if (reader->buffer->len < sizeof length)
    return SM_BRIDGE_FRAME_NEED_MORE;
  memcpy (&length, reader->buffer->data, sizeof length);
  if (length > SM_BRIDGE_FRAME_MAX)
    {
      *out_len = length;
      return SM_BRIDGE_FRAME_TOO_LARGE;
    }
  if (reader->buffer->len - sizeof length < length)
    return SM_BRIDGE_FRAME_NEED_MORE;

  payload = g_malloc (length + 1);
  memcpy (payload, reader->buffer->data + sizeof length, length);
  payload[length] = '\0';
  g_byte_array_remove_range (reader->buffer, 0, (guint) (sizeof length + length));
  *out_frame = g_bytes_new_take (payload, length + 1);
  *out_len = length;
  return SM_BRIDGE_FRAME_READY;
}

gsize
sm_bridge_frame_reader_pending (SmBridgeFrameReader *reader)
{
  return reader->buffer->len;
}

GBytes *
sm_bridge_frame_encode (const char *json, gsize len)
{
  guint32 length = (guint32) len;
  guint8 *data;

  g_return_val_if_fail (len <= SM_BRIDGE_FRAME_MAX, NULL);
  data = g_malloc (sizeof length + len);
  memcpy (data, &length, sizeof length);
  memcpy (data + sizeof length, json, len);
  return g_bytes_new_take (data, sizeof length + len);
}
