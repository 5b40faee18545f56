/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-fanout"

#include "sm-fanout.h"

typedef struct
{
  const char *name;     /* interned */
  GVariant *parameters; /* (owned) */
} SmFanoutSignal;

typedef struct
{
  guint32 uid;
  GQueue signals; /* (owned) SmFanoutSignal, oldest first */
  gboolean in_ring;
  gboolean dropping;   /* logged once per overflow */
  guint64 extra_epoch; /* when it last sent past a full window */
} SmFanoutUser;

struct _SmFanout
{
  GObject parent_instance;

  GDBusConnection *connection; /* (owned) */
  SmCallers *callers;          /* (owned) */
  char *path;
  char *interface_name;
  GHashTable *users;         /* (owned) uid → (owned) SmFanoutUser */
  GQueue ring;               /* (unowned) SmFanoutUser with signals waiting, in turn */
  guint64 sent;              /* messages handed to GDBus so far */
  guint64 acked;             /* of those, the ones the bus has routed */
  guint64 asked;             /* messages sent before the last question */
  guint64 epoch;             /* answers from the bus so far */
  GCancellable *cancellable; /* (owned) */
};

G_DEFINE_TYPE (SmFanout, sm_fanout, G_TYPE_OBJECT)

static void
sm_fanout_signal_free (SmFanoutSignal *signal)
{
  g_variant_unref (signal->parameters);
  g_free (signal);
}

static void
sm_fanout_user_free (SmFanoutUser *user)
{
  g_queue_clear_full (&user->signals, (GDestroyNotify) sm_fanout_signal_free);
  g_free (user);
}

static void
sm_fanout_dispose (GObject *object)
{
  SmFanout *self = SM_FANOUT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_queue_clear (&self->ring);
  g_clear_pointer (&self->users, g_hash_table_unref);
  g_clear_object (&self->callers);
  g_clear_object (&self->connection);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->interface_name, g_free);

  G_OBJECT_CLASS (sm_fanout_parent_class)->dispose (object);
}

static void
sm_fanout_class_init (SmFanoutClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_fanout_dispose;
}

static void
sm_fanout_init (SmFanout *self)
{
  self->users = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) sm_fanout_user_free);
  self->cancellable = g_cancellable_new ();
}

SmFanout *
sm_fanout_new (GDBusConnection *connection,
               SmCallers *callers,
               const char *object_path,
               const char *interface_name)
{
  SmFanout *self = g_object_new (SM_TYPE_FANOUT, NULL);

  self->connection = g_object_ref (connection);
  self->callers = g_object_ref (callers);
  self->path = g_strdup (object_path);
  self->interface_name = g_strdup (interface_name);
  return self;
}

static void pump (SmFanout *self);

typedef struct
{
  SmFanout *fanout;            /* (owned) */
  GDBusConnection *connection; /* (owned) the one the question went out on */
  guint64 mark;                /* messages sent before it */
} SmFanoutQuestion;

static void
on_bus_answered (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SmFanoutQuestion *question = user_data;
  SmFanout *self = question->fanout;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
      g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  /* Not for an older connection of ours, nor after dispose. */
  if (question->connection == self->connection && self->users != NULL)
    {
      /* An error (a bus that does not answer in time) opens the window
       * too: the queues must not wait for good. */
      if (reply == NULL)
        g_debug ("The bus did not answer: %s", error->message);
      self->acked = MAX (self->acked, question->mark);
      self->epoch++;
      pump (self);
    }
  g_object_unref (question->fanout);
  g_object_unref (question->connection);
  g_free (question);
}

