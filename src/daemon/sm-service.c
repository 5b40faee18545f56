/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

#include "sm-error.h"
#include "sm-names.h"
#include "sm-options.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

static void sm_service_iface_init (SmDBusSessionMonitor1Iface *iface);

G_DEFINE_TYPE_WITH_CODE (SmService,
                         sm_service,
                         SM_DBUS_TYPE_SESSION_MONITOR1_SKELETON,
                         G_IMPLEMENT_INTERFACE (SM_DBUS_TYPE_SESSION_MONITOR1,
                                                sm_service_iface_init))

#ifdef __GLIBC__
static guint trim_id;

static gboolean
trim_memory (gpointer user_data G_GNUC_UNUSED)
{
  trim_id = 0;
  malloc_trim (0);
  return G_SOURCE_REMOVE;
}
#endif

/* GDBus parses a call into a tree of small values before any handler sees
 * it: an options dict far over its cap (1.5 million keys fit in one
 * message) takes hundreds of MiB in the GDBus thread's arena, which malloc
 * keeps once freed. Once such a call is refused, give that back. */
static void
release_large_call (GDBusMethodInvocation *invocation)
{
#ifdef __GLIBC__
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);

  if (trim_id == 0 && g_variant_get_size (parameters) > SM_OPTIONS_MAX_BYTES)
    trim_id = g_idle_add_full (G_PRIORITY_LOW, trim_memory, NULL, NULL);
#else
  (void) invocation;
#endif
}

/* Rejected calls are logged once each, at info level: a misbehaving client
 * must not be able to turn the log into the load. */
static gboolean
return_error (GDBusMethodInvocation *invocation, GError *error)
{
  g_info ("%s from %s rejected: %s", g_dbus_method_invocation_get_method_name (invocation),
          g_dbus_method_invocation_get_sender (invocation), error->message);
  release_large_call (invocation);
  g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean handle_any (SmService *self, GDBusMethodInvocation *invocation);

/* A change is made only when the store can make it durable (else
 * StorageFailed, nothing changed); its record is at most a few times the
 * call's arguments (base64, JSON quoting). */
static gboolean
prepare_change (SmService *self, GDBusMethodInvocation *invocation, GError **error)
{
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);

  return self->store == NULL
         || sm_store_prepare (self->store, 3 * g_variant_get_size (parameters) + 4096, error);
}

/* What one entry was before a change, to put back if the change cannot be
 * made durable. Taken back, an entry goes through its model's ordinary
 * paths, so that whatever showed the change follows: a new session is
 * unregistered (SessionUnregistered, reason "storage-failed"), a new
 * request's notification withdrawn; a replaced or unregistered entry is
 * restored with its old values (the interface has no registration signal,
 * so that is seen in GetSessions only). */
typedef enum
{
  UNDO_SESSION,
  UNDO_REQUEST,
  UNDO_PRESENCE,
} UndoKind;

typedef struct
{
  UndoKind kind;
  GObject *model; /* (owned) */
  char *id;
  GVariant *before; /* (owned) (nullable): NULL when there was none */
} Undo;

static void
undo_free (Undo *undo)
{
  g_object_unref (undo->model);
  g_free (undo->id);
  g_clear_pointer (&undo->before, g_variant_unref);
  g_free (undo);
}

static Undo *
undo_new (UndoKind kind, GObject *model, const char *id)
{
  Undo *undo = g_new0 (Undo, 1);
  GVariant *before = NULL;

  undo->kind = kind;
  undo->model = g_object_ref (model);
  undo->id = g_strdup (id);
  switch (kind)
    {
    case UNDO_SESSION:
      {
        const SmSession *session = sm_sessions_lookup (SM_SESSIONS (model), id);

        before = session != NULL ? sm_session_to_variant (session) : NULL;
        break;
      }
    case UNDO_REQUEST:
      {
        const SmRequest *request = sm_requests_lookup (SM_REQUESTS (model), id);

        before = request != NULL ? sm_request_to_variant (request) : NULL;
        break;
      }
    case UNDO_PRESENCE:
      if (sm_presence_is_configured (SM_PRESENCE (model)))
        before = sm_presence_to_variant (SM_PRESENCE (model));
      break;
    }
  undo->before = before != NULL ? g_variant_ref_sink (before) : NULL;
  return undo;
}

#define SM_UNDO_REASON "storage-failed"

