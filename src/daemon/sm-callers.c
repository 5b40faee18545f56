/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-callers"

#include "sm-callers.h"

#include "sm-error.h"

/* Departures are seen through ONE match rule for every unique name that
 * leaves the bus (NameOwnerChanged with an empty new owner), added with a
 * call whose answer is checked: a rule per caller would hit the bus's
 * max_match_rules_per_connection, and GDBus does not report a failed
 * AddMatch, so names would stay in the table for good. */
#define SM_CALLERS_MATCH_RULE                                                                      \
  "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"                      \
  "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg2=''"

/* Without that rule (the bus refused it) departures go unseen: the table is
 * then checked name by name whenever it has doubled past this size. */
#define SM_CALLERS_PRUNE_MIN 256

typedef struct
{
  SmCallers *callers; /* (unowned) */
  char *name;
  guint32 uid;
  gboolean known;
  gboolean subscribed;
  GQueue pending; /* (owned) GDBusMethodInvocation, waiting for the uid */
} SmCaller;

struct _SmCallers
{
  GObject parent_instance;

  GDBusConnection *connection; /* (owned) */
  GCancellable *cancellable;   /* (owned) the calls in flight on it */
  GHashTable *callers;         /* (owned) unique name → (owned) SmCaller */
  GHashTable *listeners;       /* (owned) uid → number of subscribed connections */
  guint subscription_id;       /* NameOwnerChanged, without a rule of its own */
  gboolean watching;           /* the match rule is in place */
  gboolean adding;             /* the AddMatch is on its way */
  gboolean warned;             /* that the bus refused it, once */
  guint prune_at;
  SmCallersReadyFunc ready;
  gpointer ready_data;
};

G_DEFINE_TYPE (SmCallers, sm_callers, G_TYPE_OBJECT)

static void check_caller (SmCallers *self, SmCaller *caller);

/* Answers every call still waiting: its caller is gone or the daemon is. */
static void
sm_caller_fail_pending (SmCaller *caller, const GError *error)
{
  GDBusMethodInvocation *invocation;

  while ((invocation = g_queue_pop_head (&caller->pending)) != NULL)
    caller->callers->ready (invocation, 0, error, caller->callers->ready_data);
}

static void
count_listener (SmCallers *self, guint32 uid, int delta)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->listeners, GUINT_TO_POINTER (uid)));

  n += delta;
  if (n == 0)
    g_hash_table_remove (self->listeners, GUINT_TO_POINTER (uid));
  else
    g_hash_table_insert (self->listeners, GUINT_TO_POINTER (uid), GUINT_TO_POINTER (n));
}

static void
sm_caller_free (SmCaller *caller)
{
  g_autoptr (GError) error =
      g_error_new (G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                   "Cannot tell which Unix user %s is: it left the bus", caller->name);

  sm_caller_fail_pending (caller, error);
  if (caller->subscribed)
    count_listener (caller->callers, caller->uid, -1);
  g_free (caller->name);
  g_free (caller);
}

static void
forget (SmCallers *self, const char *name)
{
  guint size;

  if (!g_hash_table_remove (self->callers, name))
    return;
  size = g_hash_table_size (self->callers);
  g_debug ("%s is gone; %u callers known", name, size);
  /* The next check (without the match rule) when the table has doubled. */
  self->prune_at = MIN (self->prune_at, MAX (SM_CALLERS_PRUNE_MIN, 2 * size));
}

static void
sm_callers_dispose (GObject *object)
{
  SmCallers *self = SM_CALLERS (object);

  g_cancellable_cancel (self->cancellable);
  if (self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  self->subscription_id = 0;
  g_clear_pointer (&self->callers, g_hash_table_unref);
  g_clear_pointer (&self->listeners, g_hash_table_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->connection);

  G_OBJECT_CLASS (sm_callers_parent_class)->dispose (object);
}

static void
sm_callers_class_init (SmCallersClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_callers_dispose;
}

static void
sm_callers_init (SmCallers *self)
{
  self->cancellable = g_cancellable_new ();
  self->callers =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) sm_caller_free);
  self->listeners = g_hash_table_new (NULL, NULL);
  self->prune_at = SM_CALLERS_PRUNE_MIN;
}

gboolean
sm_callers_lookup (SmCallers *self, const char *name, guint32 *uid)
{
  SmCaller *caller;

  g_return_val_if_fail (SM_IS_CALLERS (self), FALSE);

  caller = name != NULL ? g_hash_table_lookup (self->callers, name) : NULL;
  if (caller == NULL || !caller->known)
    return FALSE;
  *uid = caller->uid;
  return TRUE;
}

