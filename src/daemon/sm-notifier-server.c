/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier-server"

#include "config.h"

#include "sm-notifier-server.h"

#define NOTIFICATIONS_NAME "org.freedesktop.Notifications"
#define NOTIFICATIONS_PATH "/org/freedesktop/Notifications"
#define NOTIFICATIONS_IFACE "org.freedesktop.Notifications"
#define CAPS_ATTEMPTS_MAX 5
#define CAPS_RETRY_MS 300

struct _SmNotifierServer
{
  GObject parent_instance;

  guint watch_id;
  GDBusConnection *bus;        /* (owned) (nullable) the shared session connection */
  GDBusConnection *connection; /* (owned) (nullable) while a server is there */
  char *server;                /* (owned) (nullable) its unique name */
  guint subscription_id;
  GCancellable *cancellable; /* (owned) (nullable) GetCapabilities */
  gboolean ready;            /* a server is there and its capabilities known */
  gboolean body_markup;
  gboolean said_no_server;
  guint caps_retry_id;
  guint caps_attempts;
};

enum
{
  SIGNAL_READY,
  SIGNAL_VANISHED,
  SIGNAL_ACTION_INVOKED,
  SIGNAL_ACTIVATION_TOKEN,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SmNotifierServer, sm_notifier_server, G_TYPE_OBJECT)

/* Subscribed with the server's unique name as sender, not its well-known
 * name (as libnotify's proxy did): GNOME Shell broadcasts every app's
 * ActionInvoked/NotificationClosed from another connection too, so only the
 * pair (sender, id) says the click was on our notification. */
static void
on_server_signal (GDBusConnection *connection G_GNUC_UNUSED,
                  const char *sender,
                  const char *path G_GNUC_UNUSED,
                  const char *iface G_GNUC_UNUSED,
                  const char *name,
                  GVariant *parameters,
                  gpointer user_data)
{
  SmNotifierServer *self = user_data;
  guint32 id;

  if (g_strcmp0 (sender, self->server) != 0)
    return;

  if (g_str_equal (name, "ActionInvoked")
      && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(us)")))
    {
      const char *action;

      g_variant_get (parameters, "(u&s)", &id, &action);
      g_signal_emit (self, signals[SIGNAL_ACTION_INVOKED], 0, id, action);
    }
  else if (g_str_equal (name, "ActivationToken")
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(us)")))
    {
      const char *token;

      g_variant_get (parameters, "(u&s)", &id, &token);
      g_signal_emit (self, signals[SIGNAL_ACTIVATION_TOKEN], 0, id, token);
    }
  else if (g_str_equal (name, "NotificationClosed")
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uu)")))
    {
      guint32 reason;

      g_variant_get (parameters, "(uu)", &id, &reason);
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0, id, reason);
    }
}

static void on_capabilities (GObject *source, GAsyncResult *result, gpointer user_data);

static gboolean
sm_notifier_server_get_capabilities (gpointer user_data)
{
  SmNotifierServer *self = user_data;

  self->caps_retry_id = 0;
  self->caps_attempts++;
  /* To the unique name: a server that just left cannot be auto-started. */
  g_dbus_connection_call (self->connection, self->server, NOTIFICATIONS_PATH, NOTIFICATIONS_IFACE,
                          "GetCapabilities", NULL, G_VARIANT_TYPE ("(as)"),
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, self->cancellable, on_capabilities,
                          self);
  return G_SOURCE_REMOVE;
}

static void
on_capabilities (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree const char **caps = NULL;
  SmNotifierServer *self;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  if (reply != NULL)
    {
      g_variant_get (reply, "(^a&s)", &caps);
      self->body_markup = g_strv_contains (caps, "body-markup");
    }
  else if (self->caps_attempts < CAPS_ATTEMPTS_MAX)
    {
      /* A server may own its name a moment before it answers. */
      g_debug ("GetCapabilities failed, retrying: %s", error->message);
      self->caps_retry_id =
          g_timeout_add (CAPS_RETRY_MS, sm_notifier_server_get_capabilities, self);
      return;
    }
  else
    g_debug ("GetCapabilities failed, assuming plain text: %s", error->message);
  self->ready = TRUE;
  g_debug ("Notification server %s ready (body-markup: %d)", self->server, self->body_markup);
  g_signal_emit (self, signals[SIGNAL_READY], 0);
}

static void
sm_notifier_server_disconnect (SmNotifierServer *self)
{
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  self->subscription_id = 0;
  g_clear_object (&self->connection);
  g_clear_pointer (&self->server, g_free);
  g_clear_handle_id (&self->caps_retry_id, g_source_remove);
  self->ready = FALSE;
}

static void
on_server_vanished (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  SmNotifierServer *self = user_data;

  /* The bus itself went away: the daemon handles that, and it is no news
   * about the notification server. */
  if (connection != NULL && g_dbus_connection_is_closed (connection))
    g_debug ("Session bus closed; no notification server");
  else if (!self->said_no_server)
    g_message ("No notification server (%s); desktop notifications are off until one appears",
               name);
  self->said_no_server = TRUE;
  sm_notifier_server_disconnect (self);
  g_signal_emit (self, signals[SIGNAL_VANISHED], 0);
}

static void
on_server_appeared (GDBusConnection *connection,
                    const char *name,
                    const char *owner,
                    gpointer user_data)
{
  SmNotifierServer *self = user_data;

  if (self->server != NULL)
    on_server_vanished (connection, name, self);
  g_debug ("Notification server appeared as %s", owner);
  self->connection = g_object_ref (connection);
  self->server = g_strdup (owner);
  self->subscription_id = g_dbus_connection_signal_subscribe (
      connection, owner, NOTIFICATIONS_IFACE, NULL, NOTIFICATIONS_PATH, NULL,
      G_DBUS_SIGNAL_FLAGS_NONE, on_server_signal, self, NULL);
  self->cancellable = g_cancellable_new ();
  self->caps_attempts = 0;
  sm_notifier_server_get_capabilities (self);
}

gboolean
sm_notifier_server_is_ready (SmNotifierServer *self)
{
  g_return_val_if_fail (SM_IS_NOTIFIER_SERVER (self), FALSE);

  return self->ready;
}

gboolean
sm_notifier_server_has_body_markup (SmNotifierServer *self)
{
  g_return_val_if_fail (SM_IS_NOTIFIER_SERVER (self), FALSE);

  return self->body_markup;
}

gboolean
sm_notifier_server_call (SmNotifierServer *self,
                         const char *method,
                         GVariant *params,
                         GAsyncReadyCallback callback,
                         gpointer user_data)
{
  const GVariantType *reply_type;

  g_return_val_if_fail (SM_IS_NOTIFIER_SERVER (self), FALSE);

  if (!self->ready)
    {
      g_variant_unref (g_variant_ref_sink (params));
      return FALSE;
    }
  reply_type = g_str_equal (method, "Notify") ? G_VARIANT_TYPE ("(u)") : G_VARIANT_TYPE_UNIT;
  /* To the unique name: the ids it returns mean something to it alone. */
  g_dbus_connection_call (self->connection, self->server, NOTIFICATIONS_PATH, NOTIFICATIONS_IFACE,
                          method, params, reply_type, G_DBUS_CALL_FLAGS_NO_AUTO_START, G_MAXINT,
                          self->cancellable, callback, user_data);
  return TRUE;
}

GVariant *
sm_notifier_server_call_finish (GAsyncResult *result, GError **error)
{
  GObject *source = g_async_result_get_source_object (result);
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, error);

  g_object_unref (source);
  return reply;
}

