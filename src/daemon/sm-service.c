/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

#include "sm-names.h"

#include <unistd.h>

static void sm_service_iface_init (SmDBusSessionMonitor1Iface *iface);

G_DEFINE_TYPE_WITH_CODE (SmService,
                         sm_service,
                         SM_DBUS_TYPE_SESSION_MONITOR1_SKELETON,
                         G_IMPLEMENT_INTERFACE (SM_DBUS_TYPE_SESSION_MONITOR1,
                                                sm_service_iface_init))

static GQuark
caller_quark (void)
{
  return g_quark_from_static_string ("sm-service-caller");
}

/* The user the gate found for a call. */
static SmUser *
caller_of (GDBusMethodInvocation *invocation)
{
  return g_object_get_qdata (G_OBJECT (invocation), caller_quark ());
}

/* Hands a call whose caller is known to its generated handler, as GLib
 * itself dispatches: the "handle-method-name" signal with the unpacked
 * arguments. Takes @invocation over. */
static void
dispatch (SmService *self, GDBusMethodInvocation *invocation, guint32 uid)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);

  /* Any call subscribes, as systemd's manager does: older clients that
   * only listen call a method once. Beyond the cap only Subscribe says so. */
  if (self->callers != NULL && !g_str_equal (method, "Subscribe")
      && !g_str_equal (method, "Unsubscribe"))
    {
      g_autoptr (GError) error = NULL;

      if (!sm_callers_subscribe (self->callers, sender, &error))
        g_debug ("%s from %s does not subscribe it: %s", method, sender, error->message);
    }
  g_object_set_qdata (G_OBJECT (invocation), caller_quark (), sm_users_get (self->users, uid));
  self->parent_vtable->method_call (g_dbus_method_invocation_get_connection (invocation), sender,
                                    g_dbus_method_invocation_get_object_path (invocation),
                                    g_dbus_method_invocation_get_interface_name (invocation),
                                    method, g_dbus_method_invocation_get_parameters (invocation),
                                    invocation, self);
}

/* The gate every call passes before its handler: it finds whose models the
 * call is for. On the session bus that is the one user; in system mode the
 * caller's Unix user, asked from the bus on a name's first call, the call
 * waiting for the answer. A call that reaches the unique name before the
 * well-known one is owned (and the state loaded) waits for the state:
 * nothing is answered from a state not yet loaded. Takes @invocation over. */
static void
gate (SmService *self, GDBusMethodInvocation *invocation)
{
  guint32 uid = self->uid;

  if (self->store == NULL)
    g_queue_push_tail (&self->before_load, invocation);
  else if (self->callers != NULL
           && !sm_callers_lookup (self->callers, g_dbus_method_invocation_get_sender (invocation),
                                  &uid))
    sm_callers_resolve (self->callers, invocation);
  else
    dispatch (self, invocation, uid);
}

static void
gate_method_call (GDBusConnection *connection G_GNUC_UNUSED,
                  const char *sender G_GNUC_UNUSED,
                  const char *object_path G_GNUC_UNUSED,
                  const char *interface_name G_GNUC_UNUSED,
                  const char *method_name G_GNUC_UNUSED,
                  GVariant *parameters G_GNUC_UNUSED,
                  GDBusMethodInvocation *invocation,
                  gpointer user_data)
{
  gate (SM_SERVICE (user_data), invocation);
}

/* System mode: the caller's uid is known. Takes @invocation over. */
static void
on_caller_ready (GDBusMethodInvocation *invocation,
                 guint32 uid,
                 const GError *error,
                 gpointer user_data)
{
  if (error != NULL)
    sm_service_return_error (invocation, error);
  else
    dispatch (SM_SERVICE (user_data), invocation, uid);
}

/* Once the state is loaded: the calls that waited for it, in their order. */
void
sm_service_release_calls (SmService *self)
{
  GDBusMethodInvocation *invocation;

  g_return_if_fail (SM_IS_SERVICE (self) && self->store != NULL);

  while ((invocation = g_queue_pop_head (&self->before_load)) != NULL)
    gate (self, invocation);
}