static void
on_name_owner_changed (GDBusConnection *connection G_GNUC_UNUSED,
                       const char *sender G_GNUC_UNUSED,
                       const char *path G_GNUC_UNUSED,
                       const char *interface G_GNUC_UNUSED,
                       const char *signal G_GNUC_UNUSED,
                       GVariant *parameters,
                       gpointer user_data)
{
  SmCallers *self = SM_CALLERS (user_data);
  const char *name, *new_owner;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    return;
  g_variant_get (parameters, "(&s&s&s)", &name, NULL, &new_owner);
  /* A unique name never comes back: forget it for good. */
  if (*new_owner == '\0')
    forget (self, name);
}

/* Checks every name again: after the match rule was missing for a while,
 * or on a new connection of ours. */
static void
check_all (SmCallers *self)
{
  g_autoptr (GList) callers = g_hash_table_get_values (self->callers);

  for (GList *l = callers; l != NULL; l = l->next)
    check_caller (self, l->data);
}

typedef struct
{
  SmCallers *callers;          /* (owned) */
  GDBusConnection *connection; /* (owned) the one the call went out on */
  char *name;                  /* (nullable) NULL for the AddMatch */
} SmCall;

static SmCall *
sm_call_new (SmCallers *self, const char *name)
{
  SmCall *call = g_new0 (SmCall, 1);

  call->callers = g_object_ref (self);
  call->connection = g_object_ref (self->connection);
  call->name = g_strdup (name);
  return call;
}

static void
sm_call_free (SmCall *call)
{
  g_object_unref (call->callers);
  g_object_unref (call->connection);
  g_free (call->name);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmCall, sm_call_free)

/* The bus's answer to @call in @reply (or @error); FALSE when it no longer
 * matters: asked on an older connection of ours (the new one asks again),
 * or the daemon is shutting down. */
static gboolean
sm_call_finish (SmCall *call, GAsyncResult *result, GVariant **reply, GError **error)
{
  *reply = g_dbus_connection_call_finish (call->connection, result, error);
  return call->connection == call->callers->connection && call->callers->callers != NULL;
}

static void
on_match_added (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SmCall) call = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  SmCallers *self = call->callers;

  if (!sm_call_finish (call, result, &reply, &error))
    return;
  self->adding = FALSE;
  if (reply == NULL)
    {
      if (!self->warned)
        g_warning ("Cannot watch callers leave the bus (%s); checking the table as it grows",
                   error->message);
      self->warned = TRUE;
      return;
    }
  if (!self->watching)
    g_debug ("Watching callers leave the bus");
  self->watching = TRUE;
  self->warned = FALSE;
}

/* Without the rule in place each check of the table retries it, so a bus
 * that once ran out of match rules is asked again later. */
static void
add_match (SmCallers *self)
{
  if (self->watching || self->adding)
    return;
  self->adding = TRUE;
  g_dbus_connection_call (
      self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "AddMatch", g_variant_new ("(s)", SM_CALLERS_MATCH_RULE), NULL, G_DBUS_CALL_FLAGS_NONE, -1,
      self->cancellable, on_match_added, sm_call_new (self, NULL));
}

static void
start (SmCallers *self, GDBusConnection *connection)
{
  self->connection = g_object_ref (connection);
  self->subscription_id = g_dbus_connection_signal_subscribe (
      connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
      "/org/freedesktop/DBus", NULL, G_DBUS_SIGNAL_FLAGS_NO_MATCH_RULE, on_name_owner_changed, self,
      NULL);
  add_match (self);
}

/* @ready gets every call handed to sm_callers_resolve() once its caller's
 * uid is known, or with an error when it cannot be. */
SmCallers *
sm_callers_new (GDBusConnection *connection, SmCallersReadyFunc ready, gpointer user_data)
{
  SmCallers *self = g_object_new (SM_TYPE_CALLERS, NULL);

  self->ready = ready;
  self->ready_data = user_data;
  start (self, connection);
  return self;
}

static void
on_unix_user (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SmCall) call = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  SmCallers *self = call->callers;
  SmCaller *caller;
  GDBusMethodInvocation *invocation;

  /* Gone meanwhile: its calls are answered. */
  if (!sm_call_finish (call, result, &reply, &error)
      || (caller = g_hash_table_lookup (self->callers, call->name)) == NULL)
    return;

  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);

      if (g_strcmp0 (remote, "org.freedesktop.DBus.Error.NameHasNoOwner") != 0)
        g_warning ("Cannot tell which Unix user %s is: %s", call->name, error->message);
      g_dbus_error_strip_remote_error (error);
      g_prefix_error (&error, "Cannot tell which Unix user you are: ");
      sm_caller_fail_pending (caller, error);
      forget (self, call->name);
      return;
    }

  g_variant_get (reply, "(u)", &caller->uid);
  caller->known = TRUE;
  g_debug ("%s is uid %u", caller->name, caller->uid);
  while ((invocation = g_queue_pop_head (&caller->pending)) != NULL)
    self->ready (invocation, caller->uid, NULL, self->ready_data);
}

