/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

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
  SmUser *user = sm_service_get_session_user (self);
  SmUsers *users = sm_service_get_separate_users (self);

  g_return_if_fail (SM_IS_SERVICE (self));
  g_return_if_fail (self->store == NULL);

  self->store = sm_store_new (state_dir);
  sm_store_add_section (self->store, "sessions", SM_STORABLE (user->sessions), "session-id");
  sm_store_add_section (self->store, "requests", SM_STORABLE (user->requests), "request-id");
  sm_store_add_section (self->store, "presence", SM_STORABLE (user->presence), NULL);
  /* After the models: it takes over what they restored. The notification
   * ids on screen, so that a restarted daemon takes its notifications over
   * instead of leaving dead buttons. */
  if (self->notifier != NULL)
    sm_store_add_section (self->store, "notifications", SM_STORABLE (self->notifier), NULL);
  if (users != NULL)
    sm_users_add_store_sections (users, self->store);
  sm_store_load (self->store);

  count_expired (user, now, &n_sessions, &n_requests);
  if (users != NULL)
    {
      g_autoptr (GPtrArray) list = sm_users_list (users);

      for (guint i = 0; i < list->len; i++)
        count_expired (list->pdata[i], now, &n_sessions, &n_requests);
    }
  if (n_sessions > 0 || n_requests > 0)
    {
      g_message ("%u sessions and %u signing requests expired while the monitor was not running",
                 n_sessions, n_requests);
      if (self->notifier != NULL)
        sm_notifier_announce_missed (self->notifier, now);
    }
  sm_service_release_calls (self);
}
