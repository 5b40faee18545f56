#define G_LOG_DOMAIN "sm-notifier"

#include "config.h"

#include "sm-notifier.h"

#include "sm-sanitize.h"

#include <gio/gdesktopappinfo.h>
#include <glib/gi18n.h>
#include <libnotify/notify.h>

#define NOTIFICATIONS_NAME "org.freedesktop.Notifications"
#define NOTIFICATIONS_PATH "/org/freedesktop/Notifications"
#define NOTIFICATIONS_IFACE "org.freedesktop.Notifications"
#define SUMMARY_KEY "summary"
#define MISSED_KEY "notice:missed"
#define CLOSED_DISMISSED 2
#define CLOSED_BY_CALL 3
#define CAPS_ATTEMPTS_MAX 5
#define CAPS_RETRY_MS 300

typedef enum
{
  SM_ITEM_REQUEST,
  SM_ITEM_NOTICE,
  SM_ITEM_SESSION,
} SmItemKind;

/* Something that wants room on screen; shown on its own or counted in the
 * summary notification. */
typedef struct
{
  SmItemKind kind;
  char *key; /* "request:ID", "session:ID" or MISSED_KEY */
  gint64 expires_at;
  char *session_id;                 /* (nullable) */
  char *request_id;                 /* (nullable) */
  char *url;                        /* (nullable) */
  char *app_id;                     /* (nullable) */
  char *nickname;                   /* (nullable) untrusted */
  char *amount;                     /* (nullable) untrusted */
  char *purpose;                    /* (nullable) untrusted */
  char *text;                       /* (nullable) notice body */
  guint minutes;                    /* session warning */
  gboolean expired;                 /* session: the expiry notice */
  gboolean dirty;                   /* content changed since it was posted */
  gboolean acted;                   /* an action came: the next close is not a dismiss */
  char *token;                      /* (nullable) activation token of the last click */
  NotifyNotification *notification; /* (owned) (nullable) while on screen */
} SmItem;

struct _SmNotifier
{
  GObject parent_instance;

  SmSessions *sessions;   /* (owned) */
  SmRequests *requests;   /* (owned) */
  GHashTable *items;      /* (owned) key → (owned) SmItem */
  SmItem *summary;        /* (owned) the overflow notification */
  guint summary_requests; /* what the summary counts */
  guint summary_sessions;
  GHashTable *adopt; /* (owned) (nullable) key → id from a previous run */

  guint watch_id;
  GDBusConnection *connection; /* (owned) (nullable) while a server is there */
  char *server;                /* (owned) (nullable) its unique name */
  guint subscription_id;
  GCancellable *cancellable; /* (owned) GetCapabilities */
  gboolean ready;            /* a server is there and its capabilities known */
  gboolean body_markup;
  gboolean said_no_server;
  gboolean said_show_failed;
  guint layout_id;
  guint caps_retry_id;
  guint caps_attempts;
};

enum
{
  SIGNAL_ACTION_INVOKED,
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SmNotifier, sm_notifier, G_TYPE_OBJECT)

/* Hands the notification's activation token to a D-Bus-activated app too:
 * GLib asks the launch context for it, and the base class has none. */
#define SM_TYPE_LAUNCH_CONTEXT (sm_launch_context_get_type ())
G_DECLARE_FINAL_TYPE (SmLaunchContext, sm_launch_context, SM, LAUNCH_CONTEXT, GAppLaunchContext)

struct _SmLaunchContext
{
  GAppLaunchContext parent_instance;
  char *token;
};

G_DEFINE_TYPE (SmLaunchContext, sm_launch_context, G_TYPE_APP_LAUNCH_CONTEXT)

static char *
sm_launch_context_get_startup_notify_id (GAppLaunchContext *context,
                                         GAppInfo *info G_GNUC_UNUSED,
                                         GList *files G_GNUC_UNUSED)
{
  return g_strdup (SM_LAUNCH_CONTEXT (context)->token);
}

