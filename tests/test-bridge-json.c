/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The bridge's framing and JSON checks, without a browser or a bus. */
#include <string.h>

#include "sm-bridge-frame.h"
#include "sm-bridge-json.h"

static void
feed_u32 (SmBridgeFrameReader *reader, guint32 length)
{
  sm_bridge_frame_reader_feed (reader, (const guint8 *) &length, sizeof length);
}

static void
test_frame_split_and_joined (void)
{
  g_autoptr (SmBridgeFrameReader) reader = sm_bridge_frame_reader_new ();
  g_autoptr (GBytes) encoded = sm_bridge_frame_encode ("{\"a\":1}", 7);
  const guint8 *data = g_bytes_get_data (encoded, NULL);
  gsize size = g_bytes_get_size (encoded);
  gsize len;

  for (gsize i = 0; i + 1 < size; i++)
    {
      g_autoptr (GBytes) frame = NULL;

      sm_bridge_frame_reader_feed (reader, data + i, 1);
      g_assert_cmpint (sm_bridge_frame_reader_next (reader, &frame, &len), ==,
                       SM_BRIDGE_FRAME_NEED_MORE);
      g_assert_null (frame);
    }
  sm_bridge_frame_reader_feed (reader, data + size - 1, 1);
  sm_bridge_frame_reader_feed (reader, data, size); /* a second frame in the same read */
  for (int n = 0; n < 2; n++)
    {
      g_autoptr (GBytes) frame = NULL;

      g_assert_cmpint (sm_bridge_frame_reader_next (reader, &frame, &len), ==,
                       SM_BRIDGE_FRAME_READY);
      g_assert_cmpuint (len, ==, 7);
      g_assert_cmpstr (g_bytes_get_data (frame, NULL), ==, "{\"a\":1}");
    }
  g_assert_cmpuint (sm_bridge_frame_reader_pending (reader), ==, 0);
}

static void
test_frame_limits (void)
{
  g_autoptr (SmBridgeFrameReader) reader = sm_bridge_frame_reader_new ();
  g_autoptr (SmBridgeFrameReader) exact = sm_bridge_frame_reader_new ();
  g_autoptr (GBytes) frame = NULL;
  gsize len;

  /* A hostile length is refused from the prefix alone, nothing allocated. */
  feed_u32 (reader, G_MAXUINT32);
  g_assert_cmpint (sm_bridge_frame_reader_next (reader, &frame, &len), ==,
                   SM_BRIDGE_FRAME_TOO_LARGE);
  g_assert_cmpuint (len, ==, G_MAXUINT32);
  g_assert_null (frame);
  /* 1 MiB is allowed; only the arrived bytes are held. */
  feed_u32 (exact, SM_BRIDGE_FRAME_MAX);
  sm_bridge_frame_reader_feed (exact, (const guint8 *) "{}", 2);
  g_assert_cmpint (sm_bridge_frame_reader_next (exact, &frame, &len), ==,
                   SM_BRIDGE_FRAME_NEED_MORE);
  g_assert_cmpuint (sm_bridge_frame_reader_pending (exact), ==, 6);
}

static void
precheck (const char *text,
          gboolean expect_ok,
          gboolean expect_overflow,
          gboolean expect_id_overflow)
{
  g_autoptr (GError) error = NULL;
  gboolean overflow, id_overflow;
  gboolean ok = sm_bridge_json_precheck (text, strlen (text), &overflow, &id_overflow, &error);

  g_assert_cmpint (ok, ==, expect_ok);
  if (!ok)
    {
      g_assert_nonnull (error);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (overflow, ==, expect_overflow);
  g_assert_cmpint (id_overflow, ==, expect_id_overflow);
}

static void
test_precheck (void)
{
  g_autofree char *deep = g_strnfill (SM_BRIDGE_JSON_MAX_DEPTH + 1, '[');
  g_autofree char *deep_ok = g_strnfill (SM_BRIDGE_JSON_MAX_DEPTH, '[');

  precheck ("{\"id\": 1, \"n\": 9223372036854775807}", TRUE, FALSE, FALSE);
  precheck ("{\"n\": -9223372036854775808}", TRUE, FALSE, FALSE);
  precheck ("{\"n\": 9223372036854775808}", TRUE, TRUE, FALSE);
  precheck ("{\"n\": -9223372036854775809}", TRUE, TRUE, FALSE);
  precheck ("{\"id\" : 99999999999999999999}", TRUE, TRUE, TRUE);
  precheck ("{\"p\": {\"id\": 99999999999999999999}}", TRUE, TRUE, FALSE);
  precheck ("{\"n\": 1.5e300, \"s\": \"99999999999999999999 [[[\"}", TRUE, FALSE, FALSE);
  precheck ("{\"s\": \"\\\"\", \"n\": 1}", TRUE, FALSE, FALSE);
  precheck (deep, FALSE, FALSE, FALSE);
  precheck (deep_ok, TRUE, FALSE, FALSE);
  precheck ("\"\xff\"", FALSE, FALSE, FALSE);
}

static void
test_camel_case (void)
{
  const char *cases[][2] = {
    { "session-id", "sessionId" },
    { "next-refresh-at", "nextRefreshAt" },
    { "owner", "owner" },
    { "from-peer-id", "fromPeerId" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = sm_bridge_camel_case (cases[i][0]);

      g_assert_cmpstr (out, ==, cases[i][1]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bridge/frame/split-and-joined", test_frame_split_and_joined);
  g_test_add_func ("/bridge/frame/limits", test_frame_limits);
  g_test_add_func ("/bridge/json/precheck", test_precheck);
  g_test_add_func ("/bridge/json/camel-case", test_camel_case);
  return g_test_run ();
}
