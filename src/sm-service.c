#define G_LOG_DOMAIN "sm-service"

#include "sm-service.h"

#include "sm-error.h"
#include "sm-sessions.h"

struct _SmService
{
  SmDBusSessionMonitor1Skeleton parent_instance;

  SmScheduler *scheduler; /* (owned) */
  SmSessions *sessions;   /* (owned) */
};

static void sm_service_iface_init (SmDBusSessionMonitor1Iface *iface);

G_DEFINE_TYPE_WITH_CODE (SmService,
                         sm_service,
                         SM_DBUS_TYPE_SESSION_MONITOR1_SKELETON,
                         G_IMPLEMENT_INTERFACE (SM_DBUS_TYPE_SESSION_MONITOR1,
                                                sm_service_iface_init))

/* Rejected calls are logged once each, at info level: a misbehaving client
 * must not be able to turn the log into the load. */
static gboolean
return_error (GDBusMethodInvocation *invocation, GError *error)
{
  g_info ("%s from %s rejected: %s", g_dbus_method_invocation_get_method_name (invocation),
          g_dbus_method_invocation_get_sender (invocation), error->message);
  g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
return_not_supported (GDBusMethodInvocation *invocation, const char *what)
{
  g_autoptr (GError) error =
      g_error_new (G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED,
                   "%s is not available in this version of "
                   "session-monitor (%s)",
                   g_dbus_method_invocation_get_method_name (invocation), what);

  return return_error (invocation, error);
}

static gboolean
handle_register_session (SmDBusSessionMonitor1 *object,
                         GDBusMethodInvocation *invocation,
                         const char *session_id,
                         gint64 expires_at,
                         GVariant *options)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;

  if (!sm_sessions_register (self->sessions, session_id, expires_at, options, &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_register_session (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unregister_session (SmDBusSessionMonitor1 *object,
                           GDBusMethodInvocation *invocation,
                           const char *session_id,
                           const char *reason)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;

  if (!sm_sessions_unregister (self->sessions, session_id, reason, &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_unregister_session (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_sessions (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);

  sm_dbus_session_monitor1_complete_get_sessions (object, invocation,
                                                  sm_sessions_to_variant (self->sessions));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_register_signing_request (SmDBusSessionMonitor1 *object G_GNUC_UNUSED,
                                 GDBusMethodInvocation *invocation,
                                 const char *request_id G_GNUC_UNUSED,
                                 const char *session_id G_GNUC_UNUSED,
                                 const char *from_peer_id G_GNUC_UNUSED,
                                 gint64 expires_at G_GNUC_UNUSED,
                                 GVariant *options G_GNUC_UNUSED)
{
  return return_not_supported (invocation, "signing requests come with the notifications work");
}

static gboolean
handle_unregister_signing_request (SmDBusSessionMonitor1 *object G_GNUC_UNUSED,
                                   GDBusMethodInvocation *invocation,
                                   const char *request_id G_GNUC_UNUSED,
                                   const char *reason G_GNUC_UNUSED)
{
  return return_not_supported (invocation, "signing requests come with the notifications work");
}

static gboolean
handle_get_signing_requests (SmDBusSessionMonitor1 *object G_GNUC_UNUSED,
                             GDBusMethodInvocation *invocation)
{
  return return_not_supported (invocation, "signing requests come with the notifications work");
}

static gboolean
handle_update_presence (SmDBusSessionMonitor1 *object G_GNUC_UNUSED,
                        GDBusMethodInvocation *invocation,
                        const char *wallet_address G_GNUC_UNUSED,
                        gint64 ttl G_GNUC_UNUSED,
                        GVariant *options G_GNUC_UNUSED)
{
  return return_not_supported (invocation, "presence comes with the durable-state work");
}

static gboolean
handle_stop_presence (SmDBusSessionMonitor1 *object G_GNUC_UNUSED,
                      GDBusMethodInvocation *invocation)
{
  return return_not_supported (invocation, "presence comes with the durable-state work");
}

static gboolean
handle_get_presence (SmDBusSessionMonitor1 *object G_GNUC_UNUSED, GDBusMethodInvocation *invocation)
{
  return return_not_supported (invocation, "presence comes with the durable-state work");
}

static void
sm_service_iface_init (SmDBusSessionMonitor1Iface *iface)
{
  iface->handle_register_session = handle_register_session;
  iface->handle_unregister_session = handle_unregister_session;
  iface->handle_get_sessions = handle_get_sessions;
  iface->handle_register_signing_request = handle_register_signing_request;
  iface->handle_unregister_signing_request = handle_unregister_signing_request;
  iface->handle_get_signing_requests = handle_get_signing_requests;
  iface->handle_update_presence = handle_update_presence;
  iface->handle_stop_presence = handle_stop_presence;
  iface->handle_get_presence = handle_get_presence;
}

static void
on_session_expiring (SmSessions *sessions G_GNUC_UNUSED,
                     const SmSession *session,
                     guint minutes_remaining,
                     gint64 threshold_ms G_GNUC_UNUSED,
                     gboolean notify G_GNUC_UNUSED,
                     SmService *self)
{
  sm_dbus_session_monitor1_emit_session_expiring (SM_DBUS_SESSION_MONITOR1 (self), session->id,
                                                  session->expires_at, minutes_remaining,
                                                  session->session_type);
}

static void
on_session_expired (SmSessions *sessions G_GNUC_UNUSED, const SmSession *session, SmService *self)
{
  sm_dbus_session_monitor1_emit_session_expired (SM_DBUS_SESSION_MONITOR1 (self), session->id,
                                                 session->session_type);
}

static void
on_session_unregistered (SmSessions *sessions G_GNUC_UNUSED,
                         const SmSession *session,
                         const char *reason,
                         SmService *self)
{
  sm_dbus_session_monitor1_emit_session_unregistered (SM_DBUS_SESSION_MONITOR1 (self), session->id,
                                                      reason);
}

static void
sm_service_dispose (GObject *object)
{
  SmService *self = SM_SERVICE (object);

  if (self->sessions != NULL)
    g_signal_handlers_disconnect_by_data (self->sessions, self);
  g_clear_object (&self->sessions);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (sm_service_parent_class)->dispose (object);
}

static void
sm_service_class_init (SmServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_service_dispose;
}

static void
sm_service_init (SmService *self G_GNUC_UNUSED)
{
}

SmService *
sm_service_new (SmScheduler *scheduler)
{
  SmService *self = g_object_new (SM_TYPE_SERVICE, NULL);

  self->scheduler = g_object_ref (scheduler);
  self->sessions = sm_sessions_new (scheduler);
  g_signal_connect (self->sessions, "session-expiring", G_CALLBACK (on_session_expiring), self);
  g_signal_connect (self->sessions, "session-expired", G_CALLBACK (on_session_expired), self);
  g_signal_connect (self->sessions, "session-unregistered", G_CALLBACK (on_session_unregistered),
                    self);
  return self;
}
