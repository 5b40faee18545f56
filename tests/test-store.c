/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The durable state's JSON round trip: every field of every model, unicode
 * ids, metadata of every D-Bus type and nesting, the journal's compaction
 * and loads of broken snapshots. Time is a manual clock. */

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-scheduler.h"
#include "sm-sessions.h"
#include "sm-error.h"
#include "sm-store-codec.h"
#include "test-store-sections.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW ((gint64) 1700000000000)
#define HOUR ((gint64) 3600000)
/* SM_JOURNAL_MIN_COMPACT_BYTES, which is private to the store. */
#define SM_JOURNAL_MIN_COMPACT_BYTES_FOR_TEST (1024 * 1024)

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
  /* No maybe type: D-Bus has none, and the options check refuses one. */
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
  g_assert_true (g_str_has_prefix (text, "base64:"));
}

/* Files written before entries were kept as bytes hold g_variant_print()
 * text: it still loads, exactly. */
static void
test_entry_legacy_text (void)
{
  g_autoptr (GVariant) plain = NULL;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) back = NULL;

  /* Without the subnormal double, which the text parser refuses. */
  plain = g_variant_ref_sink (g_variant_new_parsed ("{'u': <uint32 4294967295>, 'd': <0.1>, "
                                                    "'s': <'O\\'Brien'>, 'n': <@mi nothing>}"));
  text = g_variant_print (plain, TRUE);
  back = sm_store_entry_from_text (text, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (plain, back));
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
  /* The last three make GLib's own parser fail with a critical (fatal in
   * tests) unless refused first: found by fuzz-state. */
  const char *bad[] = {
    "",
    "[1, 2]",
    "{'a': <1>",
    "<<<<1>>>>",
    "{'a': 1}",
    "{'a': <'\\ud800'>}",
    "{'a': <'\\U00110000'>}",
    "{'a': <'\xff'>}",
  };

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

static void
models_init (Models *m, const char *dir, gint64 now)
{
  m->scheduler = sm_scheduler_new_manual (now);
  m->sessions = sm_sessions_new (m->scheduler);
  m->requests = sm_requests_new (m->scheduler);
  m->presence = sm_presence_new (m->scheduler);
  m->store = sm_store_new (dir);
  sm_store_add_sessions (m->store, "sessions", m->sessions);
  sm_store_add_requests (m->store, "requests", m->requests);
  sm_store_add_presence (m->store, "presence", m->presence);
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

/* The models take their arguments as a D-Bus handler passes them: not
 * floating. */
static GVariant *
keep (GPtrArray *held, GVariant *value)
{
  g_ptr_array_add (held, g_variant_ref_sink (value));
  return value;
}

static void
register_session (Models *m, const char *id, gint64 expires_at)
{
  g_autoptr (GVariant) options = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr (GError) error = NULL;

  g_assert_true (sm_sessions_register (m->sessions, id, expires_at, options, &error));
  g_assert_no_error (error);
}

static void
register_filler_requests (Models *m, guint n)
{
  g_autofree char *purpose = g_strnfill (4000, 'p');
  g_autoptr (GVariant) options =
      g_variant_ref_sink (g_variant_new_parsed ("{'purpose': <%s>}", purpose));

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("filler-%u", i);

      g_assert_true (
          sm_requests_register (m->requests, id, "s", "peer", NOW + HOUR, options, NULL));
    }
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
  g_autoptr (GPtrArray) held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
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
                                           keep (held, g_variant_builder_end (&options)), &error));
      g_assert_no_error (error);
    }
  register_session (&m, "gone", NOW + HOUR);
  g_assert_true (sm_sessions_unregister (m.sessions, "gone", "", &error));

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "from-nickname", g_variant_new_string ("B\xc3\xb6"));
  g_variant_builder_add (&options, "{sv}", "amount", g_variant_new_string ("0.1"));
  g_variant_builder_add (&options, "{sv}", "purpose", g_variant_new_string ("rent"));
  g_assert_true (sm_requests_register (m.requests, "req-\xf0\x9f\x94\x91", "plain", "peer",
                                       NOW + HOUR, keep (held, g_variant_builder_end (&options)),
                                       &error));
  g_assert_no_error (error);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "peer-id", g_variant_new_string ("12D3"));
  g_assert_true (sm_presence_update (m.presence, ":1.42", "bc1q", 60000,
                                     keep (held, g_variant_builder_end (&options)), &error));

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

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* "id=expires_at ..." in id order: the whole sessions state at a glance. */
static char *
sessions_summary (Models *m)
{
  g_autoptr (GPtrArray) list = sm_sessions_list (m->sessions);
  g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < list->len; i++)
    {
      const SmSession *session = list->pdata[i];

      g_ptr_array_add (
          words, g_strdup_printf ("%s=%" G_GINT64_FORMAT, session->id, session->expires_at - NOW));
    }
  g_ptr_array_sort (words, compare_strings);
  g_ptr_array_add (words, NULL);
  return g_strjoinv (" ", (char **) words->pdata);
}

static guint
count_lines (const char *path)
{
  g_autofree char *contents = NULL;
  guint lines = 0;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  for (const char *p = contents; *p != '\0'; p++)
    lines += *p == '\n';
  return lines;
}

static gsize
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gsize) st.st_size : 0;
}

