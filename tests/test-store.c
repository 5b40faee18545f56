/* The durable state's JSON round trip: every field of every model, unicode
 * ids, metadata of every D-Bus type and nesting, the journal's compaction
 * and loads of broken snapshots. Time is a manual clock. */

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-scheduler.h"
#include "sm-sessions.h"
#include "sm-store.h"

#include <glib/gstdio.h>
#include <math.h>

#define NOW ((gint64) 1700000000000)
#define HOUR ((gint64) 3600000)

static GVariant *
metadata_of_every_type (void)
{
  GVariantBuilder b, nested;
  static const guint8 bytes[] = { 0, 1, 0xff };

  g_variant_builder_init (&nested, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&nested, "{sv}", "v-in-v",
                         g_variant_new_variant (g_variant_new ("(ius)", -1, 2u, "x")));
  g_variant_builder_add (&nested, "{sv}", "empty", g_variant_new ("a{sv}", NULL));

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "y", g_variant_new_byte (255));
  g_variant_builder_add (&b, "{sv}", "b", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "n", g_variant_new_int16 (G_MININT16));
  g_variant_builder_add (&b, "{sv}", "q", g_variant_new_uint16 (G_MAXUINT16));
  g_variant_builder_add (&b, "{sv}", "i", g_variant_new_int32 (G_MININT32));
  g_variant_builder_add (&b, "{sv}", "u", g_variant_new_uint32 (G_MAXUINT32));
  g_variant_builder_add (&b, "{sv}", "x", g_variant_new_int64 (G_MININT64));
  g_variant_builder_add (&b, "{sv}", "t", g_variant_new_uint64 (G_MAXUINT64));
  g_variant_builder_add (&b, "{sv}", "d", g_variant_new_double (0.1));
  g_variant_builder_add (&b, "{sv}", "d-nan", g_variant_new_double (NAN));
  g_variant_builder_add (&b, "{sv}", "d-inf", g_variant_new_double (-INFINITY));
  g_variant_builder_add (&b, "{sv}", "d-tiny", g_variant_new_double (2.2250738585072014e-308));
  g_variant_builder_add (&b, "{sv}", "h", g_variant_new_handle (3));
  g_variant_builder_add (&b, "{sv}", "s",
                         g_variant_new_string ("O'Brien \"&\" <Ltd>\\ \xe2\x82\xbf \n\t"));
  g_variant_builder_add (&b, "{sv}", "o", g_variant_new_object_path ("/org/example/W"));
  g_variant_builder_add (&b, "{sv}", "g", g_variant_new_signature ("a{sv}(ii)"));
  g_variant_builder_add (&b, "{sv}", "ay",
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, 3, 1));
  g_variant_builder_add (&b, "{sv}", "as-empty", g_variant_new ("as", NULL));
  g_variant_builder_add (&b, "{sv}", "a{uy}", g_variant_new_parsed ("{uint32 1: byte 2}"));
  g_variant_builder_add (&b, "{sv}", "aav", g_variant_new_parsed ("[[<1>, <'x'>], @av []]"));
  g_variant_builder_add (&b, "{sv}", "nested", g_variant_builder_end (&nested));
  g_variant_builder_add (&b, "{sv}", "maybe", g_variant_new_parsed ("@mmi just nothing"));
  return g_variant_builder_end (&b);
}

static void
test_entry_text_round_trip (void)
{
  g_autoptr (GVariant) entry = g_variant_ref_sink (metadata_of_every_type ());
  g_autofree char *text = sm_store_entry_to_text (entry);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) back = sm_store_entry_from_text (text, &error);
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (back);
  /* Byte-for-byte: NaN and every type survive. */
  g_assert_true (g_variant_equal (entry, back));
  again = sm_store_entry_to_text (back);
  g_assert_cmpstr (again, ==, text);
  g_assert_nonnull (strstr (text, "uint32 4294967295"));
}

