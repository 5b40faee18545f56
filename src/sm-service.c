#define G_LOG_DOMAIN "sm-service"

#include "sm-service.h"

#include "sm-error.h"
#include "sm-notifier.h"
#include "sm-requests.h"
#include "sm-presence.h"
#include "sm-sessions.h"
#include "sm-store.h"

struct _SmService
{
  SmDBusSessionMonitor1Skeleton parent_instance;

  SmScheduler *scheduler; /* (owned) */
  SmSessions *sessions;   /* (owned) */
  SmRequests *requests;   /* (owned) */
  SmNotifier *notifier;   /* (owned) (nullable) */
  SmPresence *presence;   /* (owned) */
  SmStore *store;         /* (owned) (nullable): until the state is loaded */
  guint owner_watch_id;   /* the presence owner's unique name */
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
handle_register_signing_request (SmDBusSessionMonitor1 *object,
                                 GDBusMethodInvocation *invocation,
                                 const char *request_id,
                                 const char *session_id,
                                 const char *from_peer_id,
                                 gint64 expires_at,
                                 GVariant *options)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;

  if (!sm_requests_register (self->requests, request_id, session_id, from_peer_id, expires_at,
                             options, &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_register_signing_request (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unregister_signing_request (SmDBusSessionMonitor1 *object,
                                   GDBusMethodInvocation *invocation,
                                   const char *request_id,
                                   const char *reason)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;

  if (!sm_requests_unregister (self->requests, request_id, reason, &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_unregister_signing_request (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_signing_requests (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);

  sm_dbus_session_monitor1_complete_get_signing_requests (object, invocation,
                                                          sm_requests_to_variant (self->requests));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_owner_vanished (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  SmService *self = SM_SERVICE (user_data);

  sm_presence_set_owner_connected (self->presence, name, FALSE);
}

static gboolean
handle_update_presence (SmDBusSessionMonitor1 *object,
                        GDBusMethodInvocation *invocation,
                        const char *wallet_address,
                        gint64 ttl,
                        GVariant *options)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;
  const char *owner = g_dbus_method_invocation_get_sender (invocation);

  if (!sm_presence_update (self->presence, owner != NULL ? owner : "", wallet_address, ttl, options,
                           &error))
    return return_error (invocation, error);

  /* The owner's unique name vanishes when it leaves the bus; a name gone
   * before the watch starts is reported as vanished too. */
  g_clear_handle_id (&self->owner_watch_id, g_bus_unwatch_name);
  if (owner != NULL)
    self->owner_watch_id = g_bus_watch_name_on_connection (
        g_dbus_method_invocation_get_connection (invocation), owner, G_BUS_NAME_WATCHER_FLAGS_NONE,
        NULL, on_owner_vanished, self, NULL);
  sm_dbus_session_monitor1_complete_update_presence (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_stop_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);

  g_clear_handle_id (&self->owner_watch_id, g_bus_unwatch_name);
  sm_presence_stop (self->presence);
  sm_dbus_session_monitor1_complete_stop_presence (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);

  sm_dbus_session_monitor1_complete_get_presence (object, invocation,
                                                  sm_presence_to_variant (self->presence));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_presence_refresh_needed (SmPresence *presence G_GNUC_UNUSED,
                            const char *wallet_address,
                            gint64 last_refresh,
                            SmService *self)
{
  sm_dbus_session_monitor1_emit_presence_refresh_needed (SM_DBUS_SESSION_MONITOR1 (self),
                                                         wallet_address, last_refresh);
}

static void
on_presence_refreshed (SmPresence *presence G_GNUC_UNUSED,
                       gboolean success,
                       gint64 next_refresh_at,
                       SmService *self)
{
  sm_dbus_session_monitor1_emit_presence_refreshed (SM_DBUS_SESSION_MONITOR1 (self), success,
                                                    next_refresh_at);
}

/* The store's view of each model: list every entry, get one (NULL when it
 * is gone), restore one. */
static GVariant *
store_list_sessions (GObject *model)
{
  return sm_sessions_to_variant (SM_SESSIONS (model));
}

static GVariant *
store_get_session (GObject *model, const char *id)
{
  const SmSession *session = sm_sessions_lookup (SM_SESSIONS (model), id);

  return session != NULL ? sm_session_to_variant (session) : NULL;
}

static gboolean
store_restore_session (GObject *model, GVariant *entry, GError **error)
{
  return sm_sessions_restore (SM_SESSIONS (model), entry, error);
}

static GVariant *
store_list_requests (GObject *model)
{
  return sm_requests_to_variant (SM_REQUESTS (model));
}

static GVariant *
store_get_request (GObject *model, const char *id)
{
  const SmRequest *request = sm_requests_lookup (SM_REQUESTS (model), id);

  return request != NULL ? sm_request_to_variant (request) : NULL;
}

static gboolean
store_restore_request (GObject *model, GVariant *entry, GError **error)
{
  return sm_requests_restore (SM_REQUESTS (model), entry, error);
}

static GVariant *
store_list_presence (GObject *model)
{
  SmPresence *presence = SM_PRESENCE (model);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  if (sm_presence_is_configured (presence))
    g_variant_builder_add_value (&builder, sm_presence_to_variant (presence));
  return g_variant_builder_end (&builder);
}

static GVariant *
store_get_presence (GObject *model, const char *id G_GNUC_UNUSED)
{
  SmPresence *presence = SM_PRESENCE (model);

  return sm_presence_is_configured (presence) ? sm_presence_to_variant (presence) : NULL;
}

static gboolean
store_restore_presence (GObject *model, GVariant *entry, GError **error)
{
  return sm_presence_restore (SM_PRESENCE (model), entry, error);
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
on_request_expired (SmRequests *requests G_GNUC_UNUSED, const SmRequest *request, SmService *self)
{
  sm_dbus_session_monitor1_emit_signing_request_expired (SM_DBUS_SESSION_MONITOR1 (self),
                                                         request->id, request->session_id);
}

static void
on_action_invoked (SmNotifier *notifier G_GNUC_UNUSED,
                   const char *action,
                   GVariant *data,
                   SmService *self)
{
  sm_dbus_session_monitor1_emit_action_invoked (SM_DBUS_SESSION_MONITOR1 (self), action, data);
}

static void
sm_service_dispose (GObject *object)
{
  SmService *self = SM_SERVICE (object);

  if (self->notifier != NULL)
    g_signal_handlers_disconnect_by_data (self->notifier, self);
  g_clear_object (&self->notifier);
  if (self->requests != NULL)
    g_signal_handlers_disconnect_by_data (self->requests, self);
  g_clear_object (&self->requests);

  /* The store first: it listens to the models. */
  g_clear_object (&self->store);
  g_clear_handle_id (&self->owner_watch_id, g_bus_unwatch_name);
  if (self->presence != NULL)
    g_signal_handlers_disconnect_by_data (self->presence, self);
  g_clear_object (&self->presence);
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
  self->requests = sm_requests_new (scheduler);
  g_signal_connect (self->requests, "request-expired", G_CALLBACK (on_request_expired), self);
  self->presence = sm_presence_new (scheduler);
  g_signal_connect (self->presence, "refresh-needed", G_CALLBACK (on_presence_refresh_needed),
                    self);
  g_signal_connect (self->presence, "refreshed", G_CALLBACK (on_presence_refreshed), self);
  return self;
}

/* Called once the bus name is owned, so that clients matching on it see the
 * catch-up signals: deadlines that passed while the daemon was down are due
 * at once and fire at the scheduler's next dispatch. @state_dir NULL keeps
 * everything in memory. */
void
sm_service_load_state (SmService *self, const char *state_dir)
{
  gint64 now = sm_scheduler_now (self->scheduler);
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  guint n_sessions = 0, n_requests = 0;

  g_return_if_fail (SM_IS_SERVICE (self));
  g_return_if_fail (self->store == NULL);

  self->store = sm_store_new (state_dir);
  sm_store_add_section (self->store, "sessions", G_OBJECT (self->sessions), "session-id",
                        store_list_sessions, store_get_session, store_restore_session);
  sm_store_add_section (self->store, "requests", G_OBJECT (self->requests), "request-id",
                        store_list_requests, store_get_request, store_restore_request);
  sm_store_add_section (self->store, "presence", G_OBJECT (self->presence), NULL,
                        store_list_presence, store_get_presence, store_restore_presence);
  sm_store_load (self->store);

  sessions = sm_sessions_list (self->sessions);
  for (guint i = 0; i < sessions->len; i++)
    if (((const SmSession *) sessions->pdata[i])->expires_at <= now)
      n_sessions++;
  requests = sm_requests_list (self->requests);
  for (guint i = 0; i < requests->len; i++)
    if (((const SmRequest *) requests->pdata[i])->expires_at <= now)
      n_requests++;
  if (n_sessions > 0 || n_requests > 0)
    {
      g_message ("%u sessions and %u signing requests expired while the monitor was not running",
                 n_sessions, n_requests);
      if (self->notifier != NULL)
        sm_notifier_announce_missed (self->notifier, n_sessions, n_requests);
    }
}

SmRequests *
sm_service_get_requests (SmService *self)
{
  return self->requests;
}

/* Desktop notifications are optional (--no-notifications): the notifier is
 * created on demand, and its clicks become ActionInvoked. */
SmNotifier *
sm_service_start_notifications (SmService *self)
{
  if (self->notifier == NULL)
    {
      self->notifier = sm_notifier_new (self->sessions, self->requests);
      g_signal_connect (self->notifier, "action-invoked", G_CALLBACK (on_action_invoked), self);
    }
  return self->notifier;
}

/* (nullable): NULL with --no-notifications. */
SmNotifier *
sm_service_get_notifier (SmService *self)
{
  return self->notifier;
}
