/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-sessions"

#include "sm-sessions.h"

#include "sm-checks.h"
#include "sm-error.h"
#include "sm-options.h"
#include "sm-session-options.h"

#include <string.h>

#define SM_MINUTE_MS ((gint64) 60000)

struct _SmSessions
{
  SmDeadlineTable parent_instance;
};

/* A session as the table holds it: what sm_sessions_check_register() hands
 * out. */
struct _SmSessionEntry
{
  SmDeadlineTableEntry base;
  SmSession session;
};

static guint expiring_signal;

G_DEFINE_FINAL_TYPE (SmSessions, sm_sessions, SM_TYPE_DEADLINE_TABLE)

#define SESSION(entry) (&((SmSessionEntry *) (entry))->session)
#define TABLE(self) SM_DEADLINE_TABLE (self)

static void
sm_session_entry_free (SmDeadlineTableEntry *entry)
{
  SmSession *session = SESSION (entry);

  g_free (session->id);
  g_free (session->session_type);
  g_clear_pointer (&session->metadata, g_variant_unref);
  g_free (session->app_id);
  g_free (session->url);
  g_free (entry);
}

static void sm_session_entry_write (SmDeadlineTableEntry *entry, SmVardictWriter *writer);

static gboolean
sm_sessions_check_reason (const char *reason, GError **error)
{
  return sm_check_text ("reason", reason, 0, SM_ID_MAX_BYTES, error);
}

/* The next thing due is the earliest unsent warning, else the expiry. */
static gint64
sm_session_entry_next_due (SmDeadlineTableEntry *entry)
{
  const SmSession *session = SESSION (entry);
  gint64 due = session->expires_at;

  for (guint i = 0; i < session->n_thresholds; i++)
    if ((session->sent_mask & (1u << i)) == 0)
      due = MIN (due, session->expires_at - session->thresholds[i]);
  return due;
}

/* No burst: every threshold already passed counts as sent, and only the
 * nearest one (the smallest) is announced, with the true time left. */
static void
sm_sessions_warn (SmDeadlineTable *self, SmDeadlineTableEntry *entry, gint64 now_ms)
{
  SmSession *session = SESSION (entry);
  gint nearest = -1;

  for (guint i = 0; i < session->n_thresholds; i++)
    {
      if ((session->sent_mask & (1u << i)) != 0)
        continue;
      if (session->expires_at - session->thresholds[i] <= now_ms)
        {
          session->sent_mask |= 1u << i;
          nearest = (gint) i;
        }
    }

  if (nearest >= 0)
    {
      gint64 left = session->expires_at - now_ms;
      guint minutes = (guint) ((left + SM_MINUTE_MS - 1) / SM_MINUTE_MS);
      gint64 threshold = session->thresholds[nearest];
      gboolean notify = threshold <= (gint64) session->warn_before_minutes * SM_MINUTE_MS;

      g_signal_emit (self, expiring_signal, 0, session, minutes, threshold, notify);
    }
}

static const SmDeadlineTableKind session_kind = {
  .signal_prefix = "session",
  .id_arg = "session_id",
  .noun = "session",
  .plural = "sessions",
  .verb = "monitor",
  .state = "monitored",
  .max = SM_SESSIONS_MAX,
};

static gboolean sm_sessions_table_restore (SmDeadlineTable *table, GVariant *entry, GError **error);
static SmDeadlineTableEntry *sm_sessions_prepare (SmDeadlineTable *table,
                                                  GVariant *entry,
                                                  GError **error);

static void
sm_sessions_class_init (SmSessionsClass *klass)
{
  SmDeadlineTableClass *table_class = SM_DEADLINE_TABLE_CLASS (klass);

  table_class->write = sm_session_entry_write;
  table_class->restore = sm_sessions_table_restore;
  table_class->prepare = sm_sessions_prepare;
  table_class->free_entry = sm_session_entry_free;
  table_class->check_reason = sm_sessions_check_reason;
  table_class->next_due = sm_session_entry_next_due;
  table_class->warn = sm_sessions_warn;
  sm_deadline_table_class_set_kind (table_class, &session_kind);

  /* (session, minutes_remaining, threshold_ms, notify): one warning; notify
   * says whether warn-before-minutes lets it reach the desktop. */
  expiring_signal = g_signal_new ("session-expiring", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_POINTER, G_TYPE_UINT,
                                  G_TYPE_INT64, G_TYPE_BOOLEAN);
}

static void
sm_sessions_init (SmSessions *self G_GNUC_UNUSED)
{
}

