/* SPDX-License-Identifier: GPL-3.0-or-later */

/* SmVardictWriter writes the bytes GLib's own serializer writes for the same
 * aa{sv}: checked against g_variant_get_data() of the tree, at every width
 * of framing offsets, and for the listings of sessions and requests. */

#include "sm-requests.h"
#include "sm-sessions.h"
#include "sm-storable.h"
#include "sm-vardict-writer.h"

#include <string.h>

#define T0 ((gint64) 1700000000000)

static void
assert_same_bytes (GVariant *written, GVariant *expected)
{
  g_autoptr (GVariant) w = g_variant_ref_sink (written);
  g_autoptr (GVariant) e = g_variant_ref_sink (expected);

  g_assert_cmpstr (g_variant_get_type_string (w), ==, "aa{sv}");
  g_assert_true (g_variant_is_normal_form (w));
  g_assert_cmpuint (g_variant_get_size (w), ==, g_variant_get_size (e));
  g_assert_cmpmem (g_variant_get_data (w), g_variant_get_size (w), g_variant_get_data (e),
                   g_variant_get_size (e));
  g_assert_true (g_variant_equal (w, e));
}

static void
test_empty (void)
{
  SmVardictWriter writer;

  sm_vardict_writer_init (&writer, 0);
  assert_same_bytes (sm_vardict_writer_finish (&writer), g_variant_new ("aa{sv}", NULL));

  sm_vardict_writer_init (&writer, 16);
  sm_vardict_writer_begin (&writer);
  sm_vardict_writer_end (&writer);
  sm_vardict_writer_begin (&writer);
  sm_vardict_writer_end (&writer);
  assert_same_bytes (sm_vardict_writer_finish (&writer),
                     g_variant_new_parsed ("@aa{sv} [@a{sv} {}, {}]"));
}

/* Values of each kind, with a string of @len bytes: offsets of 1, 2, 4
 * bytes as the containers grow past 255 and 65535 bytes. */
static void
test_types (gconstpointer data)
{
  gsize len = GPOINTER_TO_SIZE (data);
  g_autofree char *text = g_strnfill (len, 'x');
  const gint64 values[] = { 600000, -1, G_MAXINT64 };
  g_autoptr (GVariantBuilder) list = g_variant_builder_new (G_VARIANT_TYPE ("aa{sv}"));
  SmVardictWriter writer;

  sm_vardict_writer_init (&writer, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GVariant) meta = g_variant_ref_sink (
          g_variant_new_parsed ("{'k': <%s>, 'n': <int32 7>}", i == 1 ? text : ""));
      GVariantBuilder dict;

      g_variant_builder_init (&dict, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&dict, "{sv}", "s", g_variant_new_string (text));
      g_variant_builder_add (&dict, "{sv}", "x", g_variant_new_int64 (-5 - i));
      g_variant_builder_add (&dict, "{sv}", "u", g_variant_new_uint32 (42 + i));
      g_variant_builder_add (&dict, "{sv}", "ax",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, i, 8));
      g_variant_builder_add (&dict, "{sv}", "metadata", meta);
      g_variant_builder_add (&dict, "{sv}", "", g_variant_new_string (""));
      g_variant_builder_add_value (list, g_variant_builder_end (&dict));

      sm_vardict_writer_begin (&writer);
      sm_vardict_writer_add_string (&writer, "s", text);
      sm_vardict_writer_add_int64 (&writer, "x", -5 - i);
      sm_vardict_writer_add_uint32 (&writer, "u", 42 + i);
      sm_vardict_writer_add_int64_array (&writer, "ax", values, i);
      sm_vardict_writer_add_value (&writer, "metadata", meta);
      sm_vardict_writer_add_string (&writer, "", "");
      sm_vardict_writer_end (&writer);
    }
  assert_same_bytes (sm_vardict_writer_finish (&writer), g_variant_builder_end (list));
}

/* What a table lists is what the items' own a{sv} forms make. */
static GVariant *
expected_list (GPtrArray *items, GVariant *(*to_variant) (gconstpointer item))
{
  g_autofree GVariant **children = g_new (GVariant *, items->len + 1);

  for (guint i = 0; i < items->len; i++)
    children[i] = to_variant (items->pdata[i]);
  return g_variant_new_array (G_VARIANT_TYPE_VARDICT, children, items->len);
}

/* Options as a call hands them over: owned by the caller, not floating. */
static GVariant *
options (GPtrArray *keep, const char *text)
{
  GVariant *value = g_variant_ref_sink (g_variant_new_parsed (text, NULL));

  g_ptr_array_add (keep, value);
  return value;
}

static void
test_sessions (void)
{
  g_autoptr (SmScheduler) scheduler = sm_scheduler_new_manual (T0);
  g_autoptr (SmSessions) sessions = sm_sessions_new (scheduler);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  g_assert_true (
      sm_sessions_register (sessions, "plain", T0 + 3600000, options (keep, "@a{sv} {}"), &error));
  g_assert_true (sm_sessions_register (
      sessions, "full", T0 + 400000,
      options (keep, "{'session-type': <'keygen'>, 'app-id': <'org.example.W'>, "
                     "'url': <'https://example.org/s/1'>, 'warn-before-minutes': <uint32 9>, "
                     "'warn-thresholds': <[int64 500000, 390000, 1000]>, "
                     "'metadata': <{'a': <'b'>, 'n': <[byte 1, 2]>, 'x': <int64 3>}>}"),
      &error));
  g_assert_no_error (error);
  /* The first two warnings of "full" are sent: "warnings-sent" changes. */
  sm_scheduler_set_now (scheduler, T0 + 20000);
  g_assert_cmpuint (sm_sessions_lookup (sessions, "full")->sent_mask, ==, 3);
  g_assert_true (sm_sessions_register (sessions, "same-time", T0 + 400000,
                                       options (keep, "{'app-id': <'z'>}"), &error));

  list = sm_sessions_list (sessions);
  assert_same_bytes (sm_sessions_to_variant (sessions),
                     expected_list (list, (GVariant * (*) (gconstpointer)) sm_session_to_variant));
}