/* GLib's text parser refuses subnormal doubles: such an entry is kept as
 * serialized bytes and still comes back exactly. */
static void
test_entry_subnormal_double (void)
{
  g_autoptr (GVariant) entry =
      g_variant_ref_sink (g_variant_new_parsed ("{'d': <%d>, 'u': <uint32 5>}", 4.9e-324));
  g_autofree char *text = sm_store_entry_to_text (entry);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) back = sm_store_entry_from_text (text, &error);

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (text, "base64:"));
  g_assert_true (g_variant_equal (entry, back));
}

static void
test_entry_text_rejects (void)
{
  const char *bad[] = { "", "[1, 2]", "{'a': <1>", "<<<<1>>>>", "{'a': 1}" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) entry = sm_store_entry_from_text (bad[i], &error);

      g_assert_null (entry);
      g_assert_nonnull (error);
    }
}

typedef struct
{
  SmScheduler *scheduler;
  SmSessions *sessions;
  SmRequests *requests;
  SmPresence *presence;
  SmStore *store;
} Models;

static GVariant *
list_sessions (GObject *model)
{
  return sm_sessions_to_variant (SM_SESSIONS (model));
}

static GVariant *
get_session (GObject *model, const char *id)
{
  const SmSession *session = sm_sessions_lookup (SM_SESSIONS (model), id);

  return session != NULL ? sm_session_to_variant (session) : NULL;
}

static gboolean
restore_session (GObject *model, GVariant *entry, GError **error)
{
  return sm_sessions_restore (SM_SESSIONS (model), entry, error);
}

static GVariant *
list_requests (GObject *model)
{
  return sm_requests_to_variant (SM_REQUESTS (model));
}

static GVariant *
get_request (GObject *model, const char *id)
{
  const SmRequest *request = sm_requests_lookup (SM_REQUESTS (model), id);

  return request != NULL ? sm_request_to_variant (request) : NULL;
}

static gboolean
restore_request (GObject *model, GVariant *entry, GError **error)
{
  return sm_requests_restore (SM_REQUESTS (model), entry, error);
}

static GVariant *
list_presence (GObject *model)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  if (sm_presence_is_configured (SM_PRESENCE (model)))
    g_variant_builder_add_value (&builder, sm_presence_to_variant (SM_PRESENCE (model)));
  return g_variant_builder_end (&builder);
}

static GVariant *
get_presence (GObject *model, const char *id G_GNUC_UNUSED)
{
  return sm_presence_is_configured (SM_PRESENCE (model))
             ? sm_presence_to_variant (SM_PRESENCE (model))
             : NULL;
}

static gboolean
restore_presence (GObject *model, GVariant *entry, GError **error)
{
  return sm_presence_restore (SM_PRESENCE (model), entry, error);
}

static void
models_init (Models *m, const char *dir, gint64 now)
{
  m->scheduler = sm_scheduler_new_manual (now);
  m->sessions = sm_sessions_new (m->scheduler);
  m->requests = sm_requests_new (m->scheduler);
  m->presence = sm_presence_new (m->scheduler);
  m->store = sm_store_new (dir);
  sm_store_add_section (m->store, "sessions", G_OBJECT (m->sessions), "session-id", list_sessions,
                        get_session, restore_session);
  sm_store_add_section (m->store, "requests", G_OBJECT (m->requests), "request-id", list_requests,
                        get_request, restore_request);
  sm_store_add_section (m->store, "presence", G_OBJECT (m->presence), NULL, list_presence,
                        get_presence, restore_presence);
}

static void
models_clear (Models *m)
{
  g_clear_object (&m->store);
  g_clear_object (&m->presence);
  g_clear_object (&m->requests);
  g_clear_object (&m->sessions);
  g_clear_object (&m->scheduler);
}

