/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-requests"

#include "sm-requests.h"

#include "sm-checks.h"
#include "sm-error.h"
#include "sm-options.h"

struct _SmRequests
{
  GObject parent_instance;

  SmScheduler *scheduler; /* (owned) */
  GHashTable *requests;   /* (owned) id → (owned) SmRequestEntry */
  SmBudget *budget;       /* (owned) shared with the user's other models */
};

/* A scheduler callback needs both the request and its model. */
struct _SmRequestEntry
{
  SmRequest request;
  SmRequests *owner; /* (unowned) */
  gsize size;        /* what it counts against the budget */
  /* (owned) (nullable) sm_request_to_variant() in serialized form, built by
   * the first GetSigningRequests that needs it: a request never changes in
   * place, so it is kept until the request goes (see SmSessionEntry). */
  GVariant *reply;
};

enum
{
  SIGNAL_REGISTERED,
  SIGNAL_EXPIRED,
  SIGNAL_UNREGISTERED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void sm_requests_storable_init (SmStorableInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SmRequests,
                         sm_requests,
                         G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (SM_TYPE_STORABLE, sm_requests_storable_init))

static const char *const unregister_reasons[] = {
  "accepted", "rejected", "expired", "cancelled", NULL,
};

static void
sm_request_entry_free (SmRequestEntry *entry)
{
  SmRequest *request = &entry->request;

  if (request->deadline != NULL)
    sm_scheduler_remove (entry->owner->scheduler, request->deadline);
  sm_budget_charge (entry->owner->budget, entry->size, 0);
  g_free (request->id);
  g_free (request->session_id);
  g_free (request->from_peer_id);
  g_free (request->from_nickname);
  g_free (request->amount);
  g_free (request->purpose);
  g_free (request->app_id);
  g_free (request->url);
  g_clear_pointer (&entry->reply, g_variant_unref);
  g_free (entry);
}

static void
sm_requests_dispose (GObject *object)
{
  SmRequests *self = SM_REQUESTS (object);

  /* The entries first: they give their bytes back to the budget. */
  g_clear_pointer (&self->requests, g_hash_table_unref);
  g_clear_pointer (&self->budget, sm_budget_unref);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (sm_requests_parent_class)->dispose (object);
}

static void
sm_requests_class_init (SmRequestsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_requests_dispose;

  /* (request, replaced): a new or re-registered request. */
  signals[SIGNAL_REGISTERED] =
      g_signal_new ("request-registered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_BOOLEAN);
  /* (request): emitted just before the request is forgotten. */
  signals[SIGNAL_EXPIRED] =
      g_signal_new ("request-expired", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  /* (request, reason): emitted just before the request is forgotten. */
  signals[SIGNAL_UNREGISTERED] =
      g_signal_new ("request-unregistered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_STRING);
}

static void
sm_requests_init (SmRequests *self)
{
  self->requests =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) sm_request_entry_free);
  self->budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, NULL);
}

SmRequests *
sm_requests_new (SmScheduler *scheduler)
{
  SmRequests *self = g_object_new (SM_TYPE_REQUESTS, NULL);

  self->scheduler = g_object_ref (scheduler);
  return self;
}

/* Shares @budget with the user's other models; before any request. */
void
sm_requests_set_budget (SmRequests *self, SmBudget *budget)
{
  g_return_if_fail (SM_IS_REQUESTS (self));
  g_return_if_fail (budget != NULL);
  g_return_if_fail (g_hash_table_size (self->requests) == 0);

  sm_budget_ref (budget);
  g_clear_pointer (&self->budget, sm_budget_unref);
  self->budget = budget;
}

static void
on_request_deadline (gint64 due_ms G_GNUC_UNUSED, gint64 now_ms G_GNUC_UNUSED, gpointer user_data)
{
  SmRequestEntry *entry = user_data;
  SmRequests *self = entry->owner;
  g_autofree char *id = g_strdup (entry->request.id);

  entry->request.deadline = NULL;
  g_signal_emit (self, signals[SIGNAL_EXPIRED], 0, &entry->request);
  g_hash_table_remove (self->requests, id);
  sm_storable_changed (SM_STORABLE (self), id);
}

/* The options of RegisterSigningRequest, then the keys only a saved request
 * has (sm_request_to_variant()), which a registration ignores as unknown. */
enum
{
  OPT_FROM_NICKNAME,
  OPT_AMOUNT,
  OPT_PURPOSE,
  OPT_APP_ID,
  OPT_URL,
  N_REGISTER_OPTIONS,
  OPT_REQUEST_ID = N_REGISTER_OPTIONS,
  OPT_SESSION_ID,
  OPT_FROM_PEER_ID,
  OPT_EXPIRES_AT,
  OPT_REGISTERED_AT,
  N_RESTORE_OPTIONS
};

static const SmOptionSpec request_options[N_RESTORE_OPTIONS] = {
  [OPT_FROM_NICKNAME] = { "from-nickname", G_VARIANT_TYPE_STRING, sm_check_peer_text_option },
  [OPT_AMOUNT] = { "amount", G_VARIANT_TYPE_STRING, sm_check_peer_text_option },
  [OPT_PURPOSE] = { "purpose", G_VARIANT_TYPE_STRING, sm_check_peer_text_option },
  [OPT_APP_ID] = { "app-id", G_VARIANT_TYPE_STRING, sm_check_text_option },
  [OPT_URL] = { "url", G_VARIANT_TYPE_STRING, sm_check_text_option },
  [OPT_REQUEST_ID] = { "request-id", G_VARIANT_TYPE_STRING, NULL },
  [OPT_SESSION_ID] = { "session-id", G_VARIANT_TYPE_STRING, NULL },
  [OPT_FROM_PEER_ID] = { "from-peer-id", G_VARIANT_TYPE_STRING, NULL },
  [OPT_EXPIRES_AT] = { "expires-at", G_VARIANT_TYPE_INT64, NULL },
  [OPT_REGISTERED_AT] = { "registered-at", G_VARIANT_TYPE_INT64, NULL },
};

static char *
dup_string (GVariant *value)
{
  return value != NULL ? g_strdup (g_variant_get_string (value, NULL)) : NULL;
}

/* Fills @request from options sm_options_parse() checked. */
static void
apply_options (SmRequest *request, GVariant **values)
{
  request->from_nickname = dup_string (values[OPT_FROM_NICKNAME]);
  request->amount = dup_string (values[OPT_AMOUNT]);
  request->purpose = dup_string (values[OPT_PURPOSE]);
  request->app_id = dup_string (values[OPT_APP_ID]);
  request->url = dup_string (values[OPT_URL]);
}

static gboolean
sm_requests_check_room (SmRequests *self, const char *request_id, GError **error)
{
  if (g_hash_table_size (self->requests) >= SM_REQUESTS_MAX
      && !g_hash_table_contains (self->requests, request_id))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
                   "request_id: cannot track \"%s\", %d signing requests are already pending",
                   request_id, SM_REQUESTS_MAX);
      return FALSE;
    }
  return TRUE;
}