static void
sm_launch_context_finalize (GObject *object)
{
  g_free (SM_LAUNCH_CONTEXT (object)->token);
  G_OBJECT_CLASS (sm_launch_context_parent_class)->finalize (object);
}

static void
sm_launch_context_class_init (SmLaunchContextClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sm_launch_context_finalize;
  G_APP_LAUNCH_CONTEXT_CLASS (klass)->get_startup_notify_id =
      sm_launch_context_get_startup_notify_id;
}

static void
sm_launch_context_init (SmLaunchContext *self G_GNUC_UNUSED)
{
}

static void
sm_item_free (SmItem *item)
{
  g_free (item->key);
  g_free (item->session_id);
  g_free (item->request_id);
  g_free (item->url);
  g_free (item->app_id);
  g_free (item->nickname);
  g_free (item->amount);
  g_free (item->purpose);
  g_free (item->text);
  g_free (item->token);
  g_clear_object (&item->notification);
  g_free (item);
}

static gint32
item_get_id (SmItem *item)
{
  gint id = 0;

  if (item->notification != NULL)
    g_object_get (item->notification, "id", &id, NULL);
  return id;
}

/* Withdraws the item's notification from the screen. */
static void
sm_notifier_close (SmNotifier *self, SmItem *item)
{
  g_autoptr (GError) error = NULL;

  if (item->notification == NULL)
    return;
  if (self->ready && !notify_notification_close (item->notification, &error))
    g_debug ("Closing notification %d failed: %s", item_get_id (item), error->message);
  g_clear_object (&item->notification);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/* libnotify wants a callback per action; the clicks are handled by our own
 * subscription instead (see on_server_signal). */
static void
on_libnotify_action (NotifyNotification *notification G_GNUC_UNUSED,
                     char *action G_GNUC_UNUSED,
                     gpointer user_data G_GNUC_UNUSED)
{
}

static char *
sanitize (SmNotifier *self, const char *text, gsize max_chars)
{
  return sm_sanitize_text (text, max_chars, self->body_markup);
}

static char *
request_body (SmNotifier *self, SmItem *item)
{
  GString *body = g_string_new (NULL);

  if (item->nickname != NULL)
    {
      g_autofree char *nickname = sanitize (self, item->nickname, SM_NICKNAME_MAX_CHARS);

      if (*nickname != '\0')
        /* Translators: %s is the nickname of the peer asking to sign. */
        g_string_append_printf (body, _ ("%s is requesting your signature"), nickname);
    }
  if (body->len == 0)
    g_string_append (body, _ ("New signing request received"));
  if (item->amount != NULL)
    {
      g_autofree char *amount = sanitize (self, item->amount, SM_AMOUNT_MAX_CHARS);

      g_string_append_c (body, '\n');
      /* Translators: %s is the amount to be signed for, as the peer sent it. */
      g_string_append_printf (body, _ ("Amount: %s"), amount);
    }
  if (item->purpose != NULL)
    {
      g_autofree char *purpose = sanitize (self, item->purpose, SM_PURPOSE_MAX_CHARS);

      g_string_append_c (body, '\n');
      /* Translators: %s is what the signature is for, as the peer sent it. */
      g_string_append_printf (body, _ ("Purpose: %s"), purpose);
    }
  return g_string_free (body, FALSE);
}

/* The overflow text, e.g. "2 more signing requests and 3 sessions need
 * attention". */
static char *
summary_body (guint n_requests, guint n_sessions)
{
  g_autofree char *requests = NULL;
  g_autofree char *sessions = NULL;

  if (n_sessions == 0)
    return g_strdup_printf (ngettext ("%u more signing request needs attention",
                                      "%u more signing requests need attention", n_requests),
                            n_requests);
  if (n_requests == 0)
    return g_strdup_printf (
        ngettext ("%u more session needs attention", "%u more sessions need attention", n_sessions),
        n_sessions);
  requests = g_strdup_printf (
      /* Translators: the first half of "2 more signing requests and 3 sessions need attention". */
      ngettext ("%u more signing request", "%u more signing requests", n_requests), n_requests);
  sessions = g_strdup_printf (
      /* Translators: the second half of "2 more signing requests and 3 sessions need attention". */
      ngettext ("%u session", "%u sessions", n_sessions), n_sessions);
  /* Translators: "2 more signing requests" and "3 sessions". */
  return g_strdup_printf (_ ("%s and %s need attention"), requests, sessions);
}

static void
add_action (NotifyNotification *notification, const char *action, const char *label)
{
  notify_notification_add_action (notification, action, label, on_libnotify_action, NULL, NULL);
}

/* Posts @item, or updates it in place. Requests are never updated in place
 * (GNOME Shell 43 drops the buttons of an updated banner): they are closed
 * and posted anew. */
static void
sm_notifier_post (SmNotifier *self, SmItem *item, guint n_requests, guint n_sessions)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *body = NULL;
  const char *summary;
  NotifyUrgency urgency = NOTIFY_URGENCY_NORMAL;
  gint timeout = NOTIFY_EXPIRES_DEFAULT;
  gboolean is_new;

  switch (item->kind)
    {
    case SM_ITEM_REQUEST:
      summary = _ ("Signing Request");
      body = request_body (self, item);
      urgency = NOTIFY_URGENCY_CRITICAL;
      break;
    case SM_ITEM_NOTICE:
      summary = _ ("Session Monitor");
      body = self->body_markup ? g_markup_escape_text (item->text, -1) : g_strdup (item->text);
      break;
    case SM_ITEM_SESSION:
    default:
      if (item == self->summary)
        {
          summary = _ ("Session Monitor");
          body = summary_body (n_requests, n_sessions);
          if (n_requests > 0)
            urgency = NOTIFY_URGENCY_CRITICAL;
        }
      else if (item->expired)
        {
          summary = _ ("Session Expired");
          body = g_strdup (_ ("A signing session has expired"));
        }
      else
        {
          summary = _ ("Session Expiring Soon");
          body = g_strdup_printf (ngettext ("Signing session expires in %u minute",
                                            "Signing session expires in %u minutes", item->minutes),
                                  item->minutes);
          if (item->minutes <= 2)
            urgency = NOTIFY_URGENCY_CRITICAL;
        }
      break;
    }
  /* Critical stays until acted on; GNOME Shell ignores expire_timeout. */
  if (urgency == NOTIFY_URGENCY_CRITICAL)
    timeout = NOTIFY_EXPIRES_NEVER;

  if (item->kind == SM_ITEM_REQUEST && item->notification != NULL)
    sm_notifier_close (self, item);

  is_new = item->notification == NULL;
  if (is_new)
    {
      gint adopt_id = 0;

      item->notification = notify_notification_new (summary, body, SM_DESKTOP_ID);
      /* A notification a previous run left up is taken over in place, so no
       * dead button stays on screen. Not for requests: see above. */
      if (self->adopt != NULL && item->kind != SM_ITEM_REQUEST)
        {
          adopt_id = GPOINTER_TO_INT (g_hash_table_lookup (self->adopt, item->key));
          g_hash_table_remove (self->adopt, item->key);
        }
      if (adopt_id > 0)
        g_object_set (item->notification, "id", adopt_id, NULL);
      add_action (item->notification, "default", _ ("View"));
      if (item->kind == SM_ITEM_REQUEST)
        {
          add_action (item->notification, "view", _ ("View"));
          add_action (item->notification, "dismiss", _ ("Dismiss"));
          notify_notification_set_hint (item->notification, "resident",
                                        g_variant_new_boolean (FALSE));
        }
      /* Our own desktop entry, never a wallet's: GNOME Shell groups and
       * names notifications by it, and we post for every wallet. */
      notify_notification_set_hint (item->notification, "desktop-entry",
                                    g_variant_new_string (SM_DESKTOP_ID));
    }
  else
    notify_notification_update (item->notification, summary, body, SM_DESKTOP_ID);
  notify_notification_set_urgency (item->notification, urgency);
  notify_notification_set_timeout (item->notification, timeout);

  if (!notify_notification_show (item->notification, &error))
    {
      if (!self->said_show_failed)
        g_warning ("Could not show a notification: %s", error->message);
      self->said_show_failed = TRUE;
      g_clear_object (&item->notification);
      return;
    }
  item->dirty = FALSE;
  item->acted = FALSE;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static gint
compare_items (gconstpointer a, gconstpointer b)
{
  const SmItem *ia = *(const SmItem *const *) a;
  const SmItem *ib = *(const SmItem *const *) b;

  if (ia->kind != ib->kind)
    return ia->kind == SM_ITEM_REQUEST ? -1 : ib->kind == SM_ITEM_REQUEST ? 1 : 0;
  if (ia->expires_at != ib->expires_at)
    return ia->expires_at < ib->expires_at ? -1 : 1;
  return strcmp (ia->key, ib->key);
}

/* Requests before sessions, sooner before later; at most three on screen,
 * and with more, the first two plus the summary of the rest. */
static gboolean
sm_notifier_layout (gpointer user_data)
{
  SmNotifier *self = user_data;
  g_autoptr (GPtrArray) list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  guint n_shown, n_requests = 0, n_sessions = 0;

  self->layout_id = 0;
  if (!self->ready)
    return G_SOURCE_REMOVE;

  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_items);

  n_shown = list->len <= SM_NOTIFIER_MAX_ON_SCREEN ? list->len : SM_NOTIFIER_MAX_ON_SCREEN - 1;
  /* Make room first, so the server never holds more than three. */
  for (guint i = n_shown; i < list->len; i++)
    {
      SmItem *item = list->pdata[i];

      sm_notifier_close (self, item);
      if (item->kind == SM_ITEM_REQUEST)
        n_requests++;
      else
        n_sessions++;
    }
  if (n_shown == list->len && self->summary->notification != NULL)
    sm_notifier_close (self, self->summary);

  for (guint i = 0; i < n_shown; i++)
    {
      SmItem *item = list->pdata[i];

      if (item->notification == NULL || item->dirty)
        sm_notifier_post (self, item, 0, 0);
    }
  /* The summary is updated in place, and only when its counts change. */
  if (n_shown < list->len
      && (self->summary->notification == NULL || self->summary_requests != n_requests
          || self->summary_sessions != n_sessions))
    {
      self->summary_requests = n_requests;
      self->summary_sessions = n_sessions;
      sm_notifier_post (self, self->summary, n_requests, n_sessions);
    }

  /* What a previous run left up and nobody took over is closed. */
  if (self->adopt != NULL)
    {
      g_hash_table_iter_init (&iter, self->adopt);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          NotifyNotification *stale = notify_notification_new ("", NULL, NULL);

          g_object_set (stale, "id", GPOINTER_TO_INT (value), NULL);
          notify_notification_close (stale, NULL);
          g_object_unref (stale);
        }
      g_clear_pointer (&self->adopt, g_hash_table_unref);
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
    }
  return G_SOURCE_REMOVE;
}