static void
register_session_with_metadata (Models *m, const char *id, gint64 expires_at, gsize size)
{
  g_autofree char *text = g_strnfill (size, 'm');
  g_autoptr (GVariant) options =
      g_variant_ref_sink (g_variant_new_parsed ("{'metadata': <{'blob': <%s>}>}", text));
  g_autoptr (GError) error = NULL;

  g_assert_true (sm_sessions_register (m->sessions, id, expires_at, options, &error));
  g_assert_no_error (error);
}

/* Sustained churn that never lets the main loop go idle (as 64 calls in
 * flight do): the compaction is driven by the write path, so the journals
 * stay within their bound, and everything loads back. */
static void
test_compaction (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *old = g_build_filename (dir, "state.journal.old", NULL);
  g_autofree char *snapshot = g_build_filename (dir, "state.json", NULL);
  g_autofree char *before = NULL, *after = NULL;
  gsize max_journals = 0, max_snapshot = 0, line = 0;
  guint64 snapshot_ino = 0;
  guint snapshots = 0;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  for (guint i = 0; i < 20000; i++)
    {
      g_autofree char *id = g_strdup_printf ("s%03u", g_test_rand_int_range (0, 200));
      gsize journal_before = file_size (journal);
      GStatBuf st;

      register_session_with_metadata (&m, id, NOW + HOUR + i, 2048);
      if (file_size (journal) > journal_before)
        line = MAX (line, file_size (journal) - journal_before);
      if (g_stat (snapshot, &st) == 0 && st.st_ino != snapshot_ino)
        {
          snapshots++;
          snapshot_ino = st.st_ino;
          max_snapshot = MAX (max_snapshot, (gsize) st.st_size);
        }
      max_journals = MAX (max_journals, file_size (journal) + file_size (old));
    }
  g_test_message ("largest snapshot %" G_GSIZE_FORMAT " bytes, journals at most %" G_GSIZE_FORMAT
                  " bytes, %u snapshots, one change %" G_GSIZE_FORMAT " bytes",
                  max_snapshot, max_journals, snapshots, line);
  /* 200 live sessions of about 3 KiB: 40 MiB were journaled in all. */
  g_assert_cmpuint (max_snapshot, >, 200 * 2048);
  g_assert_cmpuint (snapshots, >, 10);
  g_assert_cmpuint (max_journals, <=,
                    2 * (MAX (SM_JOURNAL_MIN_COMPACT_BYTES_FOR_TEST, 2 * max_snapshot) + line));
  sm_store_wait (m.store);
  before = sessions_summary (&m);
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, 200);
  after = sessions_summary (&m);
  g_assert_cmpstr (after, ==, before);
  models_clear (&m);
  remove_tree (dir);
}

/* Stopped after the journal was rotated, before the new snapshot was in
 * place: the old snapshot, the old journal and the new one together hold
 * everything, and the next start folds them. */
static void
test_old_journal_before_snapshot (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *old = g_build_filename (dir, "state.journal.old", NULL);
  g_autofree char *summary = NULL;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  register_session (&m, "a", NOW + HOUR);
  register_session (&m, "b", NOW + HOUR);
  /* Enough state that the two changes below do not capture all of it. */
  register_filler_requests (&m, 50);
  models_clear (&m);
  /* What a rotation does. */
  g_assert_cmpint (g_rename (journal, old), ==, 0);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "a=3600000 b=3600000");
  /* Its compaction (rotating once more into the same old journal) is cut
   * short by a stop before the writer starts. */
  g_assert_true (g_file_test (old, G_FILE_TEST_EXISTS));
  register_session (&m, "c", NOW + 2 * HOUR);
  g_assert_true (sm_sessions_unregister (m.sessions, "a", "", NULL));
  models_clear (&m);
  g_assert_cmpuint (count_lines (old), ==, 52);
  g_assert_cmpuint (count_lines (journal), ==, 2);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  g_clear_pointer (&summary, g_free);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "b=3600000 c=7200000");
  sm_store_wait (m.store);
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_lines (journal), ==, 0);
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  g_clear_pointer (&summary, g_free);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "b=3600000 c=7200000");
  models_clear (&m);
  remove_tree (dir);
}

/* Stopped after the new snapshot was renamed in place, before the old
 * journal was removed: replaying the stale old journal over the newer
 * snapshot is undone by the new journal, which follows it. */
static void
test_old_journal_after_snapshot (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *old = g_build_filename (dir, "state.journal.old", NULL);
  g_autofree char *stale = NULL;
  g_autofree char *summary = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  register_session (&m, "a", NOW + HOUR);
  register_session (&m, "b", NOW + HOUR);
  g_assert_true (g_file_get_contents (journal, &stale, &length, NULL));
  g_assert_true (sm_store_compact (m.store, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_lines (journal), ==, 0);
  /* Changed after the snapshot: only the new journal says so. */
  g_assert_true (sm_sessions_unregister (m.sessions, "a", "", NULL));
  register_session (&m, "b", NOW + 3 * HOUR);
  models_clear (&m);
  g_assert_true (g_file_set_contents (old, stale, (gssize) length, NULL));

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "b=10800000");
  sm_store_wait (m.store);
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  g_clear_pointer (&summary, g_free);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "b=10800000");
  models_clear (&m);
  remove_tree (dir);
}

/* A snapshot that cannot be written puts the old journal back in front of
 * the new one: nothing is lost, and the journal alone says it all. */
