/* SPDX-License-Identifier: GPL-3.0-or-later */

/* libFuzzer target for option and metadata parsing: the input is taken as a
 * serialized a{sv} (the RegisterSession options), brought to normal form as
 * GDBus would, and registered with a manual scheduler. An accepted session
 * is then run through its warnings and expiry, saved and restored, and the
 * D-Bus size the byte budget counts is checked against GDBus's own
 * marshalling (the caps passed, so it is a D-Bus value). Build with
 * CC=clang meson setup -Dfuzzing=true; run with the corpus directory. */

#define G_LOG_DOMAIN "fuzz-options"

#include "sm-budget.h"
#include "sm-options.h"
#include "sm-scheduler.h"
#include "sm-sessions.h"

#include <stdint.h>
#include <string.h>

#define FUZZ_NOW_MS ((gint64) 1700000000000)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The body length of a message carrying @value alone, as GDBus marshals it. */
static gsize
marshalled_size (GVariant *value)
{
  g_autoptr (GDBusMessage) message = g_dbus_message_new_signal ("/a", "a.b", "c");
  g_autoptr (GError) error = NULL;
  g_autofree guchar *blob = NULL;
  gsize length = 0;
  guint32 body_length;

  g_dbus_message_set_body (message, g_variant_new_tuple (&value, 1));
  blob = g_dbus_message_to_blob (message, &length, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
  g_assert_no_error (error);
  memcpy (&body_length, blob + 4, sizeof body_length);
  return blob[0] == 'l' ? GUINT32_FROM_LE (body_length) : GUINT32_FROM_BE (body_length);
}

static const SmOptionSpec specs[] = {
  { "session-type", G_VARIANT_TYPE_STRING, NULL, NULL },
  { "warn-thresholds", (const GVariantType *) "ax", NULL, NULL },
  { "metadata", G_VARIANT_TYPE_VARDICT, NULL, NULL },
  { "url", G_VARIANT_TYPE_STRING, NULL, NULL },
};

/* sm_options_parse_saved() and sm_options_read_saved() read the framing
 * themselves: the same verdict, error and values as sm_options_parse() on
 * the same dict. */
static void
check_saved_parser (GVariant *options)
{
  GVariant *values[G_N_ELEMENTS (specs)], *saved[G_N_ELEMENTS (specs)];
  SmSavedVardictEntry views[G_N_ELEMENTS (specs)];
  g_autoptr (GError) error = NULL, saved_error = NULL;
  gboolean ok = sm_options_parse (specs, G_N_ELEMENTS (specs), options, values, &error);

  g_assert_cmpint (
      ok, ==, sm_options_parse_saved (specs, G_N_ELEMENTS (specs), options, saved, &saved_error));
  if (!ok)
    {
      g_autoptr (GError) view_error = NULL;

      g_assert_cmpstr (error->message, ==, saved_error->message);
      g_assert_false (
          sm_options_read_saved (specs, G_N_ELEMENTS (specs), options, views, &view_error));
      g_assert_cmpstr (error->message, ==, view_error->message);
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    g_assert_true (
        values[i] == saved[i]
        || (values[i] != NULL && saved[i] != NULL && g_variant_equal (values[i], saved[i])));
  /* Read in place: views of the same bytes. */
  g_assert_true (sm_options_read_saved (specs, G_N_ELEMENTS (specs), options, views, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_assert_true ((values[i] == NULL) == (views[i].key == NULL));
      if (values[i] != NULL)
        g_assert_cmpmem (views[i].value, views[i].value_size, g_variant_get_data (values[i]),
                         g_variant_get_size (values[i]));
    }
  sm_options_clear (values, G_N_ELEMENTS (specs));
  sm_options_clear (saved, G_N_ELEMENTS (specs));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (SmScheduler) scheduler = sm_scheduler_new_manual (FUZZ_NOW_MS);
  g_autoptr (SmSessions) sessions = sm_sessions_new (scheduler);
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GVariant) raw =
      g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  g_autoptr (GVariant) options = g_variant_get_normal_form (raw);
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) saved = NULL;
  const SmSession *session;

  check_saved_parser (options);

  if (!sm_sessions_register (sessions, "fuzz", FUZZ_NOW_MS + 20 * 60000, options, &error))
    {
      g_assert_nonnull (error);
      g_assert_cmpuint (sm_sessions_get_count (sessions), ==, 0);
      return 0;
    }

  session = sm_sessions_lookup (sessions, "fuzz");
  g_assert_nonnull (session);
  g_assert_true (g_variant_is_normal_form (session->metadata));
  saved = g_variant_ref_sink (sm_session_to_variant (session));
  g_assert_true (sm_options_check_limits (saved, NULL));
  g_assert_cmpuint (sm_variant_dbus_size (saved), ==, marshalled_size (saved));
  g_assert_cmpuint (sm_budget_get_used (sm_sessions_get_budget (sessions)), >=,
                    g_variant_get_size (saved));

  /* Through every warning to the expiry, then back from the saved state. */
  for (gint64 t = FUZZ_NOW_MS; t <= FUZZ_NOW_MS + 20 * 60000; t += 60000)
    sm_scheduler_set_now (scheduler, t);
  g_assert_cmpuint (sm_sessions_get_count (sessions), ==, 0);
  g_assert_cmpuint (sm_scheduler_get_size (scheduler), ==, 0);

  sm_scheduler_set_now (scheduler, FUZZ_NOW_MS);
  if (!sm_sessions_restore (sessions, saved, &error))
    g_error ("A saved session did not restore: %s", error->message);
  g_assert_true (sm_sessions_unregister (sessions, "fuzz", "", NULL));
  return 0;
}
