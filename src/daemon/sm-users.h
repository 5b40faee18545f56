/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-scheduler.h"
#include "sm-sessions.h"
#include "sm-store.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* The models of whoever calls, per Unix user: every user has models of
 * their own (sessions, requests, presence, each with its own limits) on the
 * one shared scheduler. In system-bus mode there is one user per caller's
 * uid, kept apart, all together under global caps, and the durable state
 * says whose each entry is ("owner-uid"). On the session bus the table has
 * exactly one user (sm_users_new_single()), whose own limits are all. */

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
} SmUser;

#define SM_TYPE_USERS (sm_users_get_type ())
G_DECLARE_FINAL_TYPE (SmUsers, sm_users, SM, USERS, GObject)

SmUsers *sm_users_new (SmScheduler *scheduler);
SmUsers *sm_users_new_single (SmScheduler *scheduler);

SmUser *sm_users_get (SmUsers *self, guint32 uid);
GPtrArray *sm_users_list (SmUsers *self);
guint sm_users_count_sessions (SmUsers *self);
gboolean sm_users_check_room (SmUsers *self,
                              SmUser *user,
                              gboolean session,
                              const char *id,
                              GError **error);
SmBudget *sm_users_get_budget (SmUsers *self);
void sm_users_add_store_sections (SmUsers *self, SmStore *store);

G_END_DECLS