static void
test_failed_compaction_merges_back (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *old = g_build_filename (dir, "state.journal.old", NULL);
  g_autofree char *snapshot = g_build_filename (dir, "state.json", NULL);
  g_autofree char *summary = NULL;
  g_autoptr (GError) error = NULL;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  register_session (&m, "a", NOW + HOUR);
  register_session (&m, "b", NOW + HOUR);
  /* A directory where the snapshot goes: renaming over it fails. */
  g_assert_cmpint (g_unlink (snapshot), ==, 0);
  g_assert_cmpint (g_mkdir (snapshot, 0700), ==, 0);

  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Cannot write the state snapshot*");
  g_assert_false (sm_store_compact (m.store, &error));
  g_test_assert_expected_messages ();
  g_assert_nonnull (error);
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_lines (journal), ==, 2);
  register_session (&m, "c", NOW + HOUR);
  /* (Written at the end of the main-loop iteration, or a commit.) */
  sm_store_commit (m.store);
  g_assert_cmpuint (count_lines (journal), ==, 3);

  /* The same from the background: the thread fails, the main loop merges. */
  g_clear_error (&error);
  models_clear (&m);
  models_init (&m, dir, NOW);
  /* (A directory in its place at start would be set aside.) */
  g_assert_cmpint (g_rmdir (snapshot), ==, 0);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Cannot write the state snapshot*");
  sm_store_load (m.store);
  g_assert_cmpint (g_mkdir (snapshot, 0700), ==, 0);
  register_session (&m, "d", NOW + HOUR);
  while (g_file_test (old, G_FILE_TEST_EXISTS))
    g_main_context_iteration (NULL, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_test_assert_expected_messages ();
  g_assert_cmpuint (count_lines (journal), ==, 4);
  g_assert_cmpint (g_rmdir (snapshot), ==, 0);
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "a=3600000 b=3600000 c=3600000 d=3600000");
  sm_store_wait (m.store);
  g_assert_cmpuint (count_lines (journal), ==, 0);
  models_clear (&m);
  remove_tree (dir);
}

/* The line of @path's @n-th record (from 0) names @id. */
static void
assert_record_id (const char *path, guint n, const char *id)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *needle = g_strdup_printf ("\"id\":\"%s\"", id);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >, n);
  g_assert_nonnull (strstr (lines[n], needle));
}

/* The records of the daemon's own changes (expiries, warnings sent) are
 * held back until the end of the main-loop iteration and written
 * together; a call's change is written at once, after them. Held back
 * while a compaction fails, they are not lost. */
static void
test_daemon_records_held_back (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *snapshot = g_build_filename (dir, "state.json", NULL);
  g_autofree char *summary = NULL;
  g_autoptr (GError) error = NULL;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  g_assert_cmpuint (count_lines (journal), ==, 0);
  register_session (&m, "a", NOW + HOUR);
  register_session (&m, "b", NOW + 3 * HOUR);
  g_assert_cmpuint (count_lines (journal), ==, 0);
  g_assert_true (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpuint (count_lines (journal), ==, 2);

  /* The expiry of "a", then a call's change: written in that order. */
  sm_scheduler_set_now (m.scheduler, NOW + HOUR);
  g_assert_cmpuint (count_lines (journal), ==, 2);
  g_assert_true (sm_store_prepare (m.store, 4096, &error));
  g_assert_no_error (error);
  register_session (&m, "c", NOW + 2 * HOUR);
  g_assert_cmpuint (count_lines (journal), ==, 4);
  assert_record_id (journal, 2, "a");
  assert_record_id (journal, 3, "c");
  sm_store_commit (m.store);
  models_clear (&m);

  /* A compaction in the background whose snapshot cannot be written
   * (a directory in its place) puts the old journal back in front of the
   * new one: a record held back meanwhile goes in after them. */
  g_assert_cmpint (g_unlink (snapshot), ==, 0); /* (empty: all is in the journal) */
  models_init (&m, dir, NOW + HOUR);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Cannot write the state snapshot*");
  sm_store_load (m.store);
  g_assert_cmpint (g_mkdir (snapshot, 0700), ==, 0);
  register_session (&m, "d", NOW + 2 * HOUR);
  sm_store_wait (m.store);
  g_test_assert_expected_messages ();
  g_assert_cmpint (g_rmdir (snapshot), ==, 0);
  models_clear (&m);

  models_init (&m, dir, NOW + HOUR);
  sm_store_load (m.store);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "b=10800000 c=7200000 d=7200000");
  models_clear (&m);
  remove_tree (dir);
}

/* Entries change while a compaction takes them slice by slice: whatever
 * the snapshot caught, the next start sees the latest state. */
static void
test_changes_during_compaction (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *before = NULL, *after = NULL;
  g_autoptr (GError) error = NULL;
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *id = g_strdup_printf ("s%04u", i);

      register_session (&m, id, NOW + HOUR + i);
    }
  sm_store_wait (m.store);
  g_assert_true (sm_store_compact (m.store, &error));
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  /* One slice of the start-up compaction, then changes all over. */
  g_main_context_iteration (NULL, FALSE);
  for (guint i = 0; i < 3000; i += 7)
    {
      g_autofree char *id = g_strdup_printf ("s%04u", i);

      if (i % 2 == 0)
        g_assert_true (sm_sessions_unregister (m.sessions, id, "", NULL));
      else
        register_session (&m, id, NOW + 2 * HOUR + i);
    }
  register_session (&m, "new", NOW + HOUR);
  sm_store_wait (m.store);
  before = sessions_summary (&m);
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, 3000 - 215 + 1);
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  after = sessions_summary (&m);
  g_assert_cmpstr (after, ==, before);
  models_clear (&m);
  remove_tree (dir);
}