/* Coalesced: 10 000 sessions expiring at once lay out once. */
static void
sm_notifier_queue_layout (SmNotifier *self)
{
  if (self->layout_id == 0 && self->ready)
    self->layout_id = g_idle_add (sm_notifier_layout, self);
}

static void
sm_notifier_withdraw (SmNotifier *self, const char *key)
{
  SmItem *item = g_hash_table_lookup (self->items, key);

  if (item == NULL)
    return;
  sm_notifier_close (self, item);
  g_hash_table_remove (self->items, key);
  sm_notifier_queue_layout (self);
}

static SmItem *
sm_notifier_find (SmNotifier *self, gint32 id)
{
  GHashTableIter iter;
  gpointer value;

  if (id <= 0)
    return NULL;
  if (item_get_id (self->summary) == id)
    return self->summary;
  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (item_get_id (value) == id)
      return value;
  return NULL;
}

static void
launch_app (const char *app_id, const char *token)
{
  g_autofree char *desktop_id = g_strconcat (app_id, ".desktop", NULL);
  g_autoptr (GDesktopAppInfo) info = g_desktop_app_info_new (desktop_id);
  g_autoptr (SmLaunchContext) context = NULL;
  g_autoptr (GError) error = NULL;

  if (info == NULL)
    {
      g_info ("No application %s to launch", desktop_id);
      return;
    }
  context = g_object_new (SM_TYPE_LAUNCH_CONTEXT, NULL);
  if (token != NULL)
    {
      /* Wayland lets the app take focus only with the click's token. */
      context->token = g_strdup (token);
      g_app_launch_context_setenv (G_APP_LAUNCH_CONTEXT (context), "XDG_ACTIVATION_TOKEN", token);
      g_app_launch_context_setenv (G_APP_LAUNCH_CONTEXT (context), "DESKTOP_STARTUP_ID", token);
    }
  if (!g_app_info_launch (G_APP_INFO (info), NULL, G_APP_LAUNCH_CONTEXT (context), &error))
    g_info ("Could not launch %s: %s", desktop_id, error->message);
}

