#pragma once

#include "sm-requests.h"
#include "sm-sessions.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* Desktop notifications for the sessions' warnings and expiries and for
 * pending signing requests, through libnotify, and the user's clicks on them
 * as the "action-invoked" signal (action, a{sv} data). At most three are on
 * screen; the overflow is merged into one summary notification. */

#define SM_TYPE_NOTIFIER (sm_notifier_get_type ())
G_DECLARE_FINAL_TYPE (SmNotifier, sm_notifier, SM, NOTIFIER, GObject)

#define SM_NOTIFIER_MAX_ON_SCREEN 3
#define SM_DESKTOP_ID "org.musig2.SessionMonitor1"

SmNotifier *sm_notifier_new (SmSessions *sessions, SmRequests *requests);

/* a{su}: what is on screen (item key → notification id), for the durable
 * state; "changed" says when it changed. */
GVariant *sm_notifier_save (SmNotifier *self);
/* Takes the notifications a previous run left on screen over (replaced in
 * place) or closes them, once a notification server is there. */
void sm_notifier_restore (SmNotifier *self, GVariant *saved);
/* One notice for what expired while the daemon was not running. */
void sm_notifier_announce_missed (SmNotifier *self, guint n_sessions, guint n_requests);

G_END_DECLS
