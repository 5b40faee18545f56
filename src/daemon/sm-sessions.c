/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-sessions"

#include "sm-sessions.h"

#include "sm-checks.h"
#include "sm-error.h"
#include "sm-options.h"

#define SM_METADATA_MAX_BYTES (64 * 1024)
#define SM_MINUTE_MS ((gint64) 60000)

static const gint64 default_thresholds[] = { 600000, 300000, 120000, 60000 };

struct _SmSessions
{
  GObject parent_instance;

  SmScheduler *scheduler; /* (owned) */
  GHashTable *sessions;   /* (owned) id → (owned) SmSession */
  SmBudget *budget;       /* (owned) shared with the user's other models */
};

/* A scheduler callback needs both the session and its model. */
struct _SmSessionEntry
{
  SmSession session;
  SmSessions *owner; /* (unowned) */
  gsize size;        /* what it counts against the budget */
  /* (owned) (nullable) sm_session_to_variant() in serialized form, kept
   * from one GetSessions to the next until the session changes: a reply is
   * then a copy of these bytes, not a tree of a dozen values per session
   * built, serialized and freed again (which also left the heap
   * fragmented). */
  GVariant *reply;
};

enum
{
  SIGNAL_REGISTERED,
  SIGNAL_EXPIRING,
  SIGNAL_EXPIRED,
  SIGNAL_UNREGISTERED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void sm_sessions_storable_init (SmStorableInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SmSessions,
                         sm_sessions,
                         G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (SM_TYPE_STORABLE, sm_sessions_storable_init))

static void
sm_session_entry_free (SmSessionEntry *entry)
{
  SmSession *session = &entry->session;

  if (session->deadline != NULL)
    sm_scheduler_remove (entry->owner->scheduler, session->deadline);
  sm_budget_charge (entry->owner->budget, entry->size, 0);
  g_free (session->id);
  g_free (session->session_type);
  g_clear_pointer (&session->metadata, g_variant_unref);
  g_clear_pointer (&entry->reply, g_variant_unref);
  g_free (session->app_id);
  g_free (session->url);
  g_free (entry);
}

static void
sm_sessions_dispose (GObject *object)
{
  SmSessions *self = SM_SESSIONS (object);

  /* The entries first: they give their bytes back to the budget. */
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->budget, sm_budget_unref);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (sm_sessions_parent_class)->dispose (object);
}

static void
sm_sessions_class_init (SmSessionsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_sessions_dispose;

  /* (session, replaced): a new or re-registered session. */
  signals[SIGNAL_REGISTERED] =
      g_signal_new ("session-registered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_BOOLEAN);
  /* (session, minutes_remaining, threshold_ms, notify): one warning; notify
   * says whether warn-before-minutes lets it reach the desktop. */
  signals[SIGNAL_EXPIRING] = g_signal_new (
      "session-expiring", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 4, G_TYPE_POINTER, G_TYPE_UINT, G_TYPE_INT64, G_TYPE_BOOLEAN);
  /* (session): emitted just before the session is forgotten. */
  signals[SIGNAL_EXPIRED] =
      g_signal_new ("session-expired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  /* (session, reason): emitted just before the session is forgotten. */
  signals[SIGNAL_UNREGISTERED] =
      g_signal_new ("session-unregistered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_STRING);
}

static void
sm_sessions_init (SmSessions *self)
{
  self->sessions =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) sm_session_entry_free);
  self->budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, NULL);
}

SmSessions *
sm_sessions_new (SmScheduler *scheduler)
{
  SmSessions *self = g_object_new (SM_TYPE_SESSIONS, NULL);

  self->scheduler = g_object_ref (scheduler);
  return self;
}

/* Shares @budget with the user's other models; before any session. */
void
sm_sessions_set_budget (SmSessions *self, SmBudget *budget)
{
  g_return_if_fail (SM_IS_SESSIONS (self));
  g_return_if_fail (budget != NULL);
  g_return_if_fail (g_hash_table_size (self->sessions) == 0);

  sm_budget_ref (budget);
  g_clear_pointer (&self->budget, sm_budget_unref);
  self->budget = budget;
}

SmBudget *
sm_sessions_get_budget (SmSessions *self)
{
  g_return_val_if_fail (SM_IS_SESSIONS (self), NULL);

  return self->budget;
}

static void on_session_deadline (gint64 due_ms, gint64 now_ms, gpointer user_data);

