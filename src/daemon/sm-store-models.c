/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-models.h"

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

void
sm_store_add_sessions (SmStore *store, const char *name, SmSessions *sessions)
{
  sm_store_add_section (store, name, G_OBJECT (sessions), "session-id", get_session,
                        restore_session);
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

void
sm_store_add_requests (SmStore *store, const char *name, SmRequests *requests)
{
  sm_store_add_section (store, name, G_OBJECT (requests), "request-id", get_request,
                        restore_request);
}

/* A single-entry section: the id is always "presence". */
static GVariant *
get_presence (GObject *model, const char *id G_GNUC_UNUSED)
{
  SmPresence *presence = SM_PRESENCE (model);

  return sm_presence_is_configured (presence) ? sm_presence_to_variant (presence) : NULL;
}

static gboolean
restore_presence (GObject *model, GVariant *entry, GError **error)
{
  return sm_presence_restore (SM_PRESENCE (model), entry, error);
}

void
sm_store_add_presence (SmStore *store, const char *name, SmPresence *presence)
{
  sm_store_add_section (store, name, G_OBJECT (presence), NULL, get_presence, restore_presence);
}
