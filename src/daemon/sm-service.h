/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-dbus-generated.h"
#include "sm-notifier.h"
#include "sm-requests.h"
#include "sm-scheduler.h"

G_BEGIN_DECLS

/* The D-Bus face of the daemon: validates nothing itself, hands each call to
 * its model and turns the models' events into the contract's signals. */

#define SM_TYPE_SERVICE (sm_service_get_type ())
G_DECLARE_FINAL_TYPE (SmService, sm_service, SM, SERVICE, SmDBusSessionMonitor1Skeleton)

SmService *sm_service_new (SmScheduler *scheduler);
SmRequests *sm_service_get_requests (SmService *self);
SmNotifier *sm_service_start_notifications (SmService *self);
SmNotifier *sm_service_get_notifier (SmService *self);
void sm_service_load_state (SmService *self, const char *state_dir);
void sm_service_separate_users (SmService *self, GDBusConnection *connection);
void sm_service_reconnect (SmService *self, GDBusConnection *connection);

G_END_DECLS
