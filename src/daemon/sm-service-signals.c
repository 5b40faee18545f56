/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

#include "sm-names.h"

/* The one place a user's signal leaves the daemon. On the session bus every
 * signal is broadcast, as the generated emitters do. In system mode a
 * user's signals go only to that user's subscribed connections (a broadcast
 * would show every user's ids to all), paced by the fan-out; never anywhere
 * else, also while the service is disposed. Takes a floating @parameters
 * over. */
static void
emit (SmUserLink *link, const char *signal_name, GVariant *parameters)
{
  GDBusInterfaceSkeleton *skeleton = G_DBUS_INTERFACE_SKELETON (link->service);
  g_autoptr (GVariant) owned = NULL;
  g_autolist (GDBusConnection) connections = NULL;

  if (link->service->separate)
    {
      if (link->service->fanout != NULL)
        sm_fanout_emit (link->service->fanout, link->user->uid, signal_name, parameters);
      else
        g_variant_unref (g_variant_ref_sink (parameters));
      return;
    }
  owned = g_variant_ref_sink (parameters);
  connections = g_dbus_interface_skeleton_get_connections (skeleton);
  for (GList *l = connections; l != NULL; l = l->next)
    g_dbus_connection_emit_signal (l->data, NULL,
                                   g_dbus_interface_skeleton_get_object_path (skeleton),
                                   SM_INTERFACE, signal_name, owned, NULL);
}

static void
on_presence_refresh_needed (SmPresence *presence G_GNUC_UNUSED,
                            const char *wallet_address,
                            gint64 last_refresh,
                            SmUserLink *link)
{
  emit (link, "PresenceRefreshNeeded", g_variant_new ("(sx)", wallet_address, last_refresh));
}

static void
on_presence_refreshed (SmPresence *presence G_GNUC_UNUSED,
                       gboolean success,
                       gint64 next_refresh_at,
                       SmUserLink *link)
{
  emit (link, "PresenceRefreshed", g_variant_new ("(bx)", success, next_refresh_at));
}

static void
on_session_expiring (SmSessions *sessions G_GNUC_UNUSED,
                     const SmSession *session,
                     guint minutes_remaining,
                     gint64 threshold_ms G_GNUC_UNUSED,
                     gboolean notify G_GNUC_UNUSED,
                     SmUserLink *link)
{
  emit (link, "SessionExpiring",
        g_variant_new ("(sxus)", session->id, session->expires_at, minutes_remaining,
                       session->session_type));
}

static void
on_session_expired (SmSessions *sessions G_GNUC_UNUSED, const SmSession *session, SmUserLink *link)
{
  emit (link, "SessionExpired", g_variant_new ("(ss)", session->id, session->session_type));
}

static void
on_session_unregistered (SmSessions *sessions G_GNUC_UNUSED,
                         const SmSession *session,
                         const char *reason,
                         SmUserLink *link)
{
  emit (link, "SessionUnregistered", g_variant_new ("(ss)", session->id, reason));
}

static void
on_request_expired (SmRequests *requests G_GNUC_UNUSED, const SmRequest *request, SmUserLink *link)
{
  emit (link, "SigningRequestExpired", g_variant_new ("(ss)", request->id, request->session_id));
}

/* The contract's signals for one user's models, until the link is freed. */
SmUserLink *
sm_service_connect_user (SmService *self, SmUser *user)
{
  SmUserLink *link = g_new0 (SmUserLink, 1);

  link->service = self;
  link->user = user;
  g_signal_connect (user->sessions, "session-expiring", G_CALLBACK (on_session_expiring), link);
  g_signal_connect (user->sessions, "session-expired", G_CALLBACK (on_session_expired), link);
  g_signal_connect (user->sessions, "session-unregistered", G_CALLBACK (on_session_unregistered),
                    link);
  g_signal_connect (user->requests, "request-expired", G_CALLBACK (on_request_expired), link);
  g_signal_connect (user->presence, "refresh-needed", G_CALLBACK (on_presence_refresh_needed),
                    link);
  g_signal_connect (user->presence, "refreshed", G_CALLBACK (on_presence_refreshed), link);
  return link;
}

/* Disconnects the user's signals and stops watching its presence owner. */
void
sm_user_link_free (SmUserLink *link)
{
  g_clear_handle_id (&link->owner_watch_id, g_bus_unwatch_name);
  g_signal_handlers_disconnect_by_data (link->user->sessions, link);
  g_signal_handlers_disconnect_by_data (link->user->requests, link);
  g_signal_handlers_disconnect_by_data (link->user->presence, link);
  g_free (link);
}

static void
on_action_invoked (SmNotifier *notifier G_GNUC_UNUSED,
                   const char *action,
                   GVariant *data,
                   SmService *self)
{
  sm_dbus_session_monitor1_emit_action_invoked (SM_DBUS_SESSION_MONITOR1 (self), action, data);
}

/* The notifier's clicks become ActionInvoked. */
void
sm_service_connect_notifier (SmService *self)
{
  g_signal_connect (self->notifier, "action-invoked", G_CALLBACK (on_action_invoked), self);
}