/* The next thing due is the earliest unsent warning, else the expiry. */
static void
sm_sessions_schedule (SmSessions *self, SmSessionEntry *entry)
{
  SmSession *session = &entry->session;
  gint64 due = session->expires_at;

  for (guint i = 0; i < session->n_thresholds; i++)
    if ((session->sent_mask & (1u << i)) == 0)
      due = MIN (due, session->expires_at - session->thresholds[i]);

  if (session->deadline != NULL)
    sm_scheduler_remove (self->scheduler, session->deadline);
  session->deadline = sm_scheduler_add (self->scheduler, due, on_session_deadline, entry);
}

static void
on_session_deadline (gint64 due_ms G_GNUC_UNUSED, gint64 now_ms, gpointer user_data)
{
  SmSessionEntry *entry = user_data;
  SmSessions *self = entry->owner;
  SmSession *session = &entry->session;
  gint nearest = -1;

  session->deadline = NULL;

  if (now_ms >= session->expires_at)
    {
      /* Expiry wins over any warning still pending: no late warnings. */
      g_autofree char *id = g_strdup (session->id);

      g_signal_emit (self, signals[SIGNAL_EXPIRED], 0, session);
      g_hash_table_remove (self->sessions, id);
      sm_storable_changed (SM_STORABLE (self), id);
      return;
    }

  /* No burst: every threshold already passed counts as sent, and only the
   * nearest one (the smallest) is announced, with the true time left. */
  for (guint i = 0; i < session->n_thresholds; i++)
    {
      if ((session->sent_mask & (1u << i)) != 0)
        continue;
      if (session->expires_at - session->thresholds[i] <= now_ms)
        {
          session->sent_mask |= 1u << i;
          nearest = (gint) i;
          /* Its "warnings-sent" changed. */
          g_clear_pointer (&entry->reply, g_variant_unref);
        }
    }

  if (nearest >= 0)
    {
      gint64 left = session->expires_at - now_ms;
      guint minutes = (guint) ((left + SM_MINUTE_MS - 1) / SM_MINUTE_MS);
      gint64 threshold = session->thresholds[nearest];
      gboolean notify = threshold <= (gint64) session->warn_before_minutes * SM_MINUTE_MS;

      g_signal_emit (self, signals[SIGNAL_EXPIRING], 0, session, minutes, threshold, notify);
    }

  sm_sessions_schedule (self, entry);
  sm_storable_changed (SM_STORABLE (self), session->id);
}