/* The generated vtable, with the gate in front of its method calls. */
static GDBusInterfaceVTable *
sm_service_get_vtable (GDBusInterfaceSkeleton *skeleton)
{
  SmService *self = SM_SERVICE (skeleton);

  if (self->parent_vtable == NULL)
    {
      self->parent_vtable =
          G_DBUS_INTERFACE_SKELETON_CLASS (sm_service_parent_class)->get_vtable (skeleton);
      self->vtable = *self->parent_vtable;
      self->vtable.method_call = gate_method_call;
    }
  return &self->vtable;
}

static gboolean
handle_register_session (SmDBusSessionMonitor1 *object,
                         GDBusMethodInvocation *invocation,
                         const char *session_id,
                         gint64 expires_at,
                         GVariant *options)
{
  SmUser *user = caller_of (invocation);
  g_autoptr (GError) error = NULL;
  SmSessionEntry *entry = NULL;

  if (sm_users_check_room (SM_SERVICE (object)->users, user, TRUE, session_id, &error))
    entry = sm_sessions_check_register (user->sessions, session_id, expires_at, options, &error);
  return sm_service_add_entry (SM_SERVICE (object), invocation, SM_CHANGE_SESSION, user->sessions,
                               session_id, entry, error);
}

/* UnregisterSession and UnregisterSigningRequest: one call, on the
 * caller's sessions or signing requests. */
static gboolean
handle_unregister (SmDBusSessionMonitor1 *object,
                   GDBusMethodInvocation *invocation,
                   const char *id,
                   const char *reason)
{
  SmUser *user = caller_of (invocation);

  if (g_str_equal (g_dbus_method_invocation_get_method_name (invocation), "UnregisterSession"))
    return sm_service_remove_entry (SM_SERVICE (object), invocation, SM_CHANGE_SESSION,
                                    user->sessions, id, reason);
  return sm_service_remove_entry (SM_SERVICE (object), invocation, SM_CHANGE_REQUEST,
                                  user->requests, id, reason);
}

static gboolean
handle_get_sessions (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  sm_dbus_session_monitor1_complete_get_sessions (
      object, invocation, sm_sessions_to_variant (caller_of (invocation)->sessions));
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
  SmUser *user = caller_of (invocation);
  g_autoptr (GError) error = NULL;
  SmRequestEntry *entry = NULL;

  if (sm_users_check_room (SM_SERVICE (object)->users, user, FALSE, request_id, &error))
    entry = sm_requests_check_register (user->requests, request_id, session_id, from_peer_id,
                                        expires_at, options, &error);
  return sm_service_add_entry (SM_SERVICE (object), invocation, SM_CHANGE_REQUEST, user->requests,
                               request_id, entry, error);
}