static void
undo_run (gpointer data)
{
  Undo *undo = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  switch (undo->kind)
    {
    case UNDO_SESSION:
      if (undo->before != NULL)
        ok = sm_sessions_restore (SM_SESSIONS (undo->model), undo->before, &error);
      else if (sm_sessions_lookup (SM_SESSIONS (undo->model), undo->id) != NULL)
        ok = sm_sessions_unregister (SM_SESSIONS (undo->model), undo->id, SM_UNDO_REASON, &error);
      break;
    case UNDO_REQUEST:
      if (undo->before != NULL)
        ok = sm_requests_restore (SM_REQUESTS (undo->model), undo->before, &error);
      else if (sm_requests_lookup (SM_REQUESTS (undo->model), undo->id) != NULL)
        /* The reasons of a request are a closed list: the closest one. */
        ok = sm_requests_unregister (SM_REQUESTS (undo->model), undo->id, "cancelled", &error);
      break;
    case UNDO_PRESENCE:
      if (undo->before != NULL)
        ok = sm_presence_restore (SM_PRESENCE (undo->model), undo->before, &error);
      else
        sm_presence_stop (SM_PRESENCE (undo->model));
      break;
    }
  if (!ok)
    g_warning ("Cannot take back a change that could not be made durable (%s): %s", undo->id,
               error->message);
}

/* The reply to a change waits until it is on disk (the store syncs the
 * changes of one main-loop iteration together); if it cannot be, @undo
 * (taken over; nullable) puts back what it changed. */