static void
sm_notifier_server_dispose (GObject *object)
{
  SmNotifierServer *self = SM_NOTIFIER_SERVER (object);

  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  sm_notifier_server_disconnect (self);
  g_clear_object (&self->bus);

  G_OBJECT_CLASS (sm_notifier_server_parent_class)->dispose (object);
}

static void
sm_notifier_server_class_init (SmNotifierServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_notifier_server_dispose;

  signals[SIGNAL_READY] = g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_VANISHED] = g_signal_new ("vanished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* (id, action) */
  signals[SIGNAL_ACTION_INVOKED] =
      g_signal_new ("action-invoked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  /* (id, token) */
  signals[SIGNAL_ACTIVATION_TOKEN] =
      g_signal_new ("activation-token", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_STRING);
  /* (id, reason) */
  signals[SIGNAL_CLOSED] =
      g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_UINT);
}

static void
sm_notifier_server_init (SmNotifierServer *self G_GNUC_UNUSED)
{
}

SmNotifierServer *
sm_notifier_server_new (void)
{
  SmNotifierServer *self = g_object_new (SM_TYPE_NOTIFIER_SERVER, NULL);
  g_autoptr (GError) error = NULL;

  /* GLib's shared session connection, apart from the daemon's own (which
   * is replaced on a reconnect): the Notify calls go out on it, so the
   * server's signals addressed to the sender arrive on it. Held for as long
   * as the notifier lives (app launching gets the same one), and without
   * exit-on-close, which the singleton has by default: when the bus goes
   * away it would raise SIGTERM, racing the daemon's own handling. Taken
   * once at start-up, before the main loop runs. */
  self->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (self->bus == NULL)
    {
      g_message ("No session bus for notifications (%s); desktop notifications are off",
                 error->message);
      self->said_no_server = TRUE;
      return self;
    }
  g_dbus_connection_set_exit_on_close (self->bus, FALSE);

  /* Watched, never called blindly: no D-Bus activation of a server that may
   * fail to start (dunst without a display) and stall the main loop. */
  self->watch_id =
      g_bus_watch_name_on_connection (self->bus, NOTIFICATIONS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                      on_server_appeared, on_server_vanished, self, NULL);
  return self;
}