static void
ask_bus (SmFanout *self)
{
  SmFanoutQuestion *question = g_new0 (SmFanoutQuestion, 1);

  question->fanout = g_object_ref (self);
  question->connection = g_object_ref (self->connection);
  question->mark = self->sent;
  self->asked = self->sent;
  g_dbus_connection_call (self->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetId", NULL, G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable, on_bus_answered, question);
}

static void
send_to_listeners (SmFanout *self, guint32 uid, SmFanoutSignal *signal)
{
  g_autoptr (GPtrArray) names = sm_callers_list_names (self->callers, uid);

  for (guint i = 0; i < names->len; i++)
    g_dbus_connection_emit_signal (self->connection, names->pdata[i], self->path,
                                   self->interface_name, signal->name, signal->parameters, NULL);
  self->sent += names->len;
}

/* Sends what waits, one signal per user in turn, while the window is open. */
static void
pump (SmFanout *self)
{
  SmFanoutUser *user;

  while (self->sent - self->acked < SM_FANOUT_WINDOW
         && (user = g_queue_pop_head (&self->ring)) != NULL)
    {
      SmFanoutSignal *signal = g_queue_pop_head (&user->signals);

      send_to_listeners (self, user->uid, signal);
      sm_fanout_signal_free (signal);
      if (g_queue_is_empty (&user->signals))
        {
          user->in_ring = FALSE;
          user->dropping = FALSE;
        }
      else
        g_queue_push_tail (&self->ring, user);
    }
  /* One question at a time, after half a window. (More, smaller steps
   * moved more messages per second but let a burst to stopped listeners
   * keep the bus busy for a second.) */
  if (self->acked >= self->asked && self->sent - self->asked >= SM_FANOUT_WINDOW / 2)
    ask_bus (self);
}

/* Takes @parameters (floating or not) and sends it as @signal_name to the
 * listeners of @uid: at once when nothing waits, else in turn. */
void
sm_fanout_emit (SmFanout *self, guint32 uid, const char *signal_name, GVariant *parameters)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (parameters);
  SmFanoutUser *user;
  SmFanoutSignal *signal;

  g_return_if_fail (SM_IS_FANOUT (self));

  user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));
  if (user == NULL)
    {
      user = g_new0 (SmFanoutUser, 1);
      user->uid = uid;
      g_hash_table_insert (self->users, GUINT_TO_POINTER (uid), user);
    }
  if (g_queue_get_length (&user->signals) >= SM_FANOUT_MAX_QUEUED)
    {
      if (!user->dropping)
        g_warning ("Unix user %u has %u signals waiting for the bus; dropping more", uid,
                   SM_FANOUT_MAX_QUEUED);
      user->dropping = TRUE;
      return;
    }
  signal = g_new0 (SmFanoutSignal, 1);
  signal->name = g_intern_string (signal_name);
  signal->parameters = g_steal_pointer (&owned);
  /* A user with nothing waiting may send one signal per answer of the bus
   * past a full window: another user's burst then costs it no turn. */
  if (!user->in_ring && self->sent - self->acked >= SM_FANOUT_WINDOW
      && user->extra_epoch != self->epoch + 1)
    {
      user->extra_epoch = self->epoch + 1;
      send_to_listeners (self, uid, signal);
      sm_fanout_signal_free (signal);
      return;
    }
  g_queue_push_tail (&user->signals, signal);
  if (!user->in_ring)
    {
      user->in_ring = TRUE;
      g_queue_push_tail (&self->ring, user);
    }
  pump (self);
}

/* The daemon's bus connection was replaced: what waits goes out on the
 * new one, with a fresh window. */
void
sm_fanout_set_connection (SmFanout *self, GDBusConnection *connection)
{
  g_return_if_fail (SM_IS_FANOUT (self));

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_set_object (&self->connection, connection);
  self->acked = self->sent;
  self->asked = self->sent;
  pump (self);
}

/* How many signals of @uid wait for their turn. */
guint
sm_fanout_get_queued (SmFanout *self, guint32 uid)
{
  SmFanoutUser *user;

  g_return_val_if_fail (SM_IS_FANOUT (self), 0);

  user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));
  return user != NULL ? g_queue_get_length (&user->signals) : 0;
}