/* Asks the bus who @caller is, or, for a known caller, whether it is still
 * there. The bus handles our messages in order: the match rule sent before
 * this question is in place when it is answered, so a caller that leaves
 * after the answer is seen leaving. */
static void
check_caller (SmCallers *self, SmCaller *caller)
{
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", caller->name), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_unix_user,
                          sm_call_new (self, caller->name));
}

/* Takes @invocation (transfer full: the reference a method handler owns)
 * until its sender's uid is known, then hands it on to the ready function
 * (at once if it already is), which must answer it. */
void
sm_callers_resolve (SmCallers *self, GDBusMethodInvocation *invocation)
{
  const char *name = g_dbus_method_invocation_get_sender (invocation);
  SmCaller *caller;

  g_return_if_fail (SM_IS_CALLERS (self));

  if (name == NULL)
    {
      g_autoptr (GError) error = g_error_new (G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                                              "Calls without a sender are not served");

      self->ready (invocation, 0, error, self->ready_data);
      return;
    }

  caller = g_hash_table_lookup (self->callers, name);
  if (caller != NULL)
    {
      if (caller->known)
        self->ready (invocation, caller->uid, NULL, self->ready_data);
      else
        g_queue_push_tail (&caller->pending, invocation);
      return;
    }

  caller = g_new0 (SmCaller, 1);
  caller->callers = self;
  caller->name = g_strdup (name);
  g_queue_push_tail (&caller->pending, invocation);
  g_hash_table_insert (self->callers, caller->name, caller);
  g_debug ("New caller %s; %u callers known", name, g_hash_table_size (self->callers));

  if (!self->watching && g_hash_table_size (self->callers) >= self->prune_at)
    {
      /* Each name is asked once per doubling: amortized, one question per
       * new caller. */
      self->prune_at = MAX (SM_CALLERS_PRUNE_MIN, 2 * g_hash_table_size (self->callers));
      add_match (self);
      check_all (self);
    }
  else
    check_caller (self, caller);
}

/* Makes @name (a caller whose uid is known) one of its user's listeners.
 * Not an error when it already is. */
gboolean
sm_callers_subscribe (SmCallers *self, const char *name, GError **error)
{
  SmCaller *caller;
  guint n;

  g_return_val_if_fail (SM_IS_CALLERS (self), FALSE);

  caller = g_hash_table_lookup (self->callers, name);
  g_return_val_if_fail (caller != NULL && caller->known, FALSE);
  if (caller->subscribed)
    return TRUE;
  n = GPOINTER_TO_UINT (g_hash_table_lookup (self->listeners, GUINT_TO_POINTER (caller->uid)));
  if (n >= SM_CALLERS_MAX_LISTENERS_PER_USER)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
                   "%u connections of Unix user %u are already subscribed; at most %u may be", n,
                   caller->uid, SM_CALLERS_MAX_LISTENERS_PER_USER);
      return FALSE;
    }
  caller->subscribed = TRUE;
  count_listener (self, caller->uid, 1);
  g_debug ("%s subscribed", name);
  return TRUE;
}

/* Not an error when @name is not subscribed. */
void
sm_callers_unsubscribe (SmCallers *self, const char *name)
{
  SmCaller *caller;

  g_return_if_fail (SM_IS_CALLERS (self));

  caller = name != NULL ? g_hash_table_lookup (self->callers, name) : NULL;
  if (caller == NULL || !caller->subscribed)
    return;
  caller->subscribed = FALSE;
  count_listener (self, caller->uid, -1);
  g_debug ("%s unsubscribed", name);
}

/* The connected unique names of @uid that listen: where that user's
 * signals go. The array does not own the names. */
GPtrArray *
sm_callers_list_names (SmCallers *self, guint32 uid)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (SM_IS_CALLERS (self), names);

  if (!g_hash_table_contains (self->listeners, GUINT_TO_POINTER (uid)))
    return names;
  g_hash_table_iter_init (&iter, self->callers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SmCaller *caller = value;

      if (caller->subscribed && caller->uid == uid)
        g_ptr_array_add (names, caller->name);
    }
  return names;
}

guint
sm_callers_get_size (SmCallers *self)
{
  g_return_val_if_fail (SM_IS_CALLERS (self), 0);

  return g_hash_table_size (self->callers);
}

/* The daemon's bus connection was replaced. The unique names of the
 * callers are still valid on the bus; each is checked again on the new
 * connection (and forgotten if it left meanwhile), after the match rule
 * that sees the next ones leave. Listeners stay subscribed. */
void
sm_callers_set_connection (SmCallers *self, GDBusConnection *connection)
{
  g_return_if_fail (SM_IS_CALLERS (self));

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  self->subscription_id = 0;
  g_clear_object (&self->connection);
  self->watching = FALSE;
  self->adding = FALSE;

  start (self, connection);
  check_all (self);
}
