/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-notifier-server.h"

G_BEGIN_DECLS

/* The notifier's calls to the notification server in flight. A server may
 * never answer: they are counted and bounded (what cannot be sent now waits
 * in the notifier's items, coalesced, never queued here), and a server
 * that holds them for long is logged, once. Private to the notifier
 * (sm-notifier*.c). */

typedef struct _SmNotifierCalls SmNotifierCalls;

SmNotifierCalls *sm_notifier_calls_new (SmNotifierServer *server);
void sm_notifier_calls_free (SmNotifierCalls *self);

/* Whether another Notify may go out now: a server is ready and fewer than
 * the bound are in flight. */
gboolean sm_notifier_calls_can_notify (SmNotifierCalls *self);
/* Sends Notify with @params (consumed if floating); the answer comes to
 * @callback, which calls sm_notifier_calls_notify_finish(). */
void sm_notifier_calls_notify (SmNotifierCalls *self,
                               GVariant *params,
                               GAsyncReadyCallback callback,
                               gpointer user_data);
/* The Notify's answer. Fails with G_IO_ERROR_CANCELLED when the server left
 * or the notifier went: then @self is not touched (it may be gone). */
GVariant *sm_notifier_calls_notify_finish (SmNotifierCalls *self,
                                           GAsyncResult *result,
                                           GError **error);
/* Closes notification @id (not 0), fire-and-forget; left to the server
 * when too many closes are in flight. */
void sm_notifier_calls_close (SmNotifierCalls *self, guint32 id);
/* The server left: its calls in flight were cancelled with it. */
void sm_notifier_calls_reset (SmNotifierCalls *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmNotifierCalls, sm_notifier_calls_free)

G_END_DECLS