static char *
print (GVariant *value)
{
  g_autoptr (GVariant) sunk = g_variant_ref_sink (value);

  return g_variant_print (sunk, TRUE);
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
test_models_round_trip (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *sessions_before = NULL, *requests_before = NULL, *sessions_after = NULL,
                  *requests_after = NULL;
  g_autoptr (GVariant) presence_before = NULL, presence_after = NULL;
  g_autoptr (GError) error = NULL;
  GVariantBuilder options;
  Models m = { 0 };
  const char *ids[] = { "plain", "\xc3\xa9t\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87",
                        "\xf0\x9f\x94\x91 key", "quote'\"\\ and {braces} <v>" };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  g_assert_true (sm_store_is_writable (m.store));

  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&options, "{sv}", "metadata", metadata_of_every_type ());
      g_variant_builder_add (&options, "{sv}", "session-type", g_variant_new_string (ids[i]));
      g_variant_builder_add (&options, "{sv}", "warn-thresholds",
                             g_variant_new_parsed ("[int64 3000000, 600000, 60000]"));
      g_variant_builder_add (&options, "{sv}", "warn-before-minutes", g_variant_new_uint32 (7));
      g_variant_builder_add (&options, "{sv}", "app-id", g_variant_new_string ("org.example.W"));
      g_variant_builder_add (&options, "{sv}", "url", g_variant_new_string ("wallet://x"));
      g_assert_true (sm_sessions_register (m.sessions, ids[i], NOW + HOUR + (gint64) i,
                                           g_variant_builder_end (&options), &error));
      g_assert_no_error (error);
    }
  g_assert_true (
      sm_sessions_register (m.sessions, "gone", NOW + HOUR, g_variant_new ("a{sv}", NULL), &error));
  g_assert_true (sm_sessions_unregister (m.sessions, "gone", "", &error));

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "from-nickname", g_variant_new_string ("B\xc3\xb6"));
  g_variant_builder_add (&options, "{sv}", "amount", g_variant_new_string ("0.1"));
  g_variant_builder_add (&options, "{sv}", "purpose", g_variant_new_string ("rent"));
  g_assert_true (sm_requests_register (m.requests, "req-\xf0\x9f\x94\x91", "plain", "peer",
                                       NOW + HOUR, g_variant_builder_end (&options), &error));
  g_assert_no_error (error);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "peer-id", g_variant_new_string ("12D3"));
  g_assert_true (sm_presence_update (m.presence, ":1.42", "bc1q", 60000,
                                     g_variant_builder_end (&options), &error));

  /* The first warning (50 min before) is sent: warnings-sent must come back. */
  sm_scheduler_set_now (m.scheduler, NOW + HOUR - 3000000 + 10);

  sessions_before = print (sm_sessions_to_variant (m.sessions));
  requests_before = print (sm_requests_to_variant (m.requests));
  presence_before = g_variant_ref_sink (sm_presence_to_variant (m.presence));
  g_assert_nonnull (strstr (sessions_before, "'warnings-sent': <[int64 3000000]>"));
  models_clear (&m);

  /* Everything came through the journal alone (no compaction yet). */
  models_init (&m, dir, NOW + HOUR - 3000000 + 20);
  sm_store_load (m.store);
  sessions_after = print (sm_sessions_to_variant (m.sessions));
  requests_after = print (sm_requests_to_variant (m.requests));
  presence_after = g_variant_ref_sink (sm_presence_to_variant (m.presence));
  g_assert_cmpstr (sessions_after, ==, sessions_before);
  g_assert_cmpstr (requests_after, ==, requests_before);
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, G_N_ELEMENTS (ids));
  for (const char *const *key = (const char *const[]){ "wallet-address", "ttl", "last-refresh",
                                                       "owner", "peer-id", NULL };
       *key != NULL; key++)
    {
      g_autoptr (GVariant) a = g_variant_lookup_value (presence_before, *key, NULL);
      g_autoptr (GVariant) b = g_variant_lookup_value (presence_after, *key, NULL);

      g_assert_nonnull (a);
      g_assert_nonnull (b);
      g_assert_true (g_variant_equal (a, b));
    }
  {
    gboolean connected = TRUE;

    g_assert_true (g_variant_lookup (presence_after, "owner-connected", "b", &connected));
    g_assert_false (connected);
  }
  models_clear (&m);

  /* And once more from the snapshot the load wrote. */
  models_init (&m, dir, NOW + HOUR - 3000000 + 30);
  sm_store_load (m.store);
  g_clear_pointer (&sessions_after, g_free);
  sessions_after = print (sm_sessions_to_variant (m.sessions));
  g_assert_cmpstr (sessions_after, ==, sessions_before);
  models_clear (&m);
  remove_tree (dir);
}