static void
emit_action (SmNotifier *self, SmItem *item, const char *action)
{
  GVariantBuilder data;

  g_variant_builder_init (&data, G_VARIANT_TYPE_VARDICT);
  if (item->session_id != NULL)
    g_variant_builder_add (&data, "{sv}", "session-id", g_variant_new_string (item->session_id));
  if (item->request_id != NULL)
    g_variant_builder_add (&data, "{sv}", "request-id", g_variant_new_string (item->request_id));
  if (item->url != NULL)
    g_variant_builder_add (&data, "{sv}", "url", g_variant_new_string (item->url));
  g_signal_emit (self, signals[SIGNAL_ACTION_INVOKED], 0, action, g_variant_builder_end (&data));
}

/* The user closed @item (or the server let it time out): it no longer wants
 * room. Closing the summary lets go of the informational items it counted;
 * pending requests come back. */
static void
sm_notifier_forget (SmNotifier *self, SmItem *item)
{
  if (item == self->summary)
    {
      GHashTableIter iter;
      gpointer value;

      g_clear_object (&item->notification);
      g_hash_table_iter_init (&iter, self->items);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((SmItem *) value)->notification == NULL && ((SmItem *) value)->kind != SM_ITEM_REQUEST)
          g_hash_table_iter_remove (&iter);
    }
  else
    g_hash_table_remove (self->items, item->key);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  sm_notifier_queue_layout (self);
}