static SmRequestEntry *
sm_request_entry_new (SmRequests *self,
                      const char *request_id,
                      const char *session_id,
                      const char *from_peer_id,
                      gint64 expires_at,
                      gint64 registered_at,
                      GVariant **values)
{
  SmRequestEntry *entry = g_new0 (SmRequestEntry, 1);

  entry->owner = self;
  entry->request.id = g_strdup (request_id);
  entry->request.session_id = g_strdup (session_id);
  entry->request.from_peer_id = g_strdup (from_peer_id);
  entry->request.expires_at = expires_at;
  entry->request.registered_at = registered_at;
  apply_options (&entry->request, values);
  return entry;
}

static gsize
add_optional_size (gsize offset, const char *key, const char *value)
{
  return value != NULL ? sm_dbus_add_string (offset, key, value) : offset;
}

/* What @request counts against the budget: its D-Bus form as
 * GetSigningRequests sends it (all strings and integers: larger than its
 * GVariant form), plus its offset in the array. Computed, not built. */
static gsize
request_size (const SmRequest *request)
{
  gsize offset = sm_dbus_dict_start ();

  offset = sm_dbus_add_string (offset, "request-id", request->id);
  offset = sm_dbus_add_string (offset, "session-id", request->session_id);
  offset = sm_dbus_add_string (offset, "from-peer-id", request->from_peer_id);
  offset = sm_dbus_add_int64 (offset, "expires-at");
  offset = sm_dbus_add_int64 (offset, "registered-at");
  offset = add_optional_size (offset, "from-nickname", request->from_nickname);
  offset = add_optional_size (offset, "amount", request->amount);
  offset = add_optional_size (offset, "purpose", request->purpose);
  offset = add_optional_size (offset, "app-id", request->app_id);
  offset = add_optional_size (offset, "url", request->url);
  return offset + 8;
}