SmSessions *
sm_sessions_new (SmScheduler *scheduler)
{
  return g_object_new (SM_TYPE_SESSIONS, "scheduler", scheduler, NULL);
}

/* Shares @budget with the user's other models; before any session. */
void
sm_sessions_set_budget (SmSessions *self, SmBudget *budget)
{
  sm_deadline_table_set_budget (TABLE (self), budget);
}

SmBudget *
sm_sessions_get_budget (SmSessions *self)
{
  return sm_deadline_table_get_budget (TABLE (self));
}

/* What @session counts against the budget: its D-Bus form as GetSessions
 * sends it once all its warnings are sent (so that it never grows later),
 * or its metadata's GVariant form where that is larger, plus its offset in
 * the array. Computed, not built: only the metadata is walked. */
static gsize
session_size (const SmSession *session)
{
  gsize metadata_start, metadata_gvariant, extra, offset = sm_dbus_dict_start ();

  offset = sm_dbus_add_string (offset, "session-id", session->id);
  offset = sm_dbus_add_int64 (offset, "expires-at");
  offset = sm_dbus_add_int64 (offset, "registered-at");
  offset = sm_dbus_add_string (offset, "session-type", session->session_type);
  metadata_start = offset;
  offset = sm_dbus_add_value (offset, "metadata", session->metadata);
  /* An av of small values, say, is larger as a GVariant. */
  metadata_gvariant = g_variant_get_size (session->metadata);
  extra = metadata_gvariant - MIN (metadata_gvariant, offset - metadata_start);
  offset = sm_dbus_add_int64_array (offset, "warn-thresholds", session->n_thresholds);
  offset = sm_dbus_add_int64_array (offset, "warnings-sent", session->n_thresholds);
  offset = sm_dbus_add_uint32 (offset, "warn-before-minutes");
  if (session->app_id != NULL)
    offset = sm_dbus_add_string (offset, "app-id", session->app_id);
  if (session->url != NULL)
    offset = sm_dbus_add_string (offset, "url", session->url);
  return offset + extra + 8;
}

/* A session of no options yet: sm_session_apply_options() or
 * sm_session_apply_saved() come next. */
static SmSessionEntry *
sm_session_entry_alloc (SmSessions *self,
                        const char *session_id,
                        gint64 expires_at,
                        gint64 registered_at)
{
  SmSessionEntry *entry = g_new0 (SmSessionEntry, 1);
  SmSession *session = &entry->session;

  session->id = g_strdup (session_id);
  session->expires_at = expires_at;
  session->registered_at = registered_at;
  sm_deadline_table_entry_init (TABLE (self), &entry->base, session, session->id, expires_at);
  return entry;
}

static SmSessionEntry *
sm_session_entry_new (SmSessions *self,
                      const char *session_id,
                      gint64 expires_at,
                      gint64 registered_at,
                      GVariant **values)
{
  SmSessionEntry *entry = sm_session_entry_alloc (self, session_id, expires_at, registered_at);

  sm_session_apply_options (&entry->session, values);
  return entry;
}

/* Whether @entry fits the byte budget in place of any session of its id;
 * else frees it. */
static gboolean
sm_sessions_check_budget (SmSessions *self, SmSessionEntry *entry, GError **error)
{
  return sm_deadline_table_check_budget (TABLE (self), &entry->base, session_size (&entry->session),
                                         error);
}

/* Every check of a registration, nothing changed: the session it would
 * monitor (to sm_sessions_apply() or sm_sessions_discard()), else NULL and
 * the error naming the argument. */
SmSessionEntry *
sm_sessions_check_register (SmSessions *self,
                            const char *session_id,
                            gint64 expires_at,
                            GVariant *options,
                            GError **error)
{
  gint64 now = sm_deadline_table_now (TABLE (self));
  GVariant *values[SM_SESSION_N_REGISTER_OPTIONS];
  SmSessionEntry *entry;

  if (!sm_check_id ("session_id", session_id, error)
      || !sm_check_expires_at ("expires_at", expires_at, now, error)
      || !sm_options_parse (sm_session_options, SM_SESSION_N_REGISTER_OPTIONS, options, values,
                            error))
    return NULL;
  if (!sm_deadline_table_check_room (TABLE (self), session_id, error))
    {
      sm_options_clear (values, SM_SESSION_N_REGISTER_OPTIONS);
      return NULL;
    }

  entry = sm_session_entry_new (self, session_id, expires_at, now, values);
  sm_options_clear (values, SM_SESSION_N_REGISTER_OPTIONS);
  if (!sm_sessions_check_budget (self, entry, error))
    return NULL;
  return entry;
}

