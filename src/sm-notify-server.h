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

/* Launches or raises @app_id (a desktop-file id without ".desktop") with the
 * click's activation token (nullable). */
void sm_notify_launch_app (const char *app_id, const char *token);

G_END_DECLS