static gboolean
handle_get_signing_requests (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  sm_dbus_session_monitor1_complete_get_signing_requests (
      object, invocation, sm_requests_to_variant (caller_of (invocation)->requests));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
on_owner_vanished (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  SmUserLink *link = user_data;

  sm_presence_set_owner_connected (link->user->presence, name, FALSE);
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
  SmUserLink *link = user_data;

  sm_presence_set_owner_connected (link->user->presence, name, TRUE);
}

/* The owner's unique name vanishes when it leaves the bus; a name gone
 * before the watch starts is reported as vanished too. */
static void
watch_owner (SmUserLink *link, GDBusConnection *connection, const char *owner)
{
  g_clear_handle_id (&link->owner_watch_id, g_bus_unwatch_name);
  if (owner != NULL && *owner != '\0')
    link->owner_watch_id =
        g_bus_watch_name_on_connection (connection, owner, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                        on_owner_appeared, on_owner_vanished, link, NULL);
}

static SmUserLink *
link_of (SmService *self, SmUser *user)
{
  return g_hash_table_lookup (self->links, GUINT_TO_POINTER (user->uid));
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
  SmUser *user = caller_of (invocation);
  SmUndo *undo;

  if (owner == NULL)
    owner = "";
  if (!sm_presence_check_update (user->presence, owner, wallet_address, ttl, options, &error)
      || !sm_service_prepare_change (self, invocation, &error))
    return sm_service_return_error (invocation, error);
  undo = sm_service_keep_undo (self, SM_CHANGE_PRESENCE, user->presence, "presence");
  /* Checked above, so never refused here. */
  if (!sm_presence_update (user->presence, owner, wallet_address, ttl, options, &error))
    {
      g_clear_pointer (&undo, sm_undo_free);
      return sm_service_return_error (invocation, error);
    }

  watch_owner (link_of (self, user), g_dbus_method_invocation_get_connection (invocation), owner);
  return sm_service_complete_change (self, invocation, undo);
}

static gboolean
handle_stop_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;
  SmUser *user = caller_of (invocation);
  SmUndo *undo = NULL;

  if (sm_presence_is_configured (user->presence))
    {
      if (!sm_service_prepare_change (self, invocation, &error))
        return sm_service_return_error (invocation, error);
      undo = sm_service_keep_undo (self, SM_CHANGE_PRESENCE, user->presence, "presence");
    }
  g_clear_handle_id (&link_of (self, user)->owner_watch_id, g_bus_unwatch_name);
  sm_presence_stop (user->presence);
  return sm_service_complete_change (self, invocation, undo);
}

static gboolean
handle_get_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  sm_dbus_session_monitor1_complete_get_presence (
      object, invocation, sm_presence_to_variant (caller_of (invocation)->presence));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* On the session bus signals are broadcast: nothing to do. Both pass the
 * gate so that they keep their order with the caller's other calls still
 * waiting for its uid. */