static gboolean
complete_change (SmService *self, GDBusMethodInvocation *invocation, Undo *undo)
{
  if (self->store != NULL)
    sm_store_complete_full (self->store, invocation, undo != NULL ? undo_run : NULL, undo,
                            undo != NULL ? (GDestroyNotify) undo_free : NULL);
  else
    {
      g_clear_pointer (&undo, undo_free);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Taken before a change that the store may refuse after it is made. */
static Undo *
keep_undo (SmService *self, UndoKind kind, gpointer model, const char *id)
{
  return self->store != NULL ? undo_new (kind, G_OBJECT (model), id) : NULL;
}

/* The models of whoever calls. On the session bus that is the one user; in
 * system mode the caller's Unix user, asked from the bus on a name's first
 * call. NULL: the call waits for that answer and is dispatched again. */
static SmUser *
caller_user (SmService *self, GDBusMethodInvocation *invocation)
{
  const char *sender = g_dbus_method_invocation_get_sender (invocation);
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  guint32 uid;

  /* A call that reaches the unique name before the well-known one is owned
   * (and the state loaded) waits for the state: nothing is answered from
   * a state not yet loaded. */
  if (self->store == NULL)
    {
      g_queue_push_tail (&self->before_load, invocation);
      return NULL;
    }
  if (self->users == NULL)
    return &self->user;
  if (!sm_callers_lookup (self->callers, sender, &uid))
    {
      sm_callers_resolve (self->callers, invocation);
      return NULL;
    }
  /* Any call subscribes, as systemd's manager does: older clients that
   * only listen call a method once. Beyond the cap only Subscribe says so. */
  if (!g_str_equal (method, "Subscribe") && !g_str_equal (method, "Unsubscribe"))
    {
      g_autoptr (GError) error = NULL;

      if (!sm_callers_subscribe (self->callers, sender, &error))
        g_debug ("%s from %s does not subscribe it: %s", method, sender, error->message);
    }
  return sm_users_get (self->users, uid);
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
  SmSessionEntry *entry;
  Undo *undo;

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  /* Every argument is checked (InvalidArgs, LimitExceeded) before the
   * store is asked (StorageFailed): a bad call is told what is wrong with
   * it whatever the disk's state. */
  if (!check_global_room (self, user, TRUE, session_id, &error)
      || (entry =
              sm_sessions_check_register (user->sessions, session_id, expires_at, options, &error))
             == NULL)
    return return_error (invocation, error);
  if (!prepare_change (self, invocation, &error))
    {
      sm_sessions_discard (entry);
      return return_error (invocation, error);
    }
  undo = keep_undo (self, UNDO_SESSION, user->sessions, session_id);
  sm_sessions_apply (user->sessions, entry);
  return complete_change (self, invocation, undo);
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
  Undo *undo;

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  /* NotFound and InvalidArgs come before StorageFailed. */
  if (!sm_sessions_check_unregister (user->sessions, session_id, reason, &error)
      || !prepare_change (self, invocation, &error))
    return return_error (invocation, error);
  undo = keep_undo (self, UNDO_SESSION, user->sessions, session_id);
  /* Checked above, so never refused here. */
  if (!sm_sessions_unregister (user->sessions, session_id, reason, &error))
    {
      g_clear_pointer (&undo, undo_free);
      return return_error (invocation, error);
    }
  return complete_change (self, invocation, undo);
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
  SmRequestEntry *entry;
  Undo *undo;

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!check_global_room (self, user, FALSE, request_id, &error)
      || (entry = sm_requests_check_register (user->requests, request_id, session_id, from_peer_id,
                                              expires_at, options, &error))
             == NULL)
    return return_error (invocation, error);
  if (!prepare_change (self, invocation, &error))
    {
      sm_requests_discard (entry);
      return return_error (invocation, error);
    }
  undo = keep_undo (self, UNDO_REQUEST, user->requests, request_id);
  sm_requests_apply (user->requests, entry);
  return complete_change (self, invocation, undo);
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
  Undo *undo;

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (!sm_requests_check_unregister (user->requests, request_id, reason, &error)
      || !prepare_change (self, invocation, &error))
    return return_error (invocation, error);
  undo = keep_undo (self, UNDO_REQUEST, user->requests, request_id);
  /* Checked above, so never refused here. */
  if (!sm_requests_unregister (user->requests, request_id, reason, &error))
    {
      g_clear_pointer (&undo, undo_free);
      return return_error (invocation, error);
    }
  return complete_change (self, invocation, undo);
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
  Undo *undo;

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (owner == NULL)
    owner = "";
  if (!sm_presence_check_update (user->presence, owner, wallet_address, ttl, options, &error)
      || !prepare_change (self, invocation, &error))
    return return_error (invocation, error);
  undo = keep_undo (self, UNDO_PRESENCE, user->presence, "presence");
  /* Checked above, so never refused here. */
  if (!sm_presence_update (user->presence, owner, wallet_address, ttl, options, &error))
    {
      g_clear_pointer (&undo, undo_free);
      return return_error (invocation, error);
    }

  watch_owner (user, g_dbus_method_invocation_get_connection (invocation), owner);
  return complete_change (self, invocation, undo);
}

static gboolean
handle_stop_presence (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;
  SmUser *user = caller_user (self, invocation);
  Undo *undo = NULL;

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (sm_presence_is_configured (user->presence))
    {
      if (!prepare_change (self, invocation, &error))
        return return_error (invocation, error);
      undo = keep_undo (self, UNDO_PRESENCE, user->presence, "presence");
    }
  g_clear_handle_id (&user->owner_watch_id, g_bus_unwatch_name);
  sm_presence_stop (user->presence);
  return complete_change (self, invocation, undo);
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

/* On the session bus signals are broadcast: nothing to do. Both go through
 * caller_user() so that they keep their order with the caller's other calls
 * still waiting for its uid. */
static gboolean
handle_subscribe (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  g_autoptr (GError) error = NULL;
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (self->users != NULL
      && !sm_callers_subscribe (self->callers, g_dbus_method_invocation_get_sender (invocation),
                                &error))
    return return_error (invocation, error);
  sm_dbus_session_monitor1_complete_subscribe (object, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unsubscribe (SmDBusSessionMonitor1 *object, GDBusMethodInvocation *invocation)
{
  SmService *self = SM_SERVICE (object);
  SmUser *user = caller_user (self, invocation);

  if (user == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if (self->users != NULL)
    sm_callers_unsubscribe (self->callers, g_dbus_method_invocation_get_sender (invocation));
  sm_dbus_session_monitor1_complete_unsubscribe (object, invocation);
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

/* Once the state is loaded: the calls that waited for it, in their order. */
void
sm_service_release_calls (SmService *self)
{
  GDBusMethodInvocation *invocation;

  g_return_if_fail (SM_IS_SERVICE (self) && self->store != NULL);

  while ((invocation = g_queue_pop_head (&self->before_load)) != NULL)
    handle_any (self, invocation);
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
  if (self->requests != NULL)
    g_signal_handlers_disconnect_by_data (self->requests, &self->user);
  g_clear_object (&self->requests);

  /* Calls still waiting for their caller's uid are answered first. */
  g_clear_object (&self->fanout);
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
  g_autoptr (SmBudget) budget = NULL;

  self->scheduler = g_object_ref (scheduler);
  self->sessions = sm_sessions_new (scheduler);
  self->requests = sm_requests_new (scheduler);
  self->presence = sm_presence_new (scheduler);
  /* One byte budget for the one user's sessions, requests and presence. */
  budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, NULL);
  sm_sessions_set_budget (self->sessions, budget);
  sm_requests_set_budget (self->requests, budget);
  sm_presence_set_budget (self->presence, budget);
  self->user.sessions = self->sessions;
  self->user.requests = self->requests;
  self->user.presence = self->presence;
  sm_service_connect_user (self, &self->user);
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
  sm_service_connect_users (self);
  self->callers = sm_callers_new (connection, on_caller_ready, self);
  self->fanout = sm_fanout_new (connection, self->callers, SM_OBJECT_PATH, SM_INTERFACE);
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
      sm_service_connect_notifier (self);
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

  /* Listeners are kept: their names are still valid on the bus. */
  if (self->callers != NULL)
    {
      sm_callers_set_connection (self->callers, connection);
      sm_fanout_set_connection (self->fanout, connection);
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
