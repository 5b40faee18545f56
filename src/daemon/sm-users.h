/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-scheduler.h"
#include "sm-sessions.h"
#include "sm-store.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* System-bus mode keeps each Unix user's data apart: every user has models
 * of their own (sessions, requests, presence, each with its own limits) on
 * the one shared scheduler, and the durable state says whose each entry is
 * ("owner-uid"). On the session bus there is one user and none of this. */

/* All users together hold at most this many sessions (and as many signing
 * requests), so that a handful of users cannot exhaust the daemon; and as
 * many times a user's byte budget (SM_BUDGET_USER_BYTES), for the same
 * reason: without it the daemon's memory would grow with the number of
 * users (up to the global count caps: 40 000 sessions of 64 KiB). */
#define SM_USERS_MAX_FACTOR 4

typedef struct
{
  guint32 uid;
  SmSessions *sessions; /* (owned) */
  SmRequests *requests; /* (owned) */
  SmPresence *presence; /* (owned) */
  guint owner_watch_id; /* the presence owner's name, watched by the service */
  gpointer service;     /* (unowned) for the service's signal handlers */
} SmUser;

#define SM_TYPE_USERS (sm_users_get_type ())
G_DECLARE_FINAL_TYPE (SmUsers, sm_users, SM, USERS, GObject)

SmUsers *sm_users_new (SmScheduler *scheduler);

SmUser *sm_users_get (SmUsers *self, guint32 uid);
GPtrArray *sm_users_list (SmUsers *self);
guint sm_users_count_sessions (SmUsers *self);
guint sm_users_count_requests (SmUsers *self);
SmBudget *sm_users_get_budget (SmUsers *self);
void sm_users_add_store_sections (SmUsers *self, SmStore *store);

G_END_DECLS
