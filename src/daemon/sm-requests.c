/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-requests"

#include "sm-requests.h"

#include "sm-checks.h"
#include "sm-error.h"
#include "sm-options.h"

struct _SmRequests
{
  SmDeadlineTable parent_instance;
};

/* A request as the table holds it: what sm_requests_check_register() hands
 * out. */
struct _SmRequestEntry
{
  SmDeadlineTableEntry base;
  SmRequest request;
};

G_DEFINE_FINAL_TYPE (SmRequests, sm_requests, SM_TYPE_DEADLINE_TABLE)

#define REQUEST(entry) (&((SmRequestEntry *) (entry))->request)
#define TABLE(self) SM_DEADLINE_TABLE (self)

static const char *const unregister_reasons[] = {
  "accepted", "rejected", "expired", "cancelled", NULL,
};

static void
sm_request_entry_free (SmDeadlineTableEntry *entry)
{
  SmRequest *request = REQUEST (entry);

  g_free (request->id);
  g_free (request->session_id);
  g_free (request->from_peer_id);
  g_free (request->from_nickname);
  g_free (request->amount);
  g_free (request->purpose);
  g_free (request->app_id);
  g_free (request->url);
  g_free (entry);
}

static void sm_request_entry_write (SmDeadlineTableEntry *entry, SmVardictWriter *writer);

static gboolean
sm_requests_check_reason (const char *reason, GError **error)
{
  if (*reason != '\0' && !g_strv_contains (unregister_reasons, reason))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "reason: must be accepted, rejected, expired, cancelled or empty");
      return FALSE;
    }
  return TRUE;
}

static const SmDeadlineTableKind request_kind = {
  .signal_prefix = "request",
  .id_arg = "request_id",
  .noun = "signing request",
  .plural = "signing requests",
  .verb = "track",
  .state = "pending",
  .max = SM_REQUESTS_MAX,
};

static gboolean sm_requests_table_restore (SmDeadlineTable *table, GVariant *entry, GError **error);

static void
sm_requests_class_init (SmRequestsClass *klass)
{
  SmDeadlineTableClass *table_class = SM_DEADLINE_TABLE_CLASS (klass);

  table_class->write = sm_request_entry_write;
  table_class->restore = sm_requests_table_restore;
  table_class->free_entry = sm_request_entry_free;
  table_class->check_reason = sm_requests_check_reason;
  sm_deadline_table_class_set_kind (table_class, &request_kind);
}

static void
sm_requests_init (SmRequests *self G_GNUC_UNUSED)
{
}

SmRequests *
sm_requests_new (SmScheduler *scheduler)
{
  return g_object_new (SM_TYPE_REQUESTS, "scheduler", scheduler, NULL);
}

