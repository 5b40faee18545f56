#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

/* The store's view of each model: list every entry, get one (NULL when it
 * is gone), restore one. */
static GVariant *
store_list_sessions (GObject *model)
{
  return sm_sessions_to_variant (SM_SESSIONS (model));
}

static GVariant *
store_get_session (GObject *model, const char *id)
{
  const SmSession *session = sm_sessions_lookup (SM_SESSIONS (model), id);

  return session != NULL ? sm_session_to_variant (session) : NULL;
}

static gboolean
store_restore_session (GObject *model, GVariant *entry, GError **error)
{
  return sm_sessions_restore (SM_SESSIONS (model), entry, error);
}

static GVariant *
store_list_requests (GObject *model)
{
  return sm_requests_to_variant (SM_REQUESTS (model));
}

static GVariant *
store_get_request (GObject *model, const char *id)
{
  const SmRequest *request = sm_requests_lookup (SM_REQUESTS (model), id);

  return request != NULL ? sm_request_to_variant (request) : NULL;
}

static gboolean
store_restore_request (GObject *model, GVariant *entry, GError **error)
{
  return sm_requests_restore (SM_REQUESTS (model), entry, error);
}

static GVariant *
store_list_presence (GObject *model)
{
  SmPresence *presence = SM_PRESENCE (model);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  if (sm_presence_is_configured (presence))
    g_variant_builder_add_value (&builder, sm_presence_to_variant (presence));
  return g_variant_builder_end (&builder);
}

static GVariant *
store_get_presence (GObject *model, const char *id G_GNUC_UNUSED)
{
  SmPresence *presence = SM_PRESENCE (model);

  return sm_presence_is_configured (presence) ? sm_presence_to_variant (presence) : NULL;
}

static gboolean
store_restore_presence (GObject *model, GVariant *entry, GError **error)
{
  return sm_presence_restore (SM_PRESENCE (model), entry, error);
}

/* The notification ids on screen: a single entry, so that a restarted
 * daemon takes its notifications over instead of leaving dead buttons. */
static GVariant *
store_list_notifications (GObject *model)
{
  GVariant *saved = sm_notifier_save (SM_NOTIFIER (model));

  return g_variant_new_array (G_VARIANT_TYPE_VARDICT, &saved, saved != NULL ? 1 : 0);
}

static GVariant *
store_get_notifications (GObject *model, const char *id G_GNUC_UNUSED)
{
  return sm_notifier_save (SM_NOTIFIER (model));
}

static gboolean
store_restore_notifications (GObject *model, GVariant *entry, GError **error)
{
  return sm_notifier_restore (SM_NOTIFIER (model), entry, error);
}

/* What restoring brought back already expired: it fires at once. */
static void
count_expired (SmUser *user, gint64 now, guint *n_sessions, guint *n_requests)
{
  g_autoptr (GPtrArray) sessions = sm_sessions_list (user->sessions);
  g_autoptr (GPtrArray) requests = sm_requests_list (user->requests);

  for (guint i = 0; i < sessions->len; i++)
    if (((const SmSession *) sessions->pdata[i])->expires_at <= now)
      (*n_sessions)++;
  for (guint i = 0; i < requests->len; i++)
    if (((const SmRequest *) requests->pdata[i])->expires_at <= now)
      (*n_requests)++;
}

/* Called once the bus name is owned, so that clients matching on it see the
 * catch-up signals: deadlines that passed while the daemon was down are due
 * at once and fire at the scheduler's next dispatch. @state_dir NULL keeps
 * everything in memory. */
void
sm_service_load_state (SmService *self, const char *state_dir)
{
  gint64 now = sm_scheduler_now (self->scheduler);
  guint n_sessions = 0, n_requests = 0;

  g_return_if_fail (SM_IS_SERVICE (self));
  g_return_if_fail (self->store == NULL);

  self->store = sm_store_new (state_dir);
  sm_store_add_section (self->store, "sessions", G_OBJECT (self->sessions), "session-id",
                        store_list_sessions, store_get_session, store_restore_session);
  sm_store_add_section (self->store, "requests", G_OBJECT (self->requests), "request-id",
                        store_list_requests, store_get_request, store_restore_request);
  sm_store_add_section (self->store, "presence", G_OBJECT (self->presence), NULL,
                        store_list_presence, store_get_presence, store_restore_presence);
  /* After the models: it takes over what they restored. */
  if (self->notifier != NULL)
    sm_store_add_section (self->store, "notifications", G_OBJECT (self->notifier), NULL,
                          store_list_notifications, store_get_notifications,
                          store_restore_notifications);
  if (self->users != NULL)
    sm_users_add_store_sections (self->users, self->store);
  sm_store_load (self->store);

  count_expired (&self->user, now, &n_sessions, &n_requests);
  if (self->users != NULL)
    {
      g_autoptr (GPtrArray) users = sm_users_list (self->users);

      for (guint i = 0; i < users->len; i++)
        count_expired (users->pdata[i], now, &n_sessions, &n_requests);
    }
  if (n_sessions > 0 || n_requests > 0)
    {
      g_message ("%u sessions and %u signing requests expired while the monitor was not running",
                 n_sessions, n_requests);
      if (self->notifier != NULL)
        sm_notifier_announce_missed (self->notifier, now);
    }
}
