/* SPDX-License-Identifier: GPL-3.0-or-later */

/* libFuzzer target for the state-file loader: the input is taken as the
 * snapshot (state.json) and restored into the three models on a manual
 * scheduler, exactly as a daemon start does. Whatever loads must write back
 * to text that parses to the same entries. Build with CC=clang meson setup
 * -Dfuzzing=true; run with tests/fuzz/corpus-state. */

#define G_LOG_DOMAIN "fuzz-state"

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-scheduler.h"
#include "sm-sessions.h"
#include "test-store-sections.h"

#include <stdint.h>
#include <stdlib.h>

#define FUZZ_NOW_MS ((gint64) 1700000000000)

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Criticals and errors are bugs (fatal here): they must be seen. */
static GLogWriterOutput
drop_log (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      /* SIGABRT, unlike GLib's SIGTRAP, makes libFuzzer save the input. */
      abort ();
    }
  return G_LOG_WRITER_HANDLED;
}

int
LLVMFuzzerInitialize (int *argc G_GNUC_UNUSED, char ***argv G_GNUC_UNUSED)
{
  /* Dropped entries are logged as warnings: expected here, and slow to
   * print; only criticals and errors are. */
  g_log_set_writer_func (drop_log, NULL, NULL);
  return 0;
}

static void
check_round_trip (GVariant *list)
{
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (list, i);
      g_autofree char *text = sm_store_entry_to_text (entry);
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) back = sm_store_entry_from_text (text, &error);

      g_assert_no_error (error);
      g_assert_true (g_variant_equal (entry, back));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (SmScheduler) scheduler = sm_scheduler_new_manual (FUZZ_NOW_MS);
  g_autoptr (SmSessions) sessions = sm_sessions_new (scheduler);
  g_autoptr (SmRequests) requests = sm_requests_new (scheduler);
  g_autoptr (SmPresence) presence = sm_presence_new (scheduler);
  g_autoptr (SmStore) store = sm_store_new (NULL);
  g_autoptr (GVariant) list = NULL;
  g_autoptr (GError) error = NULL;

  sm_store_add_sessions (store, "sessions", sessions);
  sm_store_add_requests (store, "requests", requests);
  sm_store_add_presence (store, "presence", presence);

  if (!sm_store_load_data (store, (const char *) data, size, &error))
    {
      g_assert_nonnull (error);
      g_assert_cmpuint (sm_sessions_get_count (sessions), ==, 0);
      return 0;
    }

  list = g_variant_ref_sink (sm_sessions_to_variant (sessions));
  check_round_trip (list);
  g_clear_pointer (&list, g_variant_unref);
  list = g_variant_ref_sink (sm_requests_to_variant (requests));
  check_round_trip (list);
  g_clear_pointer (&list, g_variant_unref);
  if (sm_presence_is_configured (presence))
    {
      list = g_variant_ref_sink (g_variant_new_array (
          G_VARIANT_TYPE_VARDICT, (GVariant *[]){ sm_presence_to_variant (presence) }, 1));
      check_round_trip (list);
    }

  /* Run everything restored through its deadlines, as a long sleep would. */
  sm_scheduler_set_now (scheduler, FUZZ_NOW_MS + (gint64) 8 * 24 * 3600 * 1000);
  sm_scheduler_set_now (scheduler, G_MAXINT64 / 2);
  g_clear_object (&store);
  return 0;
}
