#define G_LOG_DOMAIN "sm-service"

#include "sm-service.h"

#include "sm-callers.h"
#include "sm-error.h"
#include "sm-notifier.h"
#include "sm-requests.h"
#include "sm-presence.h"
#include "sm-sessions.h"
#include "sm-store.h"
#include "sm-users.h"

struct _SmService
{
  SmDBusSessionMonitor1Skeleton parent_instance;

  SmScheduler *scheduler; /* (owned) */
  SmSessions *sessions;   /* (owned) */
  SmRequests *requests;   /* (owned) */
  SmNotifier *notifier;   /* (owned) (nullable) */
  SmPresence *presence;   /* (owned) */
  SmStore *store;         /* (owned) (nullable): until the state is loaded */
  SmUser user;            /* session bus: the one user, the models above (unowned) */
  SmUsers *users;         /* (owned) (nullable): system mode's users, each apart */
  SmCallers *callers;     /* (owned) (nullable): system mode's callers' uids */
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

static gboolean handle_any (SmService *self, GDBusMethodInvocation *invocation);

/* The models of whoever calls. On the session bus that is the one user; in
 * system mode the caller's Unix user, asked from the bus on a name's first
 * call. NULL: the call waits for that answer and is dispatched again. */
static SmUser *
caller_user (SmService *self, GDBusMethodInvocation *invocation)
{
  guint32 uid;

  if (self->users == NULL)
    return &self->user;
  if (sm_callers_lookup (self->callers, g_dbus_method_invocation_get_sender (invocation), &uid))
    return sm_users_get (self->users, uid);
  sm_callers_resolve (self->callers, invocation);
  return NULL;
}

/* Takes @invocation over, as its handler would. */
static void
on_caller_ready (GDBusMethodInvocation *invocation,
                 guint32 uid G_GNUC_UNUSED,
                 const GError *error,
                 gpointer user_data)
{
  SmService *self = SM_SERVICE (user_data);

  if (error != NULL)
    {
      g_info ("%s from %s rejected: %s", g_dbus_method_invocation_get_method_name (invocation),
              g_dbus_method_invocation_get_sender (invocation), error->message);
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  handle_any (self, invocation);
}

/* Global caps in system mode, on top of each user's own limits. */
static gboolean
check_global_room (SmService *self, SmUser *user, gboolean session, const char *id, GError **error)
{
  guint max = (session ? SM_SESSIONS_MAX : SM_REQUESTS_MAX) * SM_USERS_MAX_FACTOR;

  if (self->users == NULL
      || (session ? sm_sessions_lookup (user->sessions, id) != NULL
                  : sm_requests_lookup (user->requests, id) != NULL)
      || (session ? sm_users_count_sessions (self->users) : sm_users_count_requests (self->users))
             < max)
    return TRUE;
  g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
               "%s: cannot monitor \"%s\", all users together already have %u %s",
               session ? "session_id" : "request_id", id, max,
               session ? "sessions" : "signing requests");
  return FALSE;
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
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!check_global_room (self, user, TRUE, session_id, &error)
      || !sm_sessions_register (user->sessions, session_id, expires_at, options, &error))
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
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!sm_sessions_unregister (user->sessions, session_id, reason, &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_unregister_session (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_sessions (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  sm_dbus_session_monitor1_complete_get_sessions (object, invocation,
                                                  sm_sessions_to_variant (user->sessions));
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
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!check_global_room (self, user, FALSE, request_id, &error)
      || !sm_requests_register (user->requests, request_id, session_id, from_peer_id, expires_at,
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
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!sm_requests_unregister (user->requests, request_id, reason, &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_unregister_signing_request (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_signing_requests (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  sm_dbus_session_monitor1_complete_get_signing_requests (object, invocation,
                                                          sm_requests_to_variant (user->requests));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_owner_vanished (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  SmUser *user = user_data;

  sm_presence_set_owner_connected (user->presence, name, FALSE);
}

/* A unique name never comes back once gone, so "appeared" only ever reports
 * a live owner: after UpdatePresence, or when the watch is made anew on a
 * new connection of ours (the old one's closing reported it vanished). */
static void
on_owner_appeared (GDBusConnection *connection G_GNUC_UNUSED,
                   const char *name,
                   const char *name_owner G_GNUC_UNUSED,
                   gpointer user_data)
{
  SmUser *user = user_data;

  sm_presence_set_owner_connected (user->presence, name, TRUE);
}

/* The owner's unique name vanishes when it leaves the bus; a name gone
 * before the watch starts is reported as vanished too. */
static void
watch_owner (SmUser *user, GDBusConnection *connection, const char *owner)
{
  g_clear_handle_id (&user->owner_watch_id, g_bus_unwatch_name);
  if (owner != NULL && *owner != '\0')
    user->owner_watch_id =
        g_bus_watch_name_on_connection (connection, owner, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                        on_owner_appeared, on_owner_vanished, user, NULL);
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
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!sm_presence_update (user->presence, owner != NULL ? owner : "", wallet_address, ttl, options,
                           &error))
    return return_error (invocation, error);

  watch_owner (user, g_dbus_method_invocation_get_connection (invocation), owner);
  sm_dbus_session_monitor1_complete_update_presence (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_stop_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  g_clear_handle_id (&user->owner_watch_id, g_bus_unwatch_name);
  sm_presence_stop (user->presence);
  sm_dbus_session_monitor1_complete_stop_presence (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  sm_dbus_session_monitor1_complete_get_presence (object, invocation,
                                                  sm_presence_to_variant (user->presence));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Runs a call that waited for its caller's uid, as the skeleton would have:
 * the "handle-method-name" signal with the unpacked arguments. */
static gboolean
handle_any (SmService *self, GDBusMethodInvocation *invocation)
{
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);
  gsize n = g_variant_n_children (parameters);
  g_autoptr (GString) signal_name = g_string_new ("handle");
  g_autofree GValue *values = g_new0 (GValue, n + 2);
  GValue handled = G_VALUE_INIT;
  guint signal_id;

  for (const char *p = method; *p != '\0'; p++)
    {
      if (g_ascii_isupper (*p))
        g_string_append_c (signal_name, '-');
      g_string_append_c (signal_name, g_ascii_tolower (*p));
    }
  signal_id = g_signal_lookup (signal_name->str, SM_DBUS_TYPE_SESSION_MONITOR1);
  g_return_val_if_fail (signal_id != 0, FALSE);

  g_value_init (&values[0], SM_TYPE_SERVICE);
  g_value_set_object (&values[0], self);
  g_value_init (&values[1], G_TYPE_DBUS_METHOD_INVOCATION);
  g_value_set_object (&values[1], invocation);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (parameters, i);

      g_dbus_gvariant_to_gvalue (child, &values[i + 2]);
    }
  g_value_init (&handled, G_TYPE_BOOLEAN);
  g_signal_emitv (values, signal_id, 0, &handled);
  for (gsize i = 0; i < n + 2; i++)
    g_value_unset (&values[i]);
  return g_value_get_boolean (&handled);
}

/* On the session bus every signal is broadcast. In system mode a user's
 * signals go only to that user's connections that have called: a broadcast
 * would show every user's ids to all. */
static void
emit_to_user (SmService *self, SmUser *user, const char *signal_name, GVariant *parameters)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (parameters);
  g_autolist (GDBusConnection) connections =
      g_dbus_interface_skeleton_get_connections (G_DBUS_INTERFACE_SKELETON (self));
  const char *path = g_dbus_interface_skeleton_get_object_path (G_DBUS_INTERFACE_SKELETON (self));
  g_autoptr (GPtrArray) names = sm_callers_list_names (self->callers, user->uid);

  for (GList *l = connections; l != NULL; l = l->next)
    for (guint i = 0; i < names->len; i++)
      g_dbus_connection_emit_signal (l->data, names->pdata[i], path, "org.musig2.SessionMonitor1",
                                     signal_name, owned, NULL);
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

/* The notification ids on screen: a single entry, so that a restarted
 * daemon takes its notifications over instead of leaving dead buttons. */
static GVariant *
store_list_notifications (GObject *model)
{
  GVariant *saved = sm_notifier_save (SM_NOTIFIER (model));

  return g_variant_new_array (G_VARIANT_TYPE_VARDICT, &saved, saved != NULL ? 1 : 0);
}

static GVariant *
store_get_notifications (GObject *model, const char *id G_GNUC_UNUSED)
{
  return sm_notifier_save (SM_NOTIFIER (model));
}

static gboolean
store_restore_notifications (GObject *model, GVariant *entry, GError **error)
{
  return sm_notifier_restore (SM_NOTIFIER (model), entry, error);
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
static void
connect_user (SmService *self, SmUser *user)
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
  connect_user (self, user);
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
    g_signal_handlers_disconnect_by_data (self->requests, &self->user);
  g_clear_object (&self->requests);

  /* Calls still waiting for their caller's uid are answered first. */
  g_clear_object (&self->callers);
  /* The store first: it listens to the models. */
  g_clear_object (&self->store);
  g_clear_object (&self->users);
  g_clear_handle_id (&self->user.owner_watch_id, g_bus_unwatch_name);
  if (self->presence != NULL)
    g_signal_handlers_disconnect_by_data (self->presence, &self->user);
  g_clear_object (&self->presence);
  if (self->sessions != NULL)
    g_signal_handlers_disconnect_by_data (self->sessions, &self->user);
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
  self->requests = sm_requests_new (scheduler);
  self->presence = sm_presence_new (scheduler);
  self->user.sessions = self->sessions;
  self->user.requests = self->requests;
  self->user.presence = self->presence;
  connect_user (self, &self->user);
  return self;
}

/* System mode: each caller's Unix user gets models of their own, and the
 * signals go only to that user's connections. Before the state is loaded
 * and the first call arrives. */
void
sm_service_separate_users (SmService *self, GDBusConnection *connection)
{
  g_return_if_fail (SM_IS_SERVICE (self));
  g_return_if_fail (self->users == NULL && self->store == NULL);

  self->users = sm_users_new (self->scheduler);
  g_signal_connect (self->users, "user-added", G_CALLBACK (on_user_added), self);
  self->callers = sm_callers_new (connection, on_caller_ready, self);
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
  /* After the models: it takes over what they restored. */
  if (self->notifier != NULL)
    sm_store_add_section (self->store, "notifications", G_OBJECT (self->notifier), NULL,
                          store_list_notifications, store_get_notifications,
                          store_restore_notifications);
  if (self->users != NULL)
    sm_users_add_store_sections (self->users, self->store);
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
        sm_notifier_announce_missed (self->notifier, now);
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

/* The daemon's bus connection was replaced (GDBus drops a connection on a
 * message it cannot decode): what watched names on the old one is made
 * again on the new one. */
void
sm_service_reconnect (SmService *self, GDBusConnection *connection)
{
  g_return_if_fail (SM_IS_SERVICE (self));

  if (self->callers != NULL)
    {
      g_clear_object (&self->callers);
      self->callers = sm_callers_new (connection, on_caller_ready, self);
    }
  if (self->user.owner_watch_id != 0)
    watch_owner (&self->user, connection, sm_presence_get_owner (self->user.presence));
  if (self->users != NULL)
    {
      g_autoptr (GPtrArray) users = sm_users_list (self->users);

      for (guint i = 0; i < users->len; i++)
        {
          SmUser *user = users->pdata[i];

          if (user->owner_watch_id != 0)
            watch_owner (user, connection, sm_presence_get_owner (user->presence));
        }
    }
}
