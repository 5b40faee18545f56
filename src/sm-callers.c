#define G_LOG_DOMAIN "sm-callers"

#include "sm-callers.h"

typedef struct
{
  SmCallers *callers; /* (unowned) */
  char *name;
  guint32 uid;
  gboolean known;
  GQueue pending; /* (owned) GDBusMethodInvocation, waiting for the uid */
  guint subscription_id;
} SmCaller;

struct _SmCallers
{
  GObject parent_instance;

  GDBusConnection *connection; /* (owned) */
  GCancellable *cancellable;   /* (owned) the lookups in flight */
  GHashTable *callers;         /* (owned) unique name → (owned) SmCaller */
  SmCallersReadyFunc ready;
  gpointer ready_data;
};

G_DEFINE_TYPE (SmCallers, sm_callers, G_TYPE_OBJECT)

/* Answers every call still waiting: its caller is gone or the daemon is. */
static void
sm_caller_fail_pending (SmCaller *caller, const GError *error)
{
  GDBusMethodInvocation *invocation;

  while ((invocation = g_queue_pop_head (&caller->pending)) != NULL)
    caller->callers->ready (invocation, 0, error, caller->callers->ready_data);
}

static void
sm_caller_free (SmCaller *caller)
{
  g_autoptr (GError) error =
      g_error_new (G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
                   "Cannot tell which Unix user %s is: it left the bus", caller->name);

  sm_caller_fail_pending (caller, error);
  if (caller->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (caller->callers->connection, caller->subscription_id);
  g_free (caller->name);
  g_free (caller);
}

static void
sm_callers_dispose (GObject *object)
{
  SmCallers *self = SM_CALLERS (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->callers, g_hash_table_unref);
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
}

/* @ready gets every call handed to sm_callers_resolve() once its caller's
 * uid is known, or with an error when it cannot be. */
SmCallers *
sm_callers_new (GDBusConnection *connection, SmCallersReadyFunc ready, gpointer user_data)
{
  SmCallers *self = g_object_new (SM_TYPE_CALLERS, NULL);

  self->connection = g_object_ref (connection);
  self->ready = ready;
  self->ready_data = user_data;
  return self;
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
    g_hash_table_remove (self->callers, name);
}

typedef struct
{
  SmCallers *callers; /* (owned) */
  char *name;
} SmLookup;

static void
on_unix_user (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmLookup *lookup = user_data;
  SmCallers *self = lookup->callers;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
      g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  SmCaller *caller;
  GDBusMethodInvocation *invocation;

  /* Gone meanwhile (its calls are answered), or the daemon is shutting down. */
  caller = self->callers != NULL ? g_hash_table_lookup (self->callers, lookup->name) : NULL;
  if (caller != NULL && caller->known)
    caller = NULL;
  if (caller == NULL)
    goto out;

  if (reply == NULL)
    {
      g_warning ("Cannot tell which Unix user %s is: %s", lookup->name, error->message);
      g_dbus_error_strip_remote_error (error);
      g_prefix_error (&error, "Cannot tell which Unix user you are: ");
      sm_caller_fail_pending (caller, error);
      g_hash_table_remove (self->callers, lookup->name);
      goto out;
    }

  g_variant_get (reply, "(u)", &caller->uid);
  caller->known = TRUE;
  g_debug ("%s is uid %u", caller->name, caller->uid);
  while ((invocation = g_queue_pop_head (&caller->pending)) != NULL)
    self->ready (invocation, caller->uid, NULL, self->ready_data);

out:
  g_object_unref (lookup->callers);
  g_free (lookup->name);
  g_free (lookup);
}

/* Takes @invocation (transfer full: the reference a method handler owns)
 * until its sender's uid is known, then hands it on to the ready function
 * (at once if it already is), which must answer it. */
void
sm_callers_resolve (SmCallers *self, GDBusMethodInvocation *invocation)
{
  const char *name = g_dbus_method_invocation_get_sender (invocation);
  SmCaller *caller;
  SmLookup *lookup;

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

  /* The match rule goes out before the question, so a caller that leaves
   * right after is seen leaving. */
  caller->subscription_id = g_dbus_connection_signal_subscribe (
      self->connection, "org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
      "/org/freedesktop/DBus", name, G_DBUS_SIGNAL_FLAGS_NONE, on_name_owner_changed, self, NULL);

  lookup = g_new0 (SmLookup, 1);
  lookup->callers = g_object_ref (self);
  lookup->name = g_strdup (name);
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetConnectionUnixUser",
                          g_variant_new ("(s)", name), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_unix_user, lookup);
}

/* The connected unique names of @uid that have called: where that user's
 * signals go. The array does not own the names. */
GPtrArray *
sm_callers_list_names (SmCallers *self, guint32 uid)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (SM_IS_CALLERS (self), names);

  g_hash_table_iter_init (&iter, self->callers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SmCaller *caller = value;

      if (caller->known && caller->uid == uid)
        g_ptr_array_add (names, caller->name);
    }
  return names;
}