/* Any click settles the notification: it is not resident, and servers that
 * keep it up after an action (dunst) must not leave a stale "please sign". */
static void
on_action_invoked (SmNotifier *self, SmItem *item, const char *action)
{
  g_autofree char *app_id = NULL;
  g_autofree char *token = NULL;

  if (!g_str_equal (action, "default") && !g_str_equal (action, "view")
      && !g_str_equal (action, "dismiss"))
    return;
  item->acted = TRUE;
  emit_action (self, item, action);
  if (!g_str_equal (action, "dismiss"))
    {
      app_id = g_strdup (item->app_id);
      token = g_strdup (item->token);
    }
  sm_notifier_close (self, item);
  sm_notifier_forget (self, item);
  if (app_id != NULL)
    launch_app (app_id, token);
}

/* Subscribed with the server's unique name as sender, not through libnotify:
 * libnotify's proxy matches the well-known name, and GNOME Shell broadcasts
 * every app's ActionInvoked/NotificationClosed from another connection too,
 * so only the pair (sender, id) says the click was on our notification. */
static void
on_server_signal (GDBusConnection *connection G_GNUC_UNUSED,
                  const char *sender,
                  const char *path G_GNUC_UNUSED,
                  const char *iface G_GNUC_UNUSED,
                  const char *name,
                  GVariant *parameters,
                  gpointer user_data)
{
  SmNotifier *self = user_data;
  SmItem *item;
  guint32 id;

  if (g_strcmp0 (sender, self->server) != 0)
    return;

  if (g_str_equal (name, "ActionInvoked")
      && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(us)")))
    {
      const char *action;

      g_variant_get (parameters, "(u&s)", &id, &action);
      if ((item = sm_notifier_find (self, (gint32) id)) != NULL)
        on_action_invoked (self, item, action);
    }
  else if (g_str_equal (name, "ActivationToken")
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(us)")))
    {
      const char *token;

      g_variant_get (parameters, "(u&s)", &id, &token);
      if ((item = sm_notifier_find (self, (gint32) id)) != NULL)
        {
          g_free (item->token);
          item->token = g_strdup (token);
        }
    }
  else if (g_str_equal (name, "NotificationClosed")
           && g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(uu)")))
    {
      guint32 reason;

      g_variant_get (parameters, "(uu)", &id, &reason);
      if ((item = sm_notifier_find (self, (gint32) id)) == NULL)
        return;
      /* After a click the server tidies up with reason 2: not a dismiss. */
      if (reason == CLOSED_DISMISSED && !item->acted && item->session_id != NULL)
        emit_action (self, item, "dismiss");
      if (reason != CLOSED_BY_CALL)
        {
          g_clear_object (&item->notification);
          sm_notifier_forget (self, item);
        }
    }
}

static void on_capabilities (GObject *source, GAsyncResult *result, gpointer user_data);

static gboolean
sm_notifier_get_capabilities (gpointer user_data)
{
  SmNotifier *self = user_data;

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
  SmNotifier *self;

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
      self->caps_retry_id = g_timeout_add (CAPS_RETRY_MS, sm_notifier_get_capabilities, self);
      return;
    }
  else
    g_debug ("GetCapabilities failed, assuming plain text: %s", error->message);
  self->ready = TRUE;
  g_debug ("Notification server %s ready (body-markup: %d)", self->server, self->body_markup);
  sm_notifier_queue_layout (self);
}

static void
on_server_vanished (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  SmNotifier *self = user_data;
  GHashTableIter iter;
  gpointer value;

  if (!self->said_no_server)
    g_message ("No notification server (%s); desktop notifications are off until one appears",
               name);
  self->said_no_server = TRUE;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  self->subscription_id = 0;
  g_clear_object (&self->connection);
  g_clear_pointer (&self->server, g_free);
  self->ready = FALSE;
  g_clear_handle_id (&self->layout_id, g_source_remove);
  g_clear_handle_id (&self->caps_retry_id, g_source_remove);

  /* Its ids mean nothing to the next server: everything is posted anew. */
  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_clear_object (&((SmItem *) value)->notification);
  g_clear_object (&self->summary->notification);
}

static void
on_server_appeared (GDBusConnection *connection,
                    const char *name G_GNUC_UNUSED,
                    const char *owner,
                    gpointer user_data)
{
  SmNotifier *self = user_data;

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
  sm_notifier_get_capabilities (self);
}

static SmItem *
sm_item_new (SmItemKind kind, const char *prefix, const char *id)
{
  SmItem *item = g_new0 (SmItem, 1);

  item->kind = kind;
  item->key = g_strconcat (prefix, id, NULL);
  return item;
}

static void
on_request_registered (SmRequests *requests G_GNUC_UNUSED,
                       const SmRequest *request,
                       gboolean replaced G_GNUC_UNUSED,
                       SmNotifier *self)
{
  SmItem *item = sm_item_new (SM_ITEM_REQUEST, "request:", request->id);

  /* A replaced request's notification is withdrawn and posted anew. */
  sm_notifier_withdraw (self, item->key);
  item->expires_at = request->expires_at;
  item->session_id = g_strdup (request->session_id);
  item->request_id = g_strdup (request->id);
  item->url = g_strdup (request->url);
  item->app_id = g_strdup (request->app_id);
  item->nickname = g_strdup (request->from_nickname);
  item->amount = g_strdup (request->amount);
  item->purpose = g_strdup (request->purpose);
  g_hash_table_replace (self->items, item->key, item);
  sm_notifier_queue_layout (self);
}

static void
on_request_gone (SmRequests *requests G_GNUC_UNUSED, const SmRequest *request, SmNotifier *self)
{
  g_autofree char *key = g_strconcat ("request:", request->id, NULL);

  sm_notifier_withdraw (self, key);
}

static void
on_request_unregistered (SmRequests *requests,
                         const SmRequest *request,
                         const char *reason G_GNUC_UNUSED,
                         SmNotifier *self)
{
  on_request_gone (requests, request, self);
}

static void
on_session_registered (SmSessions *sessions G_GNUC_UNUSED,
                       const SmSession *session,
                       gboolean replaced,
                       SmNotifier *self)
{
  g_autofree char *key = g_strconcat ("session:", session->id, NULL);

  /* Re-registered: its warnings are re-armed, the old one is stale. */
  if (replaced)
    sm_notifier_withdraw (self, key);
}

/* The session's one notification, replaced in place by the next warning and
 * by the expiry notice. */
static SmItem *
sm_notifier_session_item (SmNotifier *self, const SmSession *session)
{
  g_autofree char *key = g_strconcat ("session:", session->id, NULL);
  SmItem *item = g_hash_table_lookup (self->items, key);

  if (item == NULL)
    {
      item = sm_item_new (SM_ITEM_SESSION, "session:", session->id);
      item->session_id = g_strdup (session->id);
      item->url = g_strdup (session->url);
      item->app_id = g_strdup (session->app_id);
      g_hash_table_replace (self->items, item->key, item);
    }
  item->expires_at = session->expires_at;
  item->dirty = TRUE;
  return item;
}

static void
on_session_expiring (SmSessions *sessions G_GNUC_UNUSED,
                     const SmSession *session,
                     guint minutes_remaining,
                     gint64 threshold_ms G_GNUC_UNUSED,
                     gboolean notify,
                     SmNotifier *self)
{
  if (!notify)
    return;
  sm_notifier_session_item (self, session)->minutes = minutes_remaining;
  sm_notifier_queue_layout (self);
}

static void
on_session_expired (SmSessions *sessions G_GNUC_UNUSED, const SmSession *session, SmNotifier *self)
{
  sm_notifier_session_item (self, session)->expired = TRUE;
  sm_notifier_queue_layout (self);
}

static void
on_session_unregistered (SmSessions *sessions G_GNUC_UNUSED,
                         const SmSession *session,
                         const char *reason G_GNUC_UNUSED,
                         SmNotifier *self)
{
  g_autofree char *key = g_strconcat ("session:", session->id, NULL);

  sm_notifier_withdraw (self, key);
}

GVariant *
sm_notifier_save (SmNotifier *self)
{
  GVariantBuilder builder;
  GHashTableIter iter;
  gpointer value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (item_get_id (value) > 0)
      g_variant_builder_add (&builder, "{su}", ((SmItem *) value)->key,
                             (guint32) item_get_id (value));
  if (item_get_id (self->summary) > 0)
    g_variant_builder_add (&builder, "{su}", SUMMARY_KEY, (guint32) item_get_id (self->summary));
  /* Not yet taken over: still on screen, still ours to close. */
  if (self->adopt != NULL)
    {
      g_hash_table_iter_init (&iter, self->adopt);
      gpointer key;
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_variant_builder_add (&builder, "{su}", (const char *) key,
                               (guint32) GPOINTER_TO_INT (value));
    }
  return g_variant_builder_end (&builder);
}

void
sm_notifier_restore (SmNotifier *self, GVariant *saved)
{
  GVariantIter iter;
  const char *key;
  guint32 id;

  g_return_if_fail (g_variant_is_of_type (saved, G_VARIANT_TYPE ("a{su}")));

  if (self->adopt == NULL)
    self->adopt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_variant_iter_init (&iter, saved);
  while (g_variant_iter_next (&iter, "{&su}", &key, &id))
    if (id > 0 && id <= G_MAXINT32)
      g_hash_table_replace (self->adopt, g_strdup (key), GINT_TO_POINTER ((gint) id));
  sm_notifier_queue_layout (self);
}

void
sm_notifier_announce_missed (SmNotifier *self, guint n_sessions, guint n_requests)
{
  SmItem *item;
  GString *text;

  if (n_sessions == 0 && n_requests == 0)
    return;
  text = g_string_new (NULL);
  if (n_sessions > 0)
    g_string_append_printf (
        text,
        ngettext ("%u signing session expired while the monitor was not running",
                  "%u signing sessions expired while the monitor was not running", n_sessions),
        n_sessions);
  if (n_requests > 0)
    {
      if (text->len > 0)
        g_string_append_c (text, '\n');
      g_string_append_printf (
          text,
          ngettext ("%u signing request expired while the monitor was not running",
                    "%u signing requests expired while the monitor was not running", n_requests),
          n_requests);
    }
  item = sm_item_new (SM_ITEM_NOTICE, MISSED_KEY, "");
  item->text = g_string_free (text, FALSE);
  g_hash_table_replace (self->items, item->key, item);
  sm_notifier_queue_layout (self);
}

static void
sm_notifier_dispose (GObject *object)
{
  SmNotifier *self = SM_NOTIFIER (object);

  if (self->sessions != NULL)
    g_signal_handlers_disconnect_by_data (self->sessions, self);
  if (self->requests != NULL)
    g_signal_handlers_disconnect_by_data (self->requests, self);
  g_clear_object (&self->sessions);
  g_clear_object (&self->requests);
  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->subscription_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->subscription_id);
  self->subscription_id = 0;
  g_clear_object (&self->connection);
  g_clear_handle_id (&self->layout_id, g_source_remove);
  g_clear_handle_id (&self->caps_retry_id, g_source_remove);

  G_OBJECT_CLASS (sm_notifier_parent_class)->dispose (object);
}

static void
sm_notifier_finalize (GObject *object)
{
  SmNotifier *self = SM_NOTIFIER (object);

  /* Left on screen on purpose: the next run takes them over. */
  g_clear_pointer (&self->items, g_hash_table_unref);
  g_clear_pointer (&self->summary, sm_item_free);
  g_clear_pointer (&self->adopt, g_hash_table_unref);
  g_free (self->server);
  if (notify_is_initted ())
    notify_uninit ();

  G_OBJECT_CLASS (sm_notifier_parent_class)->finalize (object);
}

static void
sm_notifier_class_init (SmNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_notifier_dispose;
  object_class->finalize = sm_notifier_finalize;

  /* (action, data): a click on one of our notifications. */
  signals[SIGNAL_ACTION_INVOKED] =
      g_signal_new ("action-invoked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_VARIANT);
  /* What sm_notifier_save() returns changed. */
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
sm_notifier_init (SmNotifier *self)
{
  self->items =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) sm_item_free);
  self->summary = sm_item_new (SM_ITEM_SESSION, SUMMARY_KEY, "");
}

SmNotifier *
sm_notifier_new (SmSessions *sessions, SmRequests *requests)
{
  SmNotifier *self = g_object_new (SM_TYPE_NOTIFIER, NULL);

  self->sessions = g_object_ref (sessions);
  self->requests = g_object_ref (requests);
  if (!notify_is_initted ())
    notify_init ("session-monitor");

  g_signal_connect (sessions, "session-registered", G_CALLBACK (on_session_registered), self);
  g_signal_connect (sessions, "session-expiring", G_CALLBACK (on_session_expiring), self);
  g_signal_connect (sessions, "session-expired", G_CALLBACK (on_session_expired), self);
  g_signal_connect (sessions, "session-unregistered", G_CALLBACK (on_session_unregistered), self);
  g_signal_connect (requests, "request-registered", G_CALLBACK (on_request_registered), self);
  g_signal_connect (requests, "request-expired", G_CALLBACK (on_request_gone), self);
  g_signal_connect (requests, "request-unregistered", G_CALLBACK (on_request_unregistered), self);

  /* Watched, never called blindly: no D-Bus activation of a server that may
   * fail to start (dunst without a display) and stall the main loop. */
  self->watch_id =
      g_bus_watch_name (G_BUS_TYPE_SESSION, NOTIFICATIONS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                        on_server_appeared, on_server_vanished, self, NULL);
  return self;
}