/* Whether @entry fits the byte budget in place of any request of its id;
 * else frees it. */
static gboolean
sm_requests_check_budget (SmRequests *self, SmRequestEntry *entry, GError **error)
{
  SmRequestEntry *old = g_hash_table_lookup (self->requests, entry->request.id);

  entry->size = request_size (&entry->request);
  if (sm_budget_check (self->budget, old != NULL ? old->size : 0, entry->size, "request_id",
                       entry->request.id, error))
    return TRUE;
  entry->size = 0;
  sm_request_entry_free (entry);
  return FALSE;
}

/* Takes @entry in (replacing any request of the same id) and arms it. */
static void
sm_requests_insert (SmRequests *self, SmRequestEntry *entry)
{
  gboolean replaced = g_hash_table_contains (self->requests, entry->request.id);

  sm_budget_charge (self->budget, 0, entry->size);
  g_hash_table_replace (self->requests, entry->request.id, entry);
  entry->request.deadline =
      sm_scheduler_add (self->scheduler, entry->request.expires_at, on_request_deadline, entry);
  g_signal_emit (self, signals[SIGNAL_REGISTERED], 0, &entry->request, replaced);
  sm_storable_changed (SM_STORABLE (self), entry->request.id);
}

/* Every check of a registration, nothing changed: the request it would
 * monitor (to sm_requests_apply() or sm_requests_discard()), else NULL and
 * the error naming the argument. */
SmRequestEntry *
sm_requests_check_register (SmRequests *self,
                            const char *request_id,
                            const char *session_id,
                            const char *from_peer_id,
                            gint64 expires_at,
                            GVariant *options,
                            GError **error)
{
  gint64 now = sm_scheduler_now (self->scheduler);
  GVariant *values[N_REGISTER_OPTIONS];
  SmRequestEntry *entry;

  if (!sm_check_id ("request_id", request_id, error)
      || !sm_check_id ("session_id", session_id, error)
      || !sm_check_id ("from_peer_id", from_peer_id, error)
      || !sm_check_expires_at ("expires_at", expires_at, now, error)
      || !sm_requests_check_room (self, request_id, error)
      || !sm_options_parse (request_options, N_REGISTER_OPTIONS, options, values, error))
    return NULL;

  entry =
      sm_request_entry_new (self, request_id, session_id, from_peer_id, expires_at, now, values);
  sm_options_clear (values, N_REGISTER_OPTIONS);
  if (!sm_requests_check_budget (self, entry, error))
    return NULL;
  return entry;
}

/* Makes the registration checked by sm_requests_check_register(), with
 * nothing changed in between. */
void
sm_requests_apply (SmRequests *self, SmRequestEntry *entry)
{
  g_return_if_fail (entry->owner == self);

  sm_requests_insert (self, entry);
}

/* A checked registration that is not made after all. */
void
sm_requests_discard (SmRequestEntry *entry)
{
  /* Never charged to the budget. */
  entry->size = 0;
  sm_request_entry_free (entry);
}