/* Makes the registration checked by sm_sessions_check_register(), with
 * nothing changed in between. */
void
sm_sessions_apply (SmSessions *self, SmSessionEntry *entry)
{
  sm_deadline_table_insert (TABLE (self), &entry->base);
}

/* A checked registration that is not made after all. */
void
sm_sessions_discard (SmSessionEntry *entry)
{
  sm_deadline_table_discard (&entry->base);
}

gboolean
sm_sessions_register (SmSessions *self,
                      const char *session_id,
                      gint64 expires_at,
                      GVariant *options,
                      GError **error)
{
  SmSessionEntry *entry = sm_sessions_check_register (self, session_id, expires_at, options, error);

  if (entry == NULL)
    return FALSE;
  sm_sessions_apply (self, entry);
  return TRUE;
}

/* The checks of an unregistration (InvalidArgs, NotFound), nothing changed. */
gboolean
sm_sessions_check_unregister (SmSessions *self,
                              const char *session_id,
                              const char *reason,
                              GError **error)
{
  return sm_deadline_table_check_unregister (TABLE (self), session_id, reason, error);
}

gboolean
sm_sessions_unregister (SmSessions *self,
                        const char *session_id,
                        const char *reason,
                        GError **error)
{
  return sm_deadline_table_unregister (TABLE (self), session_id, reason, error);
}

/* The warnings a saved session had sent: @list, @n of them (an "ax" read
 * in place). */
static void
restore_sent (SmSession *session, const gint64 *list, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      gint64 t = list[i];

      for (guint j = 0; j < session->n_thresholds; j++)
        if (session->thresholds[j] == t)
          session->sent_mask |= 1u << j;
    }
}

static gint64
saved_int64 (const SmSavedVardictEntry *value, gint64 fallback)
{
  gint64 v = fallback;

  if (value->key != NULL)
    memcpy (&v, value->value, sizeof v);
  return v;
}

/* The part of taking back a session saved from sm_session_to_variant()
 * that reads nothing of the table (safe on the store's loading thread): the
 * checks of a registration, made at its registration time (or now, if
 * later: see sm_check_saved_time()), the session built with the warnings
 * already sent, a registration time clamped to now (the clock may have
 * been set back) and its size counted. Read in place: no GVariant is made
 * but the metadata's. */
static SmDeadlineTableEntry *
sm_sessions_prepare (SmDeadlineTable *table, GVariant *entry_variant, GError **error)
{
  SmSessions *self = SM_SESSIONS (table);
  gint64 now = sm_deadline_table_now (table);
  g_autoptr (GVariant) normal = g_variant_get_normal_form (entry_variant);
  SmSavedVardictEntry values[SM_SESSION_N_RESTORE_OPTIONS];
  const SmSavedVardictEntry *sent = &values[SM_SESSION_OPT_WARNINGS_SENT];
  const char *session_id;
  gint64 expires_at, registered_at;
  SmSessionEntry *entry;

  if (!sm_options_read_saved (sm_session_options, SM_SESSION_N_RESTORE_OPTIONS, normal, values,
                              error))
    return NULL;
  if (values[SM_SESSION_OPT_SESSION_ID].key == NULL
      || values[SM_SESSION_OPT_EXPIRES_AT].key == NULL)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "session: \"session-id\" (s) and \"expires-at\" (x) are required");
      return NULL;
    }
  session_id = (const char *) values[SM_SESSION_OPT_SESSION_ID].value;
  expires_at = saved_int64 (&values[SM_SESSION_OPT_EXPIRES_AT], 0);
  registered_at = saved_int64 (&values[SM_SESSION_OPT_REGISTERED_AT], now);

  if (!sm_check_id ("session-id", session_id, error)
      || !sm_check_saved_time ("registered-at", registered_at, now, error)
      || !sm_check_expires_at ("expires-at", expires_at, MAX (now, registered_at), error))
    return NULL;
  entry = sm_session_entry_alloc (self, session_id, expires_at, MIN (registered_at, now));
  sm_session_apply_saved (&entry->session, values);
  restore_sent (&entry->session, sent->key != NULL ? (const gint64 *) sent->value : NULL,
                sent->value_size / sizeof (gint64));
  entry->base.size = session_size (&entry->session);
  return &entry->base;
}

/* Takes back a saved session (see sm_sessions_prepare()), if there is
 * room for it. */