static gboolean
check_thresholds (const char *key, GVariant *value, GError **error)
{
  gsize n = g_variant_n_children (value);

  if (n < 1 || n > SM_THRESHOLDS_MAX)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: \"%s\" must hold 1 to %d values, got %" G_GSIZE_FORMAT, key,
                   SM_THRESHOLDS_MAX, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      gint64 t;

      g_variant_get_child (value, i, "x", &t);
      if (t <= 0)
        {
          g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                       "options: \"%s\" value %" G_GSIZE_FORMAT " is %" G_GINT64_FORMAT
                       "; every threshold must be > 0 ms",
                       key, i, t);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_metadata (const char *key, GVariant *value, GError **error)
{
  gsize size = g_variant_get_size (value);

  if (size > SM_METADATA_MAX_BYTES)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: \"%s\" is %" G_GSIZE_FORMAT
                   " bytes serialized, at most %d are allowed",
                   key, size, SM_METADATA_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

/* The options of RegisterSession, then the keys only a saved session has
 * (sm_session_to_variant()), which a registration ignores as unknown. */
enum
{
  OPT_SESSION_TYPE,
  OPT_WARN_THRESHOLDS,
  OPT_WARN_BEFORE_MINUTES,
  OPT_METADATA,
  OPT_APP_ID,
  OPT_URL,
  N_REGISTER_OPTIONS,
  OPT_SESSION_ID = N_REGISTER_OPTIONS,
  OPT_EXPIRES_AT,
  OPT_REGISTERED_AT,
  OPT_WARNINGS_SENT,
  N_RESTORE_OPTIONS
};

static const SmOptionSpec session_options[N_RESTORE_OPTIONS] = {
  [OPT_SESSION_TYPE] = { "session-type", G_VARIANT_TYPE_STRING, sm_check_text_option },
  [OPT_WARN_THRESHOLDS] = { "warn-thresholds", (const GVariantType *) "ax", check_thresholds },
  [OPT_WARN_BEFORE_MINUTES] = { "warn-before-minutes", G_VARIANT_TYPE_UINT32, NULL },
  [OPT_METADATA] = { "metadata", G_VARIANT_TYPE_VARDICT, check_metadata },
  [OPT_APP_ID] = { "app-id", G_VARIANT_TYPE_STRING, sm_check_text_option },
  [OPT_URL] = { "url", G_VARIANT_TYPE_STRING, sm_check_text_option },
  [OPT_SESSION_ID] = { "session-id", G_VARIANT_TYPE_STRING, NULL },
  [OPT_EXPIRES_AT] = { "expires-at", G_VARIANT_TYPE_INT64, NULL },
  [OPT_REGISTERED_AT] = { "registered-at", G_VARIANT_TYPE_INT64, NULL },
  [OPT_WARNINGS_SENT] = { "warnings-sent", (const GVariantType *) "ax", NULL },
};

static gint
compare_thresholds_desc (gconstpointer a, gconstpointer b)
{
  gint64 ta = *(const gint64 *) a;
  gint64 tb = *(const gint64 *) b;

  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* Sorted largest first (earliest warning first), duplicates dropped. */
static void
set_thresholds (SmSession *session, GVariant *list)
{
  gint64 values[SM_THRESHOLDS_MAX];
  gsize n = 0;

  if (list != NULL)
    {
      n = MIN (g_variant_n_children (list), SM_THRESHOLDS_MAX);
      for (gsize i = 0; i < n; i++)
        g_variant_get_child (list, i, "x", &values[i]);
    }
  else
    {
      n = G_N_ELEMENTS (default_thresholds);
      memcpy (values, default_thresholds, sizeof default_thresholds);
    }
  qsort (values, n, sizeof values[0], compare_thresholds_desc);

  session->n_thresholds = 0;
  for (gsize i = 0; i < n; i++)
    if (session->n_thresholds == 0 || session->thresholds[session->n_thresholds - 1] != values[i])
      session->thresholds[session->n_thresholds++] = values[i];
}

/* A normal-form copy that owns its bytes. g_variant_get_normal_form() hands
 * back the value itself when it already is normal, and a value looked up in
 * a call's options is a view into the whole message body: stored as is, every
 * session would keep its entire RegisterSession call alive. */
static GVariant *
sm_variant_detach (GVariant *value)
{
  g_autoptr (GVariant) normal = g_variant_get_normal_form (value);
  g_autoptr (GBytes) bytes = g_bytes_new (g_variant_get_data (normal), g_variant_get_size (normal));

  return g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (normal), bytes, TRUE));
}

static char *
dup_string_or (GVariant *value, const char *fallback)
{
  return g_strdup (value != NULL ? g_variant_get_string (value, NULL) : fallback);
}

/* Fills @session from options sm_options_parse() checked. */
static void
apply_options (SmSession *session, GVariant **values)
{
  session->session_type = dup_string_or (values[OPT_SESSION_TYPE], "signing");
  session->warn_before_minutes = values[OPT_WARN_BEFORE_MINUTES] != NULL
                                     ? g_variant_get_uint32 (values[OPT_WARN_BEFORE_MINUTES])
                                     : 5;
  session->app_id = dup_string_or (values[OPT_APP_ID], NULL);
  session->url = dup_string_or (values[OPT_URL], NULL);
  set_thresholds (session, values[OPT_WARN_THRESHOLDS]);
  if (values[OPT_METADATA] != NULL)
    session->metadata = sm_variant_detach (values[OPT_METADATA]);
  else
    session->metadata = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
}

static gboolean
sm_sessions_check_room (SmSessions *self, const char *session_id, GError **error)
{
  if (g_hash_table_size (self->sessions) >= SM_SESSIONS_MAX
      && !g_hash_table_contains (self->sessions, session_id))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
                   "session_id: cannot monitor \"%s\", %d sessions are already monitored",
                   session_id, SM_SESSIONS_MAX);
      return FALSE;
    }
  return TRUE;
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

/* Whether @entry fits the byte budget in place of any session of its id;
 * else frees it. */
static gboolean
sm_sessions_check_budget (SmSessions *self, SmSessionEntry *entry, GError **error)
{
  SmSessionEntry *old = g_hash_table_lookup (self->sessions, entry->session.id);

  entry->size = session_size (&entry->session);
  if (sm_budget_check (self->budget, old != NULL ? old->size : 0, entry->size, "session_id",
                       entry->session.id, error))
    return TRUE;
  entry->size = 0;
  sm_session_entry_free (entry);
  return FALSE;
}