static void
test_bad_snapshots (void)
{
  const char *bad[] = {
    "",
    "\n",
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

#define ENTRY_A "{'session-id': <'a'>, 'expires-at': <int64 1700003600000>}"
#define ENTRY_B "{'session-id': <'b'>, 'expires-at': <int64 1700007200000>}"

/* A snapshot as this daemon writes it is read without a JSON parser; any
 * other valid JSON (order, spacing, escapes, repeated members: the last
 * wins) loads to what json-glib reads, and what json-glib refuses is
 * refused. */
static void
test_snapshot_any_json (void)
{
  static const struct
  {
    const char *text;
    const char *summary; /* NULL: refused */
  } cases[] = {
    { "{\"version\":1,\n\"sessions\":{\n\"a\":\"" ENTRY_A "\",\n\"b\":\"" ENTRY_B
      "\"},\n\"requests\":{},\n\"presence\":null,\n\"notifications\":null}",
      "a=3600000 b=7200000" },
    { " {\n \"version\" : 1 ,\t\"sessions\" : { \"a\" : \"" ENTRY_A "\" } }\r\n", "a=3600000" },
    { "{\"sessions\":{\"a\":\"" ENTRY_A "\"},\"version\":1}", "a=3600000" },
    { "{\"version\":1,\"sessions\":{\"\\u0061\":\"" ENTRY_A "\"}}", "a=3600000" },
    { "{\"version\":1,\"x\":\"y\",\"z\":{\"k\":\"v\"},\"w\":[1,{\"a\":2}],\"sessions\":{\"a\":"
      "\"" ENTRY_A "\"}}",
      "a=3600000" },
    /* The last of a repeated id or section wins, an undecodable one before
     * it or not. */
    { "{\"version\":1,\"sessions\":{\"a\":\"{'x': <\",\"a\":\"" ENTRY_A "\"}}", "a=3600000" },
    { "{\"version\":1,\"sessions\":{\"a\":\"" ENTRY_A "\"},\"sessions\":{\"b\":\"" ENTRY_B "\"}}",
      "b=7200000" },
    { "{\"version\":1,\"sessions\":{}}", "" },
    { "{\"version\":1}", "" },
    /* Refused. */
    { "{\"version\":1,\"sessions\":{\"a\":\"" ENTRY_A "\"},\"version\":2}", NULL },
    { "{\"version\":1,\"sessions\":{\"a\":\"" ENTRY_A "\"}} x", NULL },
    { "{\"version\":1,\"sessions\":{\"a\":\"" ENTRY_A "\"}", NULL },
    { "{\"version\":1,\"sessions\":{\"a\":\"{'x': <\"}}", NULL },
    { "{\"version\":1,\"sessions\":\"" ENTRY_A "\"}", NULL },
    { "{\"version\":1,\"presence\":{}}", NULL },
    { "{\"version\":10,\"sessions\":{}}", NULL },
    { "{\"version\":1e0}", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *summary = NULL;
      Models m = { 0 };
      /* Not terminated: the reader keeps to the length. */
      gsize length = strlen (cases[i].text);
      g_autofree char *data = g_memdup2 (cases[i].text, length);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].text);
      models_init (&m, NULL, NOW);
      g_assert_cmpint (sm_store_load_data (m.store, data, length, &error), ==,
                       cases[i].summary != NULL);
      summary = sessions_summary (&m);
      if (cases[i].summary != NULL)
        {
          g_assert_no_error (error);
          g_assert_cmpstr (summary, ==, cases[i].summary);
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_cmpstr (summary, ==, "");
        }
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

/* "s-0" to "s-<n - 1>", each due an hour from NOW plus its number in ms,
 * in the binary form, comma-separated members of a section. */
static void
append_saved_sessions (GString *data, guint n)
{
  g_autoptr (GByteArray) scratch = g_byte_array_new ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("s-%u", i);
      g_autoptr (GVariant) entry = g_variant_ref_sink (g_variant_new_parsed (
          "{'session-id': <%s>, 'expires-at': <%x>}", id, (gint64) NOW + 3600000 + i));

      if (i > 0)
        g_string_append_c (data, ',');
      sm_store_append_json_string (data, id);
      g_string_append_c (data, ':');
      sm_store_append_entry (data, entry, scratch);
    }
}

/* Many entries (enough for the helper thread that makes them):
 * binary ones, one in the old text form, an id given twice (the later
 * wins, never decoded the earlier) and one the model refuses. */
static void
test_load_many (void)
{
  g_autoptr (GString) data = g_string_new ("{\"version\":1,\"sessions\":{");
  g_autoptr (GError) error = NULL;
  Models m = { 0 };

  append_saved_sessions (data, 700);
  g_string_append_c (data, ',');
  g_string_append (data, "\"s-5\":\"{'session-id': <'s-5'>, 'expires-at': <int64 "
                         "1700009999999>}\",\"s-6\":\"base64:AAAA\",\"s-7\":\"base64:\"}}");
  models_init (&m, NULL, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping sessions entry \"s-6\"*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping sessions entry \"s-7\"*");
  g_assert_true (sm_store_load_data (m.store, data->str, data->len, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, 698);
  g_assert_cmpint (sm_sessions_lookup (m.sessions, "s-5")->expires_at, ==, 1700009999999);
  g_assert_cmpint (sm_sessions_lookup (m.sessions, "s-699")->expires_at, ==, NOW + 3600000 + 699);
  g_assert_null (sm_sessions_lookup (m.sessions, "s-6"));
  models_clear (&m);
}

/* One session more than a user may hold: every one is restored but one,
 * refused as a call would be (LimitExceeded), whichever thread prepared
 * it, and the load goes on. */
static void
test_load_beyond_limit (void)
{
  g_autoptr (GString) data = g_string_new ("{\"version\":1,\"sessions\":{");
  g_autoptr (GError) error = NULL;
  Models m = { 0 };

  append_saved_sessions (data, SM_SESSIONS_MAX + 1);
  g_string_append (data, "}}");
  models_init (&m, NULL, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING,
                         "*Dropping sessions entry*sessions are already monitored*");
  g_assert_true (sm_store_load_data (m.store, data->str, data->len, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, SM_SESSIONS_MAX);
  models_clear (&m);
}

/* The store's own base64 decoder gives what g_base64_decode() gives: on
 * what the store writes (every length, so every padding) and on text it
 * never writes (GLib's then). */
static void
test_binary_decode_same_as_glib (void)
{
  static const char *const odd[] = {
    "",     "QQ",         "QQ=",       "QQ==", "Q===", "QUJD",   "QUJ=",    "QU==",     "=QUJ",
    "QU=J", "QUJD\nREVG", "QUJD REVG", "QU*D", "****", "QUJDRA", "QUJDRA=", "QUJDRA==", "QUJDRA===",
  };
  guchar data[70];

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guchar) (i * 97 + 13);
  for (gsize length = 0; length <= sizeof data; length++)
    {
      g_autofree char *encoded = g_base64_encode (data, length);
      g_autofree char *text = g_strconcat (SM_BINARY_PREFIX, encoded, NULL);
      gsize n = G_MAXSIZE;
      gboolean normal;
      g_autofree guchar *back = sm_store_binary_decode (text, &n, &normal);

      g_assert_cmpmem (back, n, data, length);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (odd); i++)
    {
      g_autofree char *text = g_strconcat (SM_BINARY_PREFIX, odd[i], NULL);
      gsize n = G_MAXSIZE, glib_n = G_MAXSIZE;
      gboolean normal;
      g_autofree guchar *back = sm_store_binary_decode (text, &n, &normal);
      g_autofree guchar *glib = g_base64_decode (odd[i], &glib_n);

      g_test_message ("%s", odd[i]);
      g_assert_cmpmem (back, n, glib, glib_n);
    }
}

/* CRC-32C bit by bit, as its definition reads. */
static guint32
crc32c_reference (guint32 crc, const guint8 *p, gsize length)
{
  crc = ~crc;
  for (gsize i = 0; i < length; i++)
    {
      crc ^= p[i];
      for (int k = 0; k < 8; k++)
        crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
  return ~crc;
}

/* Whichever way the processor computes it (8 bytes a step where it can):
 * every length and alignment, and a CRC continued over a second part. */
static void
test_crc32c_any_length (void)
{
  guint8 data[80];

  for (guint i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 37 + 11);
  for (gsize start = 0; start < 8; start++)
    for (gsize length = 0; start + length <= sizeof data; length++)
      {
        guint32 whole = sm_store_crc32c (0, data + start, length);

        g_assert_cmphex (whole, ==, crc32c_reference (0, data + start, length));
        g_assert_cmphex (sm_store_crc32c (sm_store_crc32c (0, data + start, length / 3),
                                          data + start + length / 3, length - length / 3),
                         ==, whole);
      }
}

/* CRC-32C's check value, and records that are recognized as damaged. */
static void
test_record_framing (void)
{
  g_autoptr (GString) out = g_string_new ("prefix");
  g_autoptr (GError) error = NULL;
  const char *json;
  static const char *const damaged[] = {
    "",
    "e3069283",
    "e3069283 9",
    "e3069283 9 12345678",
    "e3069283 9 1234567890",
    "e3069283  123456789",
    "e306928 9 123456789",
    "e3069284 9 123456789",
    "zz069283 9 123456789",
    "e3069283 99999999999999999999999 123456789",
    "[1]",
  };

  g_assert_cmphex (sm_store_crc32c (0, "123456789", 9), ==, 0xE3069283);
  g_assert_cmphex (sm_store_crc32c (0, "", 0), ==, 0);

  g_string_append (out, "{\"a\":1}");
  sm_store_frame_record (out, strlen ("prefix"));
  g_assert_true (g_str_has_prefix (out->str, "prefix"));
  g_assert_true (g_str_has_suffix (out->str, " 7 {\"a\":1}\n"));
  json = sm_store_unframe_record (out->str + 6, out->len - 7, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json, ==, "{\"a\":1}\n");

  json = sm_store_unframe_record ("e3069283 9 123456789", 20, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json, ==, "123456789");
  /* The previous format: plain JSON, taken as it is. */
  json = sm_store_unframe_record ("{\"section\":\"s\"}", 15, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json, ==, "{\"section\":\"s\"}");

  for (gsize i = 0; i < G_N_ELEMENTS (damaged); i++)
    {
      g_assert_null (sm_store_unframe_record (damaged[i], strlen (damaged[i]), &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
}

static char *
read_journal (const char *dir)
{
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  char *contents = NULL;

  g_assert_true (g_file_get_contents (journal, &contents, NULL, NULL));
  return contents;
}

static void
write_journal (const char *dir, const char *contents)
{
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);

  g_assert_true (g_file_set_contents (journal, contents, -1, NULL));
}

/* A damaged record in the middle costs that record only; records of the
 * previous format (plain JSON lines) still load. */
static void
test_journal_damage_in_the_middle (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *summary = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GString) damaged = g_string_new (NULL);
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  register_session (&m, "a", NOW + HOUR);
  register_session (&m, "b", NOW + 2 * HOUR);
  register_session (&m, "c", NOW + 3 * HOUR);
  models_clear (&m);

  contents = read_journal (dir);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  /* a intact; b with a flipped byte; c as the previous version wrote it
   * (plain JSON); then a torn fragment. */
  g_string_append_printf (damaged, "%s\n", lines[0]);
  lines[1][strlen (lines[1]) - 5] ^= 1;
  g_string_append_printf (damaged, "%s\n", lines[1]);
  g_string_append_printf (damaged, "%s\n", strchr (strchr (lines[2], ' ') + 1, ' ') + 1);
  g_string_append (damaged, "1234abcd 900 {\"section\":\"sessions\",\"id\":\"d\"");
  write_journal (dir, damaged->str);

  models_init (&m, dir, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*record 2 is damaged*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_MESSAGE, "*dropping an unfinished last*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*skipped 1 damaged records*");
  sm_store_load (m.store);
  g_test_assert_expected_messages ();
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "a=3600000 c=10800000");
  models_clear (&m);
  remove_tree (dir);
}

/* The "entry" text of a journal line as this daemon writes it. */
static char *
entry_of_line (const char *line)
{
  const char *start = strstr (line, "\"entry\":\"");

  g_assert_nonnull (start);
  start += strlen ("\"entry\":\"");
  return g_strndup (start, (gsize) (strchr (start, '"') - start));
}

/* Records are read without a JSON parser when they are exactly as this
 * daemon writes them, by json-glib otherwise: any valid JSON record, in
 * any member order, spacing or escaping, replays the same. */
static void
test_journal_any_json (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GString) journal = g_string_new (NULL);
  Models m = { 0 };

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  register_session (&m, "a", NOW + HOUR);
  register_session (&m, "b", NOW + 2 * HOUR);
  register_session (&m, "c", NOW + 3 * HOUR);
  register_session (&m, "d", NOW + 4 * HOUR);
  models_clear (&m);

  contents = read_journal (dir);
  lines = g_strsplit (contents, "\n", -1);
  a = entry_of_line (lines[0]);
  b = entry_of_line (lines[1]);
  c = entry_of_line (lines[2]);
  d = entry_of_line (lines[3]);
  g_string_append_printf (journal, "{\"entry\":\"%s\",\"id\":\"a\",\"section\":\"sessions\"}\n", a);
  g_string_append_printf (
      journal, "{ \"section\" : \"sessions\", \"id\" : \"b\", \"entry\" : \"%s\" }\n", b);
  g_string_append_printf (journal,
                          "{\"section\":\"sessions\",\"id\":\"\\u0063\",\"entry\":\"%s\"}\n", c);
  g_string_append_printf (journal, "{\"section\":\"newer\",\"id\":\"a\",\"entry\":\"%s\"}\n", a);
  /* Gone, then back with a member this daemon does not know. */
  g_string_append (journal, "{\"section\":\"sessions\",\"id\":\"a\",\"entry\":null}\n");
  g_string_append_printf (journal,
                          "{\"section\":\"sessions\",\"id\":\"a\",\"entry\":\"%s\",\"x\":1}\n", a);
  /* As written: d, then d gone; an id of UTF-8 beyond ASCII. */
  g_string_append_printf (journal, "{\"section\":\"sessions\",\"id\":\"d\",\"entry\":\"%s\"}\n", d);
  g_string_append (journal, "{\"section\":\"sessions\",\"id\":\"d\",\"entry\":null}\n");
  g_string_append (journal, "{\"section\":\"sessions\",\"id\":\"\xc3\xa9\",\"entry\":null}\n");
  /* Damaged: nearly the written form. */
  g_string_append_printf (journal, "{\"section\":\"sessions\",\"id\":\"b\",\"entry\":\"%s\"}}\n",
                          d);
  g_string_append (journal, "{\"section\":\"sessions\",\"id\":\"b\",\"entry\":nul}\n");
  g_string_append (journal, "{\"section\":\"sessions\",\"id\":\"b\",\"entry\":\"\\q\"}\n");
  g_string_append (journal, "{\"section\":\"sessions\",\"id\":\"b\",\"entry\":3}\n");
  write_journal (dir, journal->str);

  models_init (&m, dir, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*record 10 is damaged*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*record 11 is damaged*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*record 12 is damaged*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*record 13 is damaged*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*skipped 4 damaged records*");
  sm_store_load (m.store);
  g_test_assert_expected_messages ();
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "a=3600000 b=7200000 c=10800000");
  models_clear (&m);
  remove_tree (dir);
}

/* The store refuses a change it cannot write (before the change is made),
 * and takes it again as soon as the journal can be opened: no restart. */
static void
test_prepare_refuses_and_recovers (void)
{
  g_autofree char *top = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  /* A file where the state directory belongs: nothing can be opened in it
   * (a directory at state.journal would be set aside by the load). */
  g_autofree char *dir = g_build_filename (top, "state", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SmStore) memory = sm_store_new (NULL);
  Models m = { 0 };

  g_assert_true (sm_store_prepare (memory, 100, &error));
  g_assert_no_error (error);

  g_assert_true (g_file_set_contents (dir, "", 0, NULL));
  models_init (&m, dir, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*changes are refused*");
  sm_store_load (m.store);
  g_test_assert_expected_messages ();
  g_assert_false (sm_store_is_writable (m.store));

  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Refusing changes*");
  g_assert_false (sm_store_prepare (m.store, 100, &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, SM_ERROR, SM_ERROR_STORAGE_FAILED);
  g_assert_nonnull (strstr (error->message, "state"));
  g_clear_error (&error);
  /* Logged once, not per call. */
  g_assert_false (sm_store_prepare (m.store, 100, &error));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (dir), ==, 0);
  g_assert_true (sm_store_prepare (m.store, 100, &error));
  g_assert_no_error (error);
  g_assert_true (sm_store_is_writable (m.store));
  register_session (&m, "a", NOW + HOUR);
  sm_store_commit (m.store);
  models_clear (&m);
  g_assert_cmpuint (count_lines (journal), ==, 1);
  remove_tree (top);
}

/* A write cut short (here by RLIMIT_FSIZE) is cut off the journal at once,
 * so the next record is not appended onto it; the change the daemon made
 * itself is not lost: the store is behind and writes a whole snapshot as
 * soon as writing works. */
static void
test_short_write_truncated (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *summary = NULL;
  struct rlimit saved, limit;
  struct stat before, after;
  Models m = { 0 };

  signal (SIGXFSZ, SIG_IGN);
  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  sm_store_wait (m.store);
  register_session (&m, "a", NOW + HOUR);
  g_assert_cmpint (g_stat (journal, &before), ==, 0);

  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limit = saved;
  limit.rlim_cur = (rlim_t) before.st_size + 50;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Cannot write to the journal*");
  register_session (&m, "b", NOW + 2 * HOUR);
  /* The daemon's own change: written at the end of the iteration. */
  sm_store_commit (m.store);
  g_test_assert_expected_messages ();
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  g_assert_cmpint (g_stat (journal, &after), ==, 0);
  g_assert_cmpint (after.st_size, ==, before.st_size);

  g_test_expect_message ("sm-store", G_LOG_LEVEL_MESSAGE, "*works again*");
  register_session (&m, "c", NOW + 3 * HOUR);
  sm_store_commit (m.store);
  g_test_assert_expected_messages ();
  sm_store_wait (m.store);
  sm_store_commit (m.store);
  models_clear (&m);

  models_init (&m, dir, NOW);
  sm_store_load (m.store);
  summary = sessions_summary (&m);
  g_assert_cmpstr (summary, ==, "a=3600000 b=7200000 c=10800000");
  models_clear (&m);
  remove_tree (dir);
}

/* Entries a hand-made file holds that the API would refuse: each is
 * refused (and set aside in a file of the snapshot's format), the rest
 * load. */
static void
test_restore_out_of_range (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *snapshot = g_build_filename (dir, "state.json", NULL);
  g_autofree char *data = g_strdup_printf (
      "{\"version\": 1, \"sessions\": {"
      "\"ok\": \"{'session-id': <'ok'>, 'expires-at': <int64 %" G_GINT64_FORMAT ">, "
      "'registered-at': <int64 %" G_GINT64_FORMAT ">}\","
      "\"neg\": \"{'session-id': <'neg'>, 'expires-at': <int64 %" G_GINT64_FORMAT ">, "
      "'registered-at': <int64 -1>}\","
      "\"far\": \"{'session-id': <'far'>, 'expires-at': <int64 %" G_GINT64_FORMAT ">}\","
      "\"late\": \"{'session-id': <'late'>, 'expires-at': <int64 %" G_GINT64_FORMAT ">, "
      "'registered-at': <int64 %" G_GINT64_FORMAT ">}\"},"
      "\"requests\": {\"r\": \"{'request-id': <'r'>, 'session-id': <'ok'>, "
      "'from-peer-id': <'p'>, 'expires-at': <int64 %" G_GINT64_FORMAT ">}\"},"
      "\"presence\": \"{'wallet-address': <'w'>, 'ttl': <int64 60000>, "
      "'last-refresh': <int64 -5>, 'next-refresh-at': <int64 0>, 'owner': <':1.1'>}\"}",
      NOW + HOUR, NOW - HOUR, NOW + HOUR, NOW + 400 * 24 * HOUR, NOW + 400 * 24 * HOUR,
      NOW + 399 * 24 * HOUR, NOW + 31 * 24 * HOUR);
  g_autoptr (GDir) d = NULL;
  const char *name;
  guint rejected_files = 0;
  Models m = { 0 };

  g_assert_true (g_file_set_contents (snapshot, data, -1, NULL));
  models_init (&m, dir, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping *");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping *");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping *");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping *");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping presence*last-refresh*");
  sm_store_load (m.store);
  g_test_assert_expected_messages ();
  g_assert_nonnull (sm_sessions_lookup (m.sessions, "ok"));
  g_assert_cmpuint (sm_sessions_get_count (m.sessions), ==, 1);
  g_assert_cmpuint (sm_requests_get_count (m.requests), ==, 0);
  g_assert_false (sm_presence_is_configured (m.presence));
  sm_store_wait (m.store);
  models_clear (&m);

  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "state.json.rejected-"))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        g_autofree char *contents = NULL;
        gsize length;
        Models again = { 0 };

        rejected_files++;
        g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
        /* In the snapshot's format, all of them, and refused again. */
        models_init (&again, NULL, NOW);
        for (guint i = 0; i < 5; i++)
          g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*Dropping *");
        g_assert_true (sm_store_load_data (again.store, contents, length, NULL));
        g_test_assert_expected_messages ();
        models_clear (&again);
      }
  g_assert_cmpuint (rejected_files, ==, 1);
  remove_tree (dir);
}

