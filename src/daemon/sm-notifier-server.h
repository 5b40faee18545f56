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

#define SM_TYPE_NOTIFIER_SERVER (sm_notifier_server_get_type ())
G_DECLARE_FINAL_TYPE (SmNotifierServer, sm_notifier_server, SM, NOTIFIER_SERVER, GObject)

/* NotificationClosed reasons. */
#define SM_NOTIFIER_SERVER_CLOSED_DISMISSED 2
#define SM_NOTIFIER_SERVER_CLOSED_BY_CALL 3

SmNotifierServer *sm_notifier_server_new (void);
gboolean sm_notifier_server_is_ready (SmNotifierServer *self);
gboolean sm_notifier_server_has_body_markup (SmNotifierServer *self);

/* Calls @method ("Notify" or "CloseNotification") on the server, by its
 * unique name (never auto-starting one) and without a client-side timeout:
 * the main loop never waits for it, and a hung server holds the call until
 * it answers or leaves (then the call fails with G_IO_ERROR_CANCELLED, as
 * when this object goes). FALSE, and nothing sent, when no server is ready.
 * @params is consumed if floating. */
gboolean sm_notifier_server_call (SmNotifierServer *self,
                                  const char *method,
                                  GVariant *params,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data);
GVariant *sm_notifier_server_call_finish (GAsyncResult *result, GError **error);

G_END_DECLS
