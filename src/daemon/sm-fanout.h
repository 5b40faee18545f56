/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-callers.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* System mode's signals: each goes to every listening connection of its
 * user, paced so that one user's burst neither piles up in the daemon nor
 * delays anyone else.
 *
 * At most SM_FANOUT_WINDOW messages are on their way through the bus at a
 * time: after every half window the daemon asks the bus a question
 * (GetId) and sends more only as the answers come back. The bus handles a
 * connection's messages in order, so an answer means everything before it
 * has been routed. What waits meanwhile stays in the daemon as one small
 * entry per signal (not per listener), in a queue per user, and the users'
 * queues take turns: another user's signal waits for one turn, and a
 * method reply (sent past the queues) for at most one window. A stopped
 * listener's backlog is held by the bus (up to its max_outgoing_bytes per
 * connection, then dropped there), never by the daemon. */

#define SM_FANOUT_WINDOW 512
/* A user's queue holds at most this many signals; more are dropped, with a
 * log line (10 000 sessions and 10 000 requests expiring at once fit). */
#define SM_FANOUT_MAX_QUEUED 65536

#define SM_TYPE_FANOUT (sm_fanout_get_type ())
G_DECLARE_FINAL_TYPE (SmFanout, sm_fanout, SM, FANOUT, GObject)

SmFanout *sm_fanout_new (GDBusConnection *connection,
                         SmCallers *callers,
                         const char *object_path,
                         const char *interface_name);
void sm_fanout_emit (SmFanout *self, guint32 uid, const char *signal_name, GVariant *parameters);
void sm_fanout_set_connection (SmFanout *self, GDBusConnection *connection);
guint sm_fanout_get_queued (SmFanout *self, guint32 uid);

G_END_DECLS
