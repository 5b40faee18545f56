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

/* What the service's files share: sm-service.c (the type, the gate that
 * finds each call's user, the method handlers), sm-service-change.c (a
 * change made durable, or taken back), sm-service-signals.c (the models'
 * events as the contract's signals) and sm-service-state.c (the models in
 * the durable store). */

struct _SmService
{
  SmDBusSessionMonitor1Skeleton parent_instance;

  SmScheduler *scheduler; /* (owned) */
  /* (owned) whoever calls: on the session bus exactly one user (the
   * daemon's uid), in system mode one per caller's uid. */
  SmUsers *users;
  /* (owned) the session bus's table of one user, whose models are the
   * state's "sessions", "requests" and "presence" sections; the same as
   * @users on the session bus, kept in system mode for the state only
   * (no call reaches it there). */
  SmUsers *session_users;
  guint32 uid;                 /* the daemon's own: the session bus's one user */
  gboolean separate;           /* system mode: @users holds one user per caller's uid */
  GHashTable *links;           /* (owned) uid → (owned) SmUserLink, for @users */
  SmNotifier *notifier;        /* (owned) (nullable) */
  SmStore *store;              /* (owned) (nullable): until the state is loaded */
  SmCallers *callers;          /* (owned) (nullable): system mode's callers' uids */
  SmFanout *fanout;            /* (owned) (nullable): system mode's signals, paced */
  GQueue before_load;          /* (owned) GDBusMethodInvocation: calls that came before the state */
  GDBusInterfaceVTable vtable; /* the generated one, behind the gate */
  const GDBusInterfaceVTable *parent_vtable; /* (nullable) the generated one */
};

/* What the service keeps of each user of its table: the data of the
 * handlers that turn the user's models' events into signals, and the watch
 * on the bus name of the user's presence owner. */
typedef struct
{
  SmService *service;   /* (unowned) */
  SmUser *user;         /* (unowned): the service's SmUsers owns it */
  guint owner_watch_id; /* the presence owner's unique name */
} SmUserLink;

/* sm-service.c */
void sm_service_release_calls (SmService *self);
SmUser *sm_service_get_session_user (SmService *self);
SmUsers *sm_service_get_separate_users (SmService *self);

/* sm-service-change.c */
typedef enum
{
  SM_CHANGE_SESSION,
  SM_CHANGE_REQUEST,
  SM_CHANGE_PRESENCE,
} SmChangeKind;

typedef struct _SmUndo SmUndo;

gboolean sm_service_return_error (GDBusMethodInvocation *invocation, const GError *error);
gboolean sm_service_prepare_change (SmService *self,
                                    GDBusMethodInvocation *invocation,
                                    GError **error);
SmUndo *sm_service_keep_undo (SmService *self, SmChangeKind kind, gpointer model, const char *id);
void sm_undo_free (SmUndo *undo);
gboolean sm_service_complete_change (SmService *self,
                                     GDBusMethodInvocation *invocation,
                                     SmUndo *undo);
gboolean sm_service_add_entry (SmService *self,
                               GDBusMethodInvocation *invocation,
                               SmChangeKind kind,
                               gpointer model,
                               const char *id,
                               gpointer entry,
                               const GError *check_error);
gboolean sm_service_remove_entry (SmService *self,
                                  GDBusMethodInvocation *invocation,
                                  SmChangeKind kind,
                                  gpointer model,
                                  const char *id,
                                  const char *reason);

/* sm-service-signals.c */
SmUserLink *sm_service_connect_user (SmService *self, SmUser *user);
void sm_user_link_free (SmUserLink *link);
void sm_service_connect_notifier (SmService *self);

G_END_DECLS