gboolean
sm_requests_register (SmRequests *self,
                      const char *request_id,
                      const char *session_id,
                      const char *from_peer_id,
                      gint64 expires_at,
                      GVariant *options,
                      GError **error)
{
  SmRequestEntry *entry = sm_requests_check_register (self, request_id, session_id, from_peer_id,
                                                      expires_at, options, error);

  if (entry == NULL)
    return FALSE;
  sm_requests_insert (self, entry);
  return TRUE;
}

/* The checks of an unregistration (InvalidArgs, NotFound), nothing changed. */
gboolean
sm_requests_check_unregister (SmRequests *self,
                              const char *request_id,
                              const char *reason,
                              GError **error)
{
  if (!sm_check_id ("request_id", request_id, error))
    return FALSE;
  if (*reason != '\0' && !g_strv_contains (unregister_reasons, reason))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "reason: must be accepted, rejected, expired, cancelled or empty");
      return FALSE;
    }
  if (!g_hash_table_contains (self->requests, request_id))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_NOT_FOUND,
                   "request_id: no signing request \"%s\" is pending", request_id);
      return FALSE;
    }
  return TRUE;
}

gboolean
sm_requests_unregister (SmRequests *self,
                        const char *request_id,
                        const char *reason,
                        GError **error)
{
  SmRequestEntry *entry;

  if (!sm_requests_check_unregister (self, request_id, reason, error))
    return FALSE;
  entry = g_hash_table_lookup (self->requests, request_id);
  g_signal_emit (self, signals[SIGNAL_UNREGISTERED], 0, &entry->request,
                 *reason != '\0' ? reason : "unregistered");
  g_hash_table_remove (self->requests, request_id);
  sm_storable_changed (SM_STORABLE (self), request_id);
  return TRUE;
}

/* Takes back a request saved from sm_request_to_variant(): the checks of a
 * registration, made at its registration time (or now, if later), with a
 * registration time clamped to now (the clock may have been set back). One already expired fires at the
 * scheduler's next dispatch. */
gboolean
sm_requests_restore (SmRequests *self, GVariant *entry_variant, GError **error)
{
  gint64 now = sm_scheduler_now (self->scheduler);
  GVariant *values[N_RESTORE_OPTIONS];
  const char *request_id, *session_id, *from_peer_id;
  gint64 expires_at, registered_at;
  SmRequestEntry *entry = NULL;

  if (!sm_options_parse (request_options, N_RESTORE_OPTIONS, entry_variant, values, error))
    return FALSE;
  if (values[OPT_REQUEST_ID] == NULL || values[OPT_SESSION_ID] == NULL
      || values[OPT_FROM_PEER_ID] == NULL || values[OPT_EXPIRES_AT] == NULL)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "request: \"request-id\" (s), \"session-id\" (s), \"from-peer-id\" (s) and "
                   "\"expires-at\" (x) are required");
      sm_options_clear (values, N_RESTORE_OPTIONS);
      return FALSE;
    }
  request_id = g_variant_get_string (values[OPT_REQUEST_ID], NULL);
  session_id = g_variant_get_string (values[OPT_SESSION_ID], NULL);
  from_peer_id = g_variant_get_string (values[OPT_FROM_PEER_ID], NULL);
  expires_at = g_variant_get_int64 (values[OPT_EXPIRES_AT]);
  registered_at =
      values[OPT_REGISTERED_AT] != NULL ? g_variant_get_int64 (values[OPT_REGISTERED_AT]) : now;

  if (sm_check_id ("request-id", request_id, error) && sm_check_id ("session-id", session_id, error)
      && sm_check_id ("from-peer-id", from_peer_id, error)
      && sm_check_saved_time ("registered-at", registered_at, now, error)
      && sm_check_expires_at ("expires-at", expires_at, MAX (now, registered_at), error)
      && sm_requests_check_room (self, request_id, error))
    entry = sm_request_entry_new (self, request_id, session_id, from_peer_id, expires_at,
                                  MIN (registered_at, now), values);
  sm_options_clear (values, N_RESTORE_OPTIONS);
  if (entry == NULL || !sm_requests_check_budget (self, entry, error))
    return FALSE;
  sm_requests_insert (self, entry);
  return TRUE;
}

