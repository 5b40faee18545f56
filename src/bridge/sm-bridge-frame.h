/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Native-messaging framing: a 4-byte length in native byte order, then that
 * many bytes of UTF-8 JSON. The reader never allocates more than the bytes
 * that actually arrived, so a hostile length costs nothing. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Chromium and Firefox both cap a host-to-browser message at 1 MiB; the
 * bridge takes the same cap for the other direction. */
#define SM_BRIDGE_FRAME_MAX (1024 * 1024)

typedef struct _SmBridgeFrameReader SmBridgeFrameReader;

typedef enum
{
  SM_BRIDGE_FRAME_NEED_MORE, /* no complete frame yet */
  SM_BRIDGE_FRAME_READY,     /* *out_frame holds one frame */
  SM_BRIDGE_FRAME_TOO_LARGE, /* the length prefix exceeds SM_BRIDGE_FRAME_MAX */
} SmBridgeFrameStatus;

SmBridgeFrameReader *sm_bridge_frame_reader_new (void);
void sm_bridge_frame_reader_free (SmBridgeFrameReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmBridgeFrameReader, sm_bridge_frame_reader_free)

/* Appends @len bytes read from the browser. */
void sm_bridge_frame_reader_feed (SmBridgeFrameReader *reader, const guint8 *data, gsize len);

/* Takes the next complete frame out of the buffer, if any. On READY,
 * @out_frame is the payload (NUL-terminated, @out_len bytes); on TOO_LARGE
 * @out_len is the length the prefix announced. */
SmBridgeFrameStatus sm_bridge_frame_reader_next (SmBridgeFrameReader *reader,
                                                 GBytes **out_frame,
                                                 gsize *out_len);

/* Bytes buffered that do not form a whole frame (after a failed next()). */
gsize sm_bridge_frame_reader_pending (SmBridgeFrameReader *reader);

/* Encodes a frame: the prefix and @json. */
GBytes *sm_bridge_frame_encode (const char *json, gsize len);

G_END_DECLS