/* What the store journals for an entry (sm_storable_serialize()) is the
 * entry's own serialized form, floating as the interface returns it, and
 * nothing for an id the model does not hold. */
static void
assert_storable (gpointer model,
                 const char *id_key,
                 GPtrArray *list,
                 GVariant *(*to_variant) (gconstpointer))
{
  g_assert_null (sm_storable_serialize (SM_STORABLE (model), "none"));
  for (guint i = 0; i < list->len; i++)
    {
      g_autoptr (GVariant) expected = g_variant_ref_sink (to_variant (list->pdata[i]));
      const char *id = NULL;
      GVariant *stored;

      g_assert_true (g_variant_lookup (expected, id_key, "&s", &id));
      stored = sm_storable_serialize (SM_STORABLE (model), id);
      g_assert_true (g_variant_is_floating (stored));
      g_variant_ref_sink (stored);
      g_assert_cmpstr (g_variant_get_type_string (stored), ==, "a{sv}");
      g_assert_cmpmem (g_variant_get_data (stored), g_variant_get_size (stored),
                       g_variant_get_data (expected), g_variant_get_size (expected));
      g_variant_unref (stored);
    }
}

static void
test_storable (void)
{
  g_autoptr (SmScheduler) scheduler = sm_scheduler_new_manual (T0);
  g_autoptr (SmSessions) sessions = sm_sessions_new (scheduler);
  g_autoptr (SmRequests) requests = sm_requests_new (scheduler);
  g_autoptr (GPtrArray) sessions_list = NULL;
  g_autoptr (GPtrArray) requests_list = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autofree char *big = g_strnfill (60000, 'm');
  GVariantBuilder metadata;
  GVariant *big_options;

  /* Offsets of one byte, and of two (an entry near the 64 KiB cap). */
  g_assert_true (
      sm_sessions_register (sessions, "small", T0 + 3600000, options (keep, "@a{sv} {}"), &error));
  g_variant_builder_init (&metadata, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&metadata, "{sv}", "text", g_variant_new_string (big));
  big_options = g_variant_ref_sink (g_variant_new_parsed (
      "{'metadata': <%@a{sv}>, 'app-id': <'a'>, 'url': <'u'>}", g_variant_builder_end (&metadata)));
  g_ptr_array_add (keep, big_options);
  g_assert_true (sm_sessions_register (sessions, "big", T0 + 400000, big_options, &error));
  g_assert_true (sm_requests_register (requests, "r1", "s1", "peer", T0 + 60000,
                                       options (keep, "{'purpose': <'rent'>}"), &error));
  g_assert_no_error (error);

  sessions_list = sm_sessions_list (sessions);
  requests_list = sm_requests_list (requests);
  assert_storable (sessions, "session-id", sessions_list,
                   (GVariant * (*) (gconstpointer)) sm_session_to_variant);
  assert_storable (requests, "request-id", requests_list,
                   (GVariant * (*) (gconstpointer)) sm_request_to_variant);
}

static void
test_requests (void)
{
  g_autoptr (SmScheduler) scheduler = sm_scheduler_new_manual (T0);
  g_autoptr (SmRequests) requests = sm_requests_new (scheduler);
  g_autoptr (SmRequests) none = sm_requests_new (scheduler);
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);

  g_assert_true (sm_requests_register (requests, "r1", "s1", "peer", T0 + 60000,
                                       options (keep, "@a{sv} {}"), &error));
  g_assert_true (
      sm_requests_register (requests, "r2", "s1", "peer2", T0 + 30000,
                            options (keep, "{'from-nickname': <'Al'>, 'amount': <'1 BTC'>, "
                                           "'purpose': <'rent'>, 'app-id': <'a'>, 'url': <'u'>}"),
                            &error));
  g_assert_no_error (error);

  list = sm_requests_list (requests);
  assert_same_bytes (sm_requests_to_variant (requests),
                     expected_list (list, (GVariant * (*) (gconstpointer)) sm_request_to_variant));
  assert_same_bytes (sm_requests_to_variant (none), g_variant_new ("aa{sv}", NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vardict-writer/empty", test_empty);
  g_test_add_data_func ("/vardict-writer/offsets-1", GSIZE_TO_POINTER (3), test_types);
  g_test_add_data_func ("/vardict-writer/offsets-2", GSIZE_TO_POINTER (300), test_types);
  g_test_add_data_func ("/vardict-writer/offsets-4", GSIZE_TO_POINTER (70000), test_types);
  g_test_add_func ("/vardict-writer/sessions", test_sessions);
  g_test_add_func ("/vardict-writer/requests", test_requests);
  g_test_add_func ("/vardict-writer/storable", test_storable);
  return g_test_run ();
}