/* Takes @entry in (replacing any session of the same id) and arms it. */
static void
sm_sessions_insert (SmSessions *self, SmSessionEntry *entry)
{
  gboolean replaced = g_hash_table_contains (self->sessions, entry->session.id);

  sm_budget_charge (self->budget, 0, entry->size);
  g_hash_table_replace (self->sessions, entry->session.id, entry);
  sm_sessions_schedule (self, entry);
  g_signal_emit (self, signals[SIGNAL_REGISTERED], 0, &entry->session, replaced);
  sm_storable_changed (SM_STORABLE (self), entry->session.id);
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
  gint64 now = sm_scheduler_now (self->scheduler);
  GVariant *values[N_REGISTER_OPTIONS];
  SmSessionEntry *entry;

  if (!sm_check_id ("session_id", session_id, error)
      || !sm_check_expires_at ("expires_at", expires_at, now, error)
      || !sm_options_parse (session_options, N_REGISTER_OPTIONS, options, values, error))
    return NULL;
  if (!sm_sessions_check_room (self, session_id, error))
    {
      sm_options_clear (values, N_REGISTER_OPTIONS);
      return NULL;
    }

  entry = g_new0 (SmSessionEntry, 1);
  entry->owner = self;
  entry->session.id = g_strdup (session_id);
  entry->session.expires_at = expires_at;
  entry->session.registered_at = now;
  apply_options (&entry->session, values);
  sm_options_clear (values, N_REGISTER_OPTIONS);
  if (!sm_sessions_check_budget (self, entry, error))
    return NULL;
  return entry;
}

/* Makes the registration checked by sm_sessions_check_register(), with
 * nothing changed in between. */
void
sm_sessions_apply (SmSessions *self, SmSessionEntry *entry)
{
  g_return_if_fail (entry->owner == self);

  sm_sessions_insert (self, entry);
}

/* A checked registration that is not made after all. */
void
sm_sessions_discard (SmSessionEntry *entry)
{
  /* Never charged to the budget. */
  entry->size = 0;
  sm_session_entry_free (entry);
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
  sm_sessions_insert (self, entry);
  return TRUE;
}

/* The checks of an unregistration (InvalidArgs, NotFound), nothing changed. */
gboolean
sm_sessions_check_unregister (SmSessions *self,
                              const char *session_id,
                              const char *reason,
                              GError **error)
{
  if (!sm_check_id ("session_id", session_id, error)
      || !sm_check_text ("reason", reason, 0, SM_ID_MAX_BYTES, error))
    return FALSE;
  if (!g_hash_table_contains (self->sessions, session_id))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_NOT_FOUND,
                   "session_id: no session \"%s\" is monitored", session_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
sm_sessions_unregister (SmSessions *self,
                        const char *session_id,
                        const char *reason,
                        GError **error)
{
  SmSessionEntry *entry;

  if (!sm_sessions_check_unregister (self, session_id, reason, error))
    return FALSE;
  entry = g_hash_table_lookup (self->sessions, session_id);
  g_signal_emit (self, signals[SIGNAL_UNREGISTERED], 0, &entry->session,
                 *reason != '\0' ? reason : "unregistered");
  g_hash_table_remove (self->sessions, session_id);
  sm_storable_changed (SM_STORABLE (self), session_id);
  return TRUE;
}

/* Takes back a session saved from sm_session_to_variant(): the checks of a
 * registration, made at its registration time (or now, if later: see
 * sm_check_saved_time()), with the warnings already sent and a
 * registration time clamped to now (the clock may have been set back). */
gboolean
sm_sessions_restore (SmSessions *self, GVariant *entry_variant, GError **error)
{
  gint64 now = sm_scheduler_now (self->scheduler);
  GVariant *values[N_RESTORE_OPTIONS];
  GVariant *sent;
  const char *session_id;
  gint64 expires_at, registered_at;
  SmSessionEntry *entry;

  if (!sm_options_parse (session_options, N_RESTORE_OPTIONS, entry_variant, values, error))
    return FALSE;
  if (values[OPT_SESSION_ID] == NULL || values[OPT_EXPIRES_AT] == NULL)
    {
      sm_options_clear (values, N_RESTORE_OPTIONS);
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "session: \"session-id\" (s) and \"expires-at\" (x) are required");
      return FALSE;
    }
  session_id = g_variant_get_string (values[OPT_SESSION_ID], NULL);
  expires_at = g_variant_get_int64 (values[OPT_EXPIRES_AT]);
  registered_at =
      values[OPT_REGISTERED_AT] != NULL ? g_variant_get_int64 (values[OPT_REGISTERED_AT]) : now;

  if (!sm_check_id ("session-id", session_id, error)
      || !sm_check_saved_time ("registered-at", registered_at, now, error)
      || !sm_check_expires_at ("expires-at", expires_at, MAX (now, registered_at), error)
      || !sm_sessions_check_room (self, session_id, error))
    {
      sm_options_clear (values, N_RESTORE_OPTIONS);
      return FALSE;
    }

  entry = g_new0 (SmSessionEntry, 1);
  entry->owner = self;
  entry->session.id = g_strdup (session_id);
  entry->session.expires_at = expires_at;
  entry->session.registered_at = MIN (registered_at, now);
  apply_options (&entry->session, values);

  sent = values[OPT_WARNINGS_SENT];
  for (gsize i = 0; sent != NULL && i < g_variant_n_children (sent); i++)
    {
      gint64 t;

      g_variant_get_child (sent, i, "x", &t);
      for (guint j = 0; j < entry->session.n_thresholds; j++)
        if (entry->session.thresholds[j] == t)
          entry->session.sent_mask |= 1u << j;
    }

  sm_options_clear (values, N_RESTORE_OPTIONS);
  if (!sm_sessions_check_budget (self, entry, error))
    return FALSE;
  sm_sessions_insert (self, entry);
  return TRUE;
}