/* Only regular files are read: a FIFO is never waited on, a symbolic link
 * never followed; both are set aside. Temporary snapshots a kill -9 left
 * are removed; set-aside names never collide. */
static void
test_not_regular_files (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sm-store-XXXXXX", NULL);
  g_autofree char *snapshot = g_build_filename (dir, "state.json", NULL);
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  g_autofree char *target = g_build_filename (dir, "target", NULL);
  g_autofree char *tmp = g_build_filename (dir, "state.json.tmp-a1B2c3", NULL);
  g_autofree char *legacy = g_build_filename (dir, "state.json.Z9y8X7", NULL);
  g_autofree char *keep = g_build_filename (dir, "state.json.keep-me", NULL);
  g_autoptr (GDir) d = NULL;
  const char *name;
  guint snapshot_asides = 0, journal_asides = 0;
  GStatBuf st;
  Models m = { 0 };

  /* A FIFO at the journal, a dangling link at the snapshot. */
  g_assert_cmpint (mkfifo (journal, 0600), ==, 0);
  g_assert_cmpint (symlink (target, snapshot), ==, 0);
  g_assert_true (g_file_set_contents (tmp, "{\"version\"", -1, NULL));
  g_assert_true (g_file_set_contents (legacy, "{", -1, NULL));
  g_assert_true (g_file_set_contents (keep, "mine", -1, NULL));
  models_init (&m, dir, NOW);
  g_test_expect_message ("sm-store", G_LOG_LEVEL_MESSAGE, "*Removed the unfinished snapshot*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_MESSAGE, "*Removed the unfinished snapshot*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*is not a regular file*");
  g_test_expect_message ("sm-store", G_LOG_LEVEL_MESSAGE, "*Moved the journal*");
  sm_store_load (m.store);
  g_test_assert_expected_messages ();
  register_session (&m, "a", NOW + HOUR);
  sm_store_wait (m.store);
  models_clear (&m);
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (legacy, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (keep, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_lstat (journal, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));

  /* Twice more in the same second: three snapshots set aside. */
  for (guint i = 0; i < 2; i++)
    {
      g_assert_true (g_file_set_contents (snapshot, "{", -1, NULL));
      models_init (&m, dir, NOW);
      g_test_expect_message ("sm-store", G_LOG_LEVEL_WARNING, "*unusable*");
      g_test_expect_message ("sm-store", G_LOG_LEVEL_MESSAGE, "*Moved the journal*");
      sm_store_load (m.store);
      g_test_assert_expected_messages ();
      sm_store_wait (m.store);
      models_clear (&m);
    }
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      snapshot_asides += g_str_has_prefix (name, "state.json.corrupt-");
      journal_asides += g_str_has_prefix (name, "state.journal.corrupt-");
    }
  g_assert_cmpuint (snapshot_asides, ==, 3);
  g_assert_cmpuint (journal_asides, >=, 3);
  remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store/entry-text-round-trip", test_entry_text_round_trip);
  g_test_add_func ("/store/entry-subnormal-double", test_entry_subnormal_double);
  g_test_add_func ("/store/entry-legacy-text", test_entry_legacy_text);
  g_test_add_func ("/store/entry-text-rejects", test_entry_text_rejects);
  g_test_add_func ("/store/models-round-trip", test_models_round_trip);
  g_test_add_func ("/store/compaction", test_compaction);
  g_test_add_func ("/store/old-journal-before-snapshot", test_old_journal_before_snapshot);
  g_test_add_func ("/store/old-journal-after-snapshot", test_old_journal_after_snapshot);
  g_test_add_func ("/store/failed-compaction-merges-back", test_failed_compaction_merges_back);
  g_test_add_func ("/store/changes-during-compaction", test_changes_during_compaction);
  g_test_add_func ("/store/daemon-records-held-back", test_daemon_records_held_back);
  g_test_add_func ("/store/bad-snapshots", test_bad_snapshots);
  g_test_add_func ("/store/snapshot-any-json", test_snapshot_any_json);
  g_test_add_func ("/store/invalid-entries-dropped", test_invalid_entries_are_dropped);
  g_test_add_func ("/store/load-many", test_load_many);
  g_test_add_func ("/store/load-beyond-limit", test_load_beyond_limit);
  g_test_add_func ("/store/crc32c-any-length", test_crc32c_any_length);
  g_test_add_func ("/store/binary-decode-same-as-glib", test_binary_decode_same_as_glib);
  g_test_add_func ("/store/record-framing", test_record_framing);
  g_test_add_func ("/store/journal-damage-in-the-middle", test_journal_damage_in_the_middle);
  g_test_add_func ("/store/journal-any-json", test_journal_any_json);
  g_test_add_func ("/store/prepare-refuses-and-recovers", test_prepare_refuses_and_recovers);
  g_test_add_func ("/store/short-write-truncated", test_short_write_truncated);
  g_test_add_func ("/store/restore-out-of-range", test_restore_out_of_range);
  g_test_add_func ("/store/not-regular-files", test_not_regular_files);
  return g_test_run ();
}