const SmRequest *
sm_requests_lookup (SmRequests *self, const char *request_id)
{
  SmRequestEntry *entry = g_hash_table_lookup (self->requests, request_id);

  return entry != NULL ? &entry->request : NULL;
}

guint
sm_requests_get_count (SmRequests *self)
{
  return g_hash_table_size (self->requests);
}

static gint
compare_requests (gconstpointer a, gconstpointer b)
{
  const SmRequest *ra = *(const SmRequest *const *) a;
  const SmRequest *rb = *(const SmRequest *const *) b;

  if (ra->expires_at != rb->expires_at)
    return ra->expires_at < rb->expires_at ? -1 : 1;
  return strcmp (ra->id, rb->id);
}

/* Every request, soonest expiry first. The array does not own them. */
GPtrArray *
sm_requests_list (SmRequests *self)
{
  GPtrArray *list = g_ptr_array_sized_new (g_hash_table_size (self->requests));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->requests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, &((SmRequestEntry *) value)->request);
  g_ptr_array_sort (list, compare_requests);
  return list;
}

/* A {sv} entry, built without a format string: several times cheaper than
 * g_variant_builder_add (), and an entry is built for every registration
 * (to count it), every GetSigningRequests and every save. */
static GVariant *
dict_entry (const char *key, GVariant *value)
{
  return g_variant_new_dict_entry (g_variant_new_string (key), g_variant_new_variant (value));
}

static void
add_optional (GVariant **entries, gsize *n, const char *key, const char *value)
{
  if (value != NULL)
    entries[(*n)++] = dict_entry (key, g_variant_new_string (value));
}

GVariant *
sm_request_to_variant (const SmRequest *request)
{
  GVariant *entries[10];
  gsize n = 0;

  entries[n++] = dict_entry ("request-id", g_variant_new_string (request->id));
  entries[n++] = dict_entry ("session-id", g_variant_new_string (request->session_id));
  entries[n++] = dict_entry ("from-peer-id", g_variant_new_string (request->from_peer_id));
  entries[n++] = dict_entry ("expires-at", g_variant_new_int64 (request->expires_at));
  entries[n++] = dict_entry ("registered-at", g_variant_new_int64 (request->registered_at));
  add_optional (entries, &n, "from-nickname", request->from_nickname);
  add_optional (entries, &n, "amount", request->amount);
  add_optional (entries, &n, "purpose", request->purpose);
  add_optional (entries, &n, "app-id", request->app_id);
  add_optional (entries, &n, "url", request->url);
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), entries, n);
}

GVariant *
sm_requests_to_variant (SmRequests *self)
{
  g_autoptr (GPtrArray) list = sm_requests_list (self);
  g_autofree GVariant **children = g_new (GVariant *, MAX (list->len, 1));

  for (guint i = 0; i < list->len; i++)
    {
      /* The SmRequest is the first member of its entry. */
      SmRequestEntry *entry = list->pdata[i];

      if (entry->reply == NULL)
        {
          entry->reply = g_variant_ref_sink (sm_request_to_variant (&entry->request));
          /* Kept as one block of bytes, its tree freed now. */
          g_variant_get_data (entry->reply);
        }
      children[i] = entry->reply;
    }
  /* References to the kept entries, nothing copied. */
  return g_variant_new_array (G_VARIANT_TYPE ("a{sv}"), children, list->len);
}

static GVariant *
sm_requests_serialize (SmStorable *storable, const char *id)
{
  const SmRequest *request = sm_requests_lookup (SM_REQUESTS (storable), id);

  return request != NULL ? sm_request_to_variant (request) : NULL;
}

static gboolean
sm_requests_storable_restore (SmStorable *storable, GVariant *entry, GError **error)
{
  return sm_requests_restore (SM_REQUESTS (storable), entry, error);
}

static void
sm_requests_storable_init (SmStorableInterface *iface)
{
  iface->serialize = sm_requests_serialize;
  iface->restore = sm_requests_storable_restore;
}