const SmSession *
sm_sessions_lookup (SmSessions *self, const char *session_id)
{
  SmSessionEntry *entry = g_hash_table_lookup (self->sessions, session_id);

  return entry != NULL ? &entry->session : NULL;
}

guint
sm_sessions_get_count (SmSessions *self)
{
  return g_hash_table_size (self->sessions);
}

static gint
compare_sessions (gconstpointer a, gconstpointer b)
{
  const SmSession *sa = *(const SmSession *const *) a;
  const SmSession *sb = *(const SmSession *const *) b;

  if (sa->expires_at != sb->expires_at)
    return sa->expires_at < sb->expires_at ? -1 : 1;
  return strcmp (sa->id, sb->id);
}

/* Every session, soonest expiry first. The array does not own them. */
GPtrArray *
sm_sessions_list (SmSessions *self)
{
  GPtrArray *list = g_ptr_array_sized_new (g_hash_table_size (self->sessions));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, &((SmSessionEntry *) value)->session);
  g_ptr_array_sort (list, compare_sessions);
  return list;
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

/* The serialized form of @entry, built once per change. */
static GVariant *
sm_session_entry_get_reply (SmSessionEntry *entry)
{
  if (entry->reply == NULL)
    {
      entry->reply = g_variant_ref_sink (sm_session_to_variant (&entry->session));
      /* Serialized at once: the tree of small values is freed here, and
       * what is kept is one block of bytes. */
      g_variant_get_data (entry->reply);
    }
  return entry->reply;
}

GVariant *
sm_sessions_to_variant (SmSessions *self)
{
  g_autoptr (GPtrArray) list = sm_sessions_list (self);
  g_autofree GVariant **children = g_new (GVariant *, MAX (list->len, 1));

  for (guint i = 0; i < list->len; i++)
    {
      /* The SmSession is the first member of its entry. */
      SmSessionEntry *entry = list->pdata[i];

      children[i] = sm_session_entry_get_reply (entry);
    }
  /* The array takes a reference on each child and copies nothing: GDBus
   * reads the children's bytes when it writes the reply. */
  return g_variant_new_array (G_VARIANT_TYPE ("a{sv}"), children, list->len);
}

static GVariant *
sm_sessions_serialize (SmStorable *storable, const char *id)
{
  const SmSession *session = sm_sessions_lookup (SM_SESSIONS (storable), id);

  return session != NULL ? sm_session_to_variant (session) : NULL;
}

static gboolean
sm_sessions_storable_restore (SmStorable *storable, GVariant *entry, GError **error)
{
  return sm_sessions_restore (SM_SESSIONS (storable), entry, error);
}

static void
sm_sessions_storable_init (SmStorableInterface *iface)
{
  iface->serialize = sm_sessions_serialize;
  iface->restore = sm_sessions_storable_restore;
}