gboolean
sm_sessions_restore (SmSessions *self, GVariant *entry_variant, GError **error)
{
  SmDeadlineTableEntry *entry = sm_sessions_prepare (TABLE (self), entry_variant, error);

  return entry != NULL && sm_deadline_table_restore_prepared (TABLE (self), entry, error);
}

static gboolean
sm_sessions_table_restore (SmDeadlineTable *table, GVariant *entry, GError **error)
{
  return sm_sessions_restore (SM_SESSIONS (table), entry, error);
}

const SmSession *
sm_sessions_lookup (SmSessions *self, const char *session_id)
{
  return sm_deadline_table_lookup (TABLE (self), session_id);
}

guint
sm_sessions_get_count (SmSessions *self)
{
  return sm_deadline_table_get_count (TABLE (self));
}

/* Every session, soonest expiry first. The array does not own them. */
GPtrArray *
sm_sessions_list (SmSessions *self)
{
  return sm_deadline_table_list (TABLE (self));
}

/* A {sv} entry, built without a format string: several times cheaper than
 * g_variant_builder_add (), and an entry is built for every registration
 * (to count it), every GetSessions and every save. */
static GVariant *
dict_entry (const char *key, GVariant *value)
{
  return g_variant_new_dict_entry (g_variant_new_string (key), g_variant_new_variant (value));
}

GVariant *
sm_session_to_variant (const SmSession *session)
{
  gint64 sent[SM_THRESHOLDS_MAX];
  GVariant *entries[10];
  gsize n_sent = 0, n = 0;

  for (guint i = 0; i < session->n_thresholds; i++)
    if (session->sent_mask & (1u << i))
      sent[n_sent++] = session->thresholds[i];

  entries[n++] = dict_entry ("session-id", g_variant_new_string (session->id));
  entries[n++] = dict_entry ("expires-at", g_variant_new_int64 (session->expires_at));
  entries[n++] = dict_entry ("registered-at", g_variant_new_int64 (session->registered_at));
  entries[n++] = dict_entry ("session-type", g_variant_new_string (session->session_type));
  entries[n++] = dict_entry ("metadata", session->metadata);
  entries[n++] = dict_entry ("warn-thresholds",
                             g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, session->thresholds,
                                                        session->n_thresholds, sizeof (gint64)));
  entries[n++] = dict_entry ("warnings-sent", g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, sent,
                                                                         n_sent, sizeof (gint64)));
  entries[n++] =
      dict_entry ("warn-before-minutes", g_variant_new_uint32 (session->warn_before_minutes));
  if (session->app_id != NULL)
    entries[n++] = dict_entry ("app-id", g_variant_new_string (session->app_id));
  if (session->url != NULL)
    entries[n++] = dict_entry ("url", g_variant_new_string (session->url));
  g_assert (n <= G_N_ELEMENTS (entries));
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), entries, n);
}

/* What sm_session_to_variant() gives, written for a listing. */
static void
sm_session_entry_write (SmDeadlineTableEntry *entry, SmVardictWriter *writer)
{
  const SmSession *session = SESSION (entry);
  gint64 sent[SM_THRESHOLDS_MAX];
  gsize n_sent = 0;

  for (guint i = 0; i < session->n_thresholds; i++)
    if (session->sent_mask & (1u << i))
      sent[n_sent++] = session->thresholds[i];

  sm_vardict_writer_begin (writer);
  sm_vardict_writer_add_string (writer, "session-id", session->id);
  sm_vardict_writer_add_int64 (writer, "expires-at", session->expires_at);
  sm_vardict_writer_add_int64 (writer, "registered-at", session->registered_at);
  sm_vardict_writer_add_string (writer, "session-type", session->session_type);
  sm_vardict_writer_add_value (writer, "metadata", session->metadata);
  sm_vardict_writer_add_int64_array (writer, "warn-thresholds", session->thresholds,
                                     session->n_thresholds);
  sm_vardict_writer_add_int64_array (writer, "warnings-sent", sent, n_sent);
  sm_vardict_writer_add_uint32 (writer, "warn-before-minutes", session->warn_before_minutes);
  if (session->app_id != NULL)
    sm_vardict_writer_add_string (writer, "app-id", session->app_id);
  if (session->url != NULL)
    sm_vardict_writer_add_string (writer, "url", session->url);
  sm_vardict_writer_end (writer);
}

GVariant *
sm_sessions_to_variant (SmSessions *self)
{
  return sm_deadline_table_to_variant (TABLE (self));
}
