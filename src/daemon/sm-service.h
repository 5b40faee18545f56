/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-dbus-generated.h"
#include "sm-notifier.h"
#include "sm-scheduler.h"

G_BEGIN_DECLS

/* The D-Bus face of the daemon: validates nothing itself. A gate finds each
 * call's user (the one user on the session bus, the caller's uid in system
 * mode), the handler hands the call to that user's models (which check it;
 * SmUsers checks the caps of all users together) and the store, and the
 * models' events become the contract's signals. */

#define SM_TYPE_SERVICE (sm_service_get_type ())
G_DECLARE_FINAL_TYPE (SmService, sm_service, SM, SERVICE, SmDBusSessionMonitor1Skeleton)

SmService *sm_service_new (SmScheduler *scheduler);
SmNotifier *sm_service_start_notifications (SmService *self);
void sm_service_load_state (SmService *self, const char *state_dir);
void sm_service_separate_users (SmService *self, GDBusConnection *connection);
void sm_service_reconnect (SmService *self, GDBusConnection *connection);

G_END_DECLS