/* Shares @budget with the user's other models; before any request. */
void
sm_requests_set_budget (SmRequests *self, SmBudget *budget)
{
  sm_deadline_table_set_budget (TABLE (self), budget);
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
  [OPT_FROM_NICKNAME] = { "from-nickname", G_VARIANT_TYPE_STRING, sm_check_peer_text_option, NULL },
  [OPT_AMOUNT] = { "amount", G_VARIANT_TYPE_STRING, sm_check_peer_text_option, NULL },
  [OPT_PURPOSE] = { "purpose", G_VARIANT_TYPE_STRING, sm_check_peer_text_option, NULL },
  [OPT_APP_ID] = { "app-id", G_VARIANT_TYPE_STRING, sm_check_text_option, NULL },
  [OPT_URL] = { "url", G_VARIANT_TYPE_STRING, sm_check_text_option, NULL },
  [OPT_REQUEST_ID] = { "request-id", G_VARIANT_TYPE_STRING, NULL, NULL },
  [OPT_SESSION_ID] = { "session-id", G_VARIANT_TYPE_STRING, NULL, NULL },
  [OPT_FROM_PEER_ID] = { "from-peer-id", G_VARIANT_TYPE_STRING, NULL, NULL },
  [OPT_EXPIRES_AT] = { "expires-at", G_VARIANT_TYPE_INT64, NULL, NULL },
  [OPT_REGISTERED_AT] = { "registered-at", G_VARIANT_TYPE_INT64, NULL, NULL },
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

  entry->request.id = g_strdup (request_id);
  entry->request.session_id = g_strdup (session_id);
  entry->request.from_peer_id = g_strdup (from_peer_id);
  entry->request.expires_at = expires_at;
  entry->request.registered_at = registered_at;
  apply_options (&entry->request, values);
  sm_deadline_table_entry_init (TABLE (self), &entry->base, &entry->request, entry->request.id,
                                expires_at);
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
  return sm_deadline_table_check_budget (TABLE (self), &entry->base, request_size (&entry->request),
                                         error);
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
  gint64 now = sm_deadline_table_now (TABLE (self));
  GVariant *values[N_REGISTER_OPTIONS];
  SmRequestEntry *entry;

  if (!sm_check_id ("request_id", request_id, error)
      || !sm_check_id ("session_id", session_id, error)
      || !sm_check_id ("from_peer_id", from_peer_id, error)
      || !sm_check_expires_at ("expires_at", expires_at, now, error)
      || !sm_deadline_table_check_room (TABLE (self), request_id, error)
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
  sm_deadline_table_insert (TABLE (self), &entry->base);
}

/* A checked registration that is not made after all. */
void
sm_requests_discard (SmRequestEntry *entry)
{
  sm_deadline_table_discard (&entry->base);
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
  sm_requests_apply (self, entry);
  return TRUE;
}

/* The checks of an unregistration (InvalidArgs, NotFound), nothing changed. */
gboolean
sm_requests_check_unregister (SmRequests *self,
                              const char *request_id,
                              const char *reason,
                              GError **error)
{
  return sm_deadline_table_check_unregister (TABLE (self), request_id, reason, error);
}

gboolean
sm_requests_unregister (SmRequests *self,
                        const char *request_id,
                        const char *reason,
                        GError **error)
{
  return sm_deadline_table_unregister (TABLE (self), request_id, reason, error);
}

/* Takes back a request saved from sm_request_to_variant(): the checks of a
 * registration, made at its registration time (or now, if later), with a
 * registration time clamped to now (the clock may have been set back). One already expired fires at the
 * scheduler's next dispatch. */
gboolean
sm_requests_restore (SmRequests *self, GVariant *entry_variant, GError **error)
{
  gint64 now = sm_deadline_table_now (TABLE (self));
  GVariant *values[N_RESTORE_OPTIONS];
  const char *request_id, *session_id, *from_peer_id;
  gint64 expires_at, registered_at;
  SmRequestEntry *entry = NULL;

  if (!sm_options_parse_saved (request_options, N_RESTORE_OPTIONS, entry_variant, values, error))
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
      && sm_deadline_table_check_saved (TABLE (self), request_id, registered_at, expires_at, error))
    entry = sm_request_entry_new (self, request_id, session_id, from_peer_id, expires_at,
                                  MIN (registered_at, now), values);
  sm_options_clear (values, N_RESTORE_OPTIONS);
  if (entry == NULL || !sm_requests_check_budget (self, entry, error))
    return FALSE;
  sm_requests_apply (self, entry);
  return TRUE;
}

static gboolean
sm_requests_table_restore (SmDeadlineTable *table, GVariant *entry, GError **error)
{
  return sm_requests_restore (SM_REQUESTS (table), entry, error);
}

const SmRequest *
sm_requests_lookup (SmRequests *self, const char *request_id)
{
  return sm_deadline_table_lookup (TABLE (self), request_id);
}

guint
sm_requests_get_count (SmRequests *self)
{
  return sm_deadline_table_get_count (TABLE (self));
}

/* Every request, soonest expiry first. The array does not own them. */
GPtrArray *
sm_requests_list (SmRequests *self)
{
  return sm_deadline_table_list (TABLE (self));
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

static void
write_optional (SmVardictWriter *writer, const char *key, const char *value)
{
  if (value != NULL)
    sm_vardict_writer_add_string (writer, key, value);
}

/* What sm_request_to_variant() gives, written for a listing. */
static void
sm_request_entry_write (SmDeadlineTableEntry *entry, SmVardictWriter *writer)
{
  const SmRequest *request = REQUEST (entry);

  sm_vardict_writer_begin (writer);
  sm_vardict_writer_add_string (writer, "request-id", request->id);
  sm_vardict_writer_add_string (writer, "session-id", request->session_id);
  sm_vardict_writer_add_string (writer, "from-peer-id", request->from_peer_id);
  sm_vardict_writer_add_int64 (writer, "expires-at", request->expires_at);
  sm_vardict_writer_add_int64 (writer, "registered-at", request->registered_at);
  write_optional (writer, "from-nickname", request->from_nickname);
  write_optional (writer, "amount", request->amount);
  write_optional (writer, "purpose", request->purpose);
  write_optional (writer, "app-id", request->app_id);
  write_optional (writer, "url", request->url);
  sm_vardict_writer_end (writer);
}

GVariant *
sm_requests_to_variant (SmRequests *self)
{
  return sm_deadline_table_to_variant (TABLE (self));
}
