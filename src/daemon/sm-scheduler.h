/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* One wall-clock scheduler for every deadline the daemon has (warning
 * thresholds, expiries, presence ticks). Deadlines are kept in one ordered
 * sequence and a single CLOCK_REALTIME timerfd is armed for the earliest;
 * nothing wakes in between. A manual scheduler (tests) has no timer: time
 * moves only when sm_scheduler_set_now() is called. */

#define SM_TYPE_SCHEDULER (sm_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (SmScheduler, sm_scheduler, SM, SCHEDULER, GObject)

/* Owned by the scheduler. It is freed right after its callback returns, or by
 * sm_scheduler_remove(): owners drop their pointer in either case. */
typedef struct _SmDeadline SmDeadline;

/* @now_ms is the wall clock at dispatch, never earlier than @due_ms. */
typedef void (*SmDeadlineFunc) (gint64 due_ms, gint64 now_ms, gpointer user_data);

SmScheduler *sm_scheduler_new (GError **error);
SmScheduler *sm_scheduler_new_manual (gint64 now_ms);

gint64 sm_scheduler_now (SmScheduler *self);
void sm_scheduler_set_now (SmScheduler *self, gint64 now_ms);

SmDeadline *sm_scheduler_add (SmScheduler *self,
                              gint64 due_ms,
                              SmDeadlineFunc func,
                              gpointer user_data);
void sm_scheduler_remove (SmScheduler *self, SmDeadline *deadline);
gint64 sm_deadline_get_due (SmDeadline *deadline);

gint64 sm_scheduler_get_next_due (SmScheduler *self);
guint sm_scheduler_get_size (SmScheduler *self);
guint64 sm_scheduler_get_wakeups (SmScheduler *self);
guint sm_scheduler_dispatch (SmScheduler *self);

G_END_DECLS