static void
test_compaction (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *snapshot = g_build_filename (dir, "state.json", NULL);
  g_autoptr (GError) error = NULL;
  GStatBuf st;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  for (guint i = 0; i < 2500; i++)
    {
      g_autofree char *id = g_strdup_printf ("s%u", i);

      g_assert_true (
          sm_sessions_register (m.sessions, id, NOW + HOUR, g_variant_new ("a{sv}", NULL), &error));
      /* The compaction runs from an idle source, as in the daemon. */
      while (g_main_context_iteration (NULL, FALSE))
        ;
    }
  /* Compacted once, after change 1001; the next is due after 2002 more:
   * the journal holds only the changes since. */
  {
    g_autofree char *contents = NULL;
    guint lines = 0;

    g_assert_true (g_file_get_contents (journal, &contents, NULL, NULL));
    for (const char *p = contents; *p != '\0'; p++)
      lines += *p == '\n';
    g_assert_cmpuint (lines, ==, 2500 - 1001);
  }
  g_assert_cmpint (g_stat (snapshot, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 1001 * 100);
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, 2500);
  models_clear (&m);
  remove_tree (dir);
}

static void
test_bad_snapshots (void)
{
  const char *bad[] = {
    "",
    "{",
    "[]",
    "{\"version\": 2}",
    "{\"version\": 0}",
    "{\"version\": 1.5}",
    "{\"version\": 1, \"sessions\": []}",
    "{\"version\": 1, \"sessions\": {\"a\": null}}",
    "{\"version\": 1, \"presence\": 3}",
    "{\"version\": 1, \"presence\": \"{'x': <\"}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      Models m = { 0 };

      models_init (&m, NULL, NOW);
      g_assert_false (sm_store_load_data (m.store, bad[i], strlen (bad[i]), &error));
      g_assert_nonnull (error);
      g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, 0);
      models_clear (&m);
    }
}

static void
test_invalid_entries_are_dropped (void)
{
  const char *data = "{\"version\": 1, \"unknown\": [1], \"sessions\": {"
                     "\"ok\": \"{'session-id': <'ok'>, 'expires-at': <int64 1700003600000>}\","
                     "\"bad\": \"{'session-id': <'bad'>, 'expires-at': <'soon'>}\"}}";
  g_autoptr (GError) error = NULL;
  Models m = { 0 };

  models_init (&m, NULL, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping sessions entry \"bad\"*");
  g_assert_true (sm_store_load_data (m.store, data, strlen (data), &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (sm_sessions_lookup (m.sessions, "ok"));
  g_assert_null (sm_sessions_lookup (m.sessions, "bad"));
  models_clear (&m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store/entry-text-round-trip", test_entry_text_round_trip);
  g_test_add_func ("/store/entry-subnormal-double", test_entry_subnormal_double);
  g_test_add_func ("/store/entry-text-rejects", test_entry_text_rejects);
  g_test_add_func ("/store/models-round-trip", test_models_round_trip);
  g_test_add_func ("/store/compaction", test_compaction);
  g_test_add_func ("/store/bad-snapshots", test_bad_snapshots);
  g_test_add_func ("/store/invalid-entries-dropped", test_invalid_entries_are_dropped);
  return g_test_run ();
}
