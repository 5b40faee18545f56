/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-service.h"

#include "sm-callers.h"
#include "sm-fanout.h"
#include "sm-presence.h"
#include "sm-sessions.h"
#include "sm-store.h"
#include "sm-users.h"

G_BEGIN_DECLS

/* What the service's files share: sm-service.c (the type and the method
 * handlers), sm-service-signals.c (the models' events as the contract's
 * signals) and sm-service-state.c (the models in the durable store). */

struct _SmService
{
  SmDBusSessionMonitor1Skeleton parent_instance;

  SmScheduler *scheduler; /* (owned) */
  SmSessions *sessions;   /* (owned) */
  SmRequests *requests;   /* (owned) */
  SmNotifier *notifier;   /* (owned) (nullable) */
  SmPresence *presence;   /* (owned) */
  SmStore *store;         /* (owned) (nullable): until the state is loaded */
  SmUser user;            /* session bus: the one user, the models above (unowned) */
  SmUsers *users;         /* (owned) (nullable): system mode's users, each apart */
  SmCallers *callers;     /* (owned) (nullable): system mode's callers' uids */
  SmFanout *fanout;       /* (owned) (nullable): system mode's signals, paced */
  GQueue before_load;     /* (owned) GDBusMethodInvocation: calls that came before the state */
};

/* sm-service.c */
void sm_service_release_calls (SmService *self);

/* sm-service-signals.c */
void sm_service_connect_user (SmService *self, SmUser *user);
void sm_service_connect_users (SmService *self);
void sm_service_connect_notifier (SmService *self);

G_END_DECLS
