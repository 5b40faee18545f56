/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The org.freedesktop.Notifications server as the notifier sees it: watched
 * by name (never auto-started), its capabilities, and the clicks and closes
 * on notifications, matched by the server's unique name.
 *
 * Signals: "ready" once a server is there and its capabilities are known;
 * "vanished" when it leaves (its ids mean nothing to the next one);
 * "action-invoked" (id, action), "activation-token" (id, token) and
 * "closed" (id, reason) as the server sends them. */

#define SM_TYPE_NOTIFY_SERVER (sm_notify_server_get_type ())
G_DECLARE_FINAL_TYPE (SmNotifyServer, sm_notify_server, SM, NOTIFY_SERVER, GObject)

/* NotificationClosed reasons. */
#define SM_NOTIFY_CLOSED_DISMISSED 2
#define SM_NOTIFY_CLOSED_BY_CALL 3

SmNotifyServer *sm_notify_server_new (void);
gboolean sm_notify_server_is_ready (SmNotifyServer *self);
gboolean sm_notify_server_has_body_markup (SmNotifyServer *self);

/* Calls @method ("Notify" or "CloseNotification") on the server, by its
 * unique name (never auto-starting one) and without a client-side timeout:
 * the main loop never waits for it, and a hung server holds the call until
 * it answers or leaves (then the call fails with G_IO_ERROR_CANCELLED, as
 * when this object goes). FALSE, and nothing sent, when no server is ready.
 * @params is consumed if floating. */
gboolean sm_notify_server_call (SmNotifyServer *self,
                                const char *method,
                                GVariant *params,
                                GAsyncReadyCallback callback,
                                gpointer user_data);
GVariant *sm_notify_server_call_finish (GAsyncResult *result, GError **error);

/* Launches or raises @app_id (a desktop-file id without ".desktop") with the
 * click's activation token (nullable), in a worker thread: returns at once. */
void sm_notify_launch_app (const char *app_id, const char *token);

G_END_DECLS