static gboolean
handle_subscribe (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;

  if (self->callers != NULL
      && !sm_callers_subscribe (self->callers, g_dbus_method_invocation_get_sender (invocation),
                                &error))
    return sm_service_return_error (invocation, error);
  sm_dbus_session_monitor1_complete_subscribe (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unsubscribe (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);

  if (self->callers != NULL)
    sm_callers_unsubscribe (self->callers, g_dbus_method_invocation_get_sender (invocation));
  sm_dbus_session_monitor1_complete_unsubscribe (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
sm_service_iface_init (SmDBusSessionMonitor1Iface *iface)
{
  iface->handle_register_session = handle_register_session;
  iface->handle_unregister_session = handle_unregister;
  iface->handle_get_sessions = handle_get_sessions;
  iface->handle_register_signing_request = handle_register_signing_request;
  iface->handle_unregister_signing_request = handle_unregister;
  iface->handle_get_signing_requests = handle_get_signing_requests;
  iface->handle_update_presence = handle_update_presence;
  iface->handle_stop_presence = handle_stop_presence;
  iface->handle_get_presence = handle_get_presence;
  iface->handle_subscribe = handle_subscribe;
  iface->handle_unsubscribe = handle_unsubscribe;
}

static void
sm_service_dispose (GObject *object)
{
  SmService *self = SM_SERVICE (object);
  GDBusMethodInvocation *invocation;

  /* Stopped before the state was loaded. */
  while ((invocation = g_queue_pop_head (&self->before_load)) != NULL)
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_FAILED,
                                           "The monitor is shutting down");
  if (self->notifier != NULL)
    g_signal_handlers_disconnect_by_data (self->notifier, self);
  g_clear_object (&self->notifier);

  /* Calls still waiting for their caller's uid are answered first. */
  g_clear_object (&self->fanout);
  g_clear_object (&self->callers);
  /* The store first: it listens to the models. */
  g_clear_object (&self->store);
  g_clear_pointer (&self->links, g_hash_table_unref);
  if (self->users != NULL)
    g_signal_handlers_disconnect_by_data (self->users, self);
  g_clear_object (&self->users);
  g_clear_object (&self->session_users);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (sm_service_parent_class)->dispose (object);
}

static void
sm_service_class_init (SmServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GDBusInterfaceSkeletonClass *skeleton_class = G_DBUS_INTERFACE_SKELETON_CLASS (klass);

  object_class->dispose = sm_service_dispose;
  skeleton_class->get_vtable = sm_service_get_vtable;
}

static void
sm_service_init (SmService *self)
{
  self->links = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                       (GDestroyNotify) sm_user_link_free);
}

/* Each user's models get the signals as the user appears (first call, or
 * restored state). */
static void
on_user_added (SmUsers *users G_GNUC_UNUSED, SmUser *user, SmService *self)
{
  g_hash_table_insert (self->links, GUINT_TO_POINTER (user->uid),
                       sm_service_connect_user (self, user));
}

static void
serve_users (SmService *self, SmUsers *users)
{
  g_hash_table_remove_all (self->links);
  if (self->users != NULL)
    g_signal_handlers_disconnect_by_data (self->users, self);
  g_set_object (&self->users, users);
  g_signal_connect (users, "user-added", G_CALLBACK (on_user_added), self);
}

/* On the session bus: one user, the daemon's own, with one byte budget for
 * their sessions, requests and presence. */
SmService *
sm_service_new (SmScheduler *scheduler)
{
  SmService *self = g_object_new (SM_TYPE_SERVICE, NULL);

  self->scheduler = g_object_ref (scheduler);
  self->uid = getuid ();
  self->session_users = sm_users_new_single (scheduler);
  serve_users (self, self->session_users);
  sm_users_get (self->users, self->uid);
  return self;
}

/* System mode: each caller's Unix user gets models of their own, and the
 * signals go only to that user's connections. Before the state is loaded
 * and the first call arrives. */
void
sm_service_separate_users (SmService *self, GDBusConnection *connection)
{
  g_autoptr (SmUsers) users = NULL;

  g_return_if_fail (SM_IS_SERVICE (self));
  g_return_if_fail (self->callers == NULL && self->store == NULL);

  users = sm_users_new (self->scheduler);
  serve_users (self, users);
  self->separate = TRUE;
  self->callers = sm_callers_new (connection, on_caller_ready, self);
  self->fanout = sm_fanout_new (connection, self->callers, SM_OBJECT_PATH, SM_INTERFACE);
}

/* The session bus's one user: its models are the state's "sessions",
 * "requests" and "presence" sections, in system mode too (where no call
 * reaches them). */
SmUser *
sm_service_get_session_user (SmService *self)
{
  return sm_users_get (self->session_users, self->uid);
}

/* (nullable): system mode's users, each apart; NULL on the session bus. */
SmUsers *
sm_service_get_separate_users (SmService *self)
{
  return self->separate ? self->users : NULL;
}

/* Desktop notifications are optional (--no-notifications): the notifier is
 * created on demand, and its clicks become ActionInvoked. */
SmNotifier *
sm_service_start_notifications (SmService *self)
{
  if (self->notifier == NULL)
    {
      SmUser *user = sm_service_get_session_user (self);

      self->notifier = sm_notifier_new (user->sessions, user->requests);
      sm_service_connect_notifier (self);
    }
  return self->notifier;
}

/* The daemon's bus connection was replaced (GDBus drops a connection on a
 * message it cannot decode): what watched names on the old one is made
 * again on the new one. */
void
sm_service_reconnect (SmService *self, GDBusConnection *connection)
{
  GHashTableIter iter;
  SmUserLink *link;

  g_return_if_fail (SM_IS_SERVICE (self));

  /* Listeners are kept: their names are still valid on the bus. */
  if (self->callers != NULL)
    {
      sm_callers_set_connection (self->callers, connection);
      sm_fanout_set_connection (self->fanout, connection);
    }
  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &link))
    if (link->owner_watch_id != 0)
      watch_owner (link, connection, sm_presence_get_owner (link->user->presence));
}
