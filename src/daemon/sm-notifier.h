/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-storable.h"
#include "sm-names.h"
#include "sm-requests.h"
#include "sm-sessions.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* Desktop notifications for the sessions' warnings and expiries and for
 * pending signing requests, and the user's clicks on them as the
 * "action-invoked" signal (action, a{sv} data). It decides what is on
 * screen: at most three, the overflow merged into one summary notification.
 * Its parts, one file each, are listed in sm-notifier-private.h.
 *
 * The ids on screen are durable state: "changed" (id, always
 * SM_NOTIFIER_STATE_ID) says that sm_notifier_save() changed, the shape of
 * a single-entry section of SmStore. */

#define SM_TYPE_NOTIFIER (sm_notifier_get_type ())
G_DECLARE_FINAL_TYPE (SmNotifier, sm_notifier, SM, NOTIFIER, GObject)

#define SM_NOTIFIER_MAX_ON_SCREEN 3
/* The desktop file is named after the bus name. */
#define SM_DESKTOP_ID SM_BUS_NAME
#define SM_NOTIFIER_STATE_ID "notifications"

SmNotifier *sm_notifier_new (SmSessions *sessions, SmRequests *requests);

/* (nullable) a{sv}: what is on screen, item key → a{sv} with its "id" (u)
 * and what it showed; NULL when nothing is. */
GVariant *sm_notifier_save (SmNotifier *self);
/* Takes the notifications a previous run left on screen over (replaced in
 * place) or closes them, once a notification server is there. Call it after
 * the sessions and requests are restored. */
gboolean sm_notifier_restore (SmNotifier *self, GVariant *saved, GError **error);
/* One notice for what expired while the daemon was not running (expiry at
 * or before @now); those get no notice of their own. Call it after the
 * restore, before the scheduler dispatches their expiries. */
void sm_notifier_announce_missed (SmNotifier *self, gint64 now);

G_END_DECLS
