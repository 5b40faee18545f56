/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

/* On the session bus every signal is broadcast. In system mode a user's
 * signals go only to that user's subscribed connections (a broadcast would
 * show every user's ids to all), paced by the fan-out. */
static void
emit_to_user (SmService *self, SmUser *user, const char *signal_name, GVariant *parameters)
{
  sm_fanout_emit (self->fanout, user->uid, signal_name, parameters);
}

static void
on_presence_refresh_needed (SmPresence *presence G_GNUC_UNUSED,
                            const char *wallet_address,
                            gint64 last_refresh,
                            SmUser *user)
{
  SmService *self = user->service;

  if (self->users != NULL)
    emit_to_user (self, user, "PresenceRefreshNeeded",
                  g_variant_new ("(sx)", wallet_address, last_refresh));
  else
    sm_dbus_session_monitor1_emit_presence_refresh_needed (SM_DBUS_SESSION_MONITOR1 (self),
                                                           wallet_address, last_refresh);
}

static void
on_presence_refreshed (SmPresence *presence G_GNUC_UNUSED,
                       gboolean success,
                       gint64 next_refresh_at,
                       SmUser *user)
{
  SmService *self = user->service;

  if (self->users != NULL)
    emit_to_user (self, user, "PresenceRefreshed",
                  g_variant_new ("(bx)", success, next_refresh_at));
  else
    sm_dbus_session_monitor1_emit_presence_refreshed (SM_DBUS_SESSION_MONITOR1 (self), success,
                                                      next_refresh_at);
}

static void
on_session_expiring (SmSessions *sessions G_GNUC_UNUSED,
                     const SmSession *session,
                     guint minutes_remaining,
                     gint64 threshold_ms G_GNUC_UNUSED,
                     gboolean notify G_GNUC_UNUSED,
                     SmUser *user)
{
  SmService *self = user->service;

  if (self->users != NULL)
    emit_to_user (self, user, "SessionExpiring",
                  g_variant_new ("(sxus)", session->id, session->expires_at, minutes_remaining,
                                 session->session_type));
  else
    sm_dbus_session_monitor1_emit_session_expiring (SM_DBUS_SESSION_MONITOR1 (self), session->id,
                                                    session->expires_at, minutes_remaining,
                                                    session->session_type);
}

static void
on_session_expired (SmSessions *sessions G_GNUC_UNUSED, const SmSession *session, SmUser *user)
{
  SmService *self = user->service;

  if (self->users != NULL)
    emit_to_user (self, user, "SessionExpired",
                  g_variant_new ("(ss)", session->id, session->session_type));
  else
    sm_dbus_session_monitor1_emit_session_expired (SM_DBUS_SESSION_MONITOR1 (self), session->id,
                                                   session->session_type);
}

static void
on_session_unregistered (SmSessions *sessions G_GNUC_UNUSED,
                         const SmSession *session,
                         const char *reason,
                         SmUser *user)
{
  SmService *self = user->service;

  if (self->users != NULL)
    emit_to_user (self, user, "SessionUnregistered", g_variant_new ("(ss)", session->id, reason));
  else
    sm_dbus_session_monitor1_emit_session_unregistered (SM_DBUS_SESSION_MONITOR1 (self),
                                                        session->id, reason);
}

static void
on_request_expired (SmRequests *requests G_GNUC_UNUSED, const SmRequest *request, SmUser *user)
{
  SmService *self = user->service;

  if (self->users != NULL)
    emit_to_user (self, user, "SigningRequestExpired",
                  g_variant_new ("(ss)", request->id, request->session_id));
  else
    sm_dbus_session_monitor1_emit_signing_request_expired (SM_DBUS_SESSION_MONITOR1 (self),
                                                           request->id, request->session_id);
}

/* The contract's signals for one user's models. */
void
sm_service_connect_user (SmService *self, SmUser *user)
{
  user->service = self;
  g_signal_connect (user->sessions, "session-expiring", G_CALLBACK (on_session_expiring), user);
  g_signal_connect (user->sessions, "session-expired", G_CALLBACK (on_session_expired), user);
  g_signal_connect (user->sessions, "session-unregistered", G_CALLBACK (on_session_unregistered),
                    user);
  g_signal_connect (user->requests, "request-expired", G_CALLBACK (on_request_expired), user);
  g_signal_connect (user->presence, "refresh-needed", G_CALLBACK (on_presence_refresh_needed),
                    user);
  g_signal_connect (user->presence, "refreshed", G_CALLBACK (on_presence_refreshed), user);
}

static void
on_user_added (SmUsers *users G_GNUC_UNUSED, SmUser *user, SmService *self)
{
  sm_service_connect_user (self, user);
}

static void
on_action_invoked (SmNotifier *notifier G_GNUC_UNUSED,
                   const char *action,
                   GVariant *data,
                   SmService *self)
{
  sm_dbus_session_monitor1_emit_action_invoked (SM_DBUS_SESSION_MONITOR1 (self), action, data);
}

/* System mode: each user's models get the signals as the user appears. */
void
sm_service_connect_users (SmService *self)
{
  g_signal_connect (self->users, "user-added", G_CALLBACK (on_user_added), self);
}

/* The notifier's clicks become ActionInvoked. */
void
sm_service_connect_notifier (SmService *self)
{
  g_signal_connect (self->notifier, "action-invoked", G_CALLBACK (on_action_invoked), self);
}
