/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier"

#include "config.h"

#include "sm-notifier-private.h"

#include "sm-app-launcher.h"

#include <string.h>

enum
{
  SIGNAL_ACTION_INVOKED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void sm_notifier_storable_init (SmStorableInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SmNotifier,
                         sm_notifier,
                         G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (SM_TYPE_STORABLE, sm_notifier_storable_init))

void
sm_notifier_changed (SmNotifier *self)
{
  sm_storable_changed (SM_STORABLE (self), SM_NOTIFIER_STATE_ID);
}

/* Bounds on the calls a server that does not answer can hold: one Notify
 * per item on screen and some slack for the ones withdrawn on their way;
 * closes are fire-and-forget. */
#define SM_NOTIFIER_MAX_NOTIFIES (2 * (SM_NOTIFIER_MAX_ON_SCREEN + 1))
#define SM_NOTIFIER_MAX_CLOSES 32
#define SM_NOTIFIER_STALL_SECONDS 25
#define SM_NOTIFIER_RETRY_SECONDS 5

/* A Notify on its way: its answer goes to the item @key if that still waits
 * for @serial; otherwise the notification is unwanted and closed. */
typedef struct
{
  SmNotifier *self; /* (unowned) alive unless the call was cancelled */
  char *key;
  guint serial;
} SmPost;

static void
sm_post_free (SmPost *post)
{
  g_free (post->key);
  g_free (post);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmPost, sm_post_free)

static gboolean
on_stalled (gpointer user_data)
{
  SmNotifier *self = user_data;

  self->stall_id = 0;
  if (!self->said_stalled)
    g_message ("The notification server has not answered for %d s; notifications wait for it "
               "(at most %d calls), nothing else does",
               SM_NOTIFIER_STALL_SECONDS, SM_NOTIFIER_MAX_NOTIFIES + SM_NOTIFIER_MAX_CLOSES);
  self->said_stalled = TRUE;
  return G_SOURCE_REMOVE;
}

/* Called on every answer: the stall clock runs while calls are in flight
 * and no answer comes. */
static void
sm_notifier_watch_stall (SmNotifier *self, gboolean answered)
{
  if (answered)
    {
      g_clear_handle_id (&self->stall_id, g_source_remove);
      if (self->said_stalled)
        g_message ("The notification server answers again");
      self->said_stalled = FALSE;
    }
  if (self->stall_id == 0 && self->notifies_in_flight + self->closes_in_flight > 0)
    self->stall_id = g_timeout_add_seconds (SM_NOTIFIER_STALL_SECONDS, on_stalled, self);
}

static void
on_close_done (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  SmNotifier *self = user_data;

  reply = sm_notifier_server_call_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    g_debug ("Closing a notification failed: %s", error->message);
  self->closes_in_flight--;
  sm_notifier_watch_stall (self, TRUE);
}

/* Closes a notification we know only by its id. */
static void
sm_notifier_close_id (SmNotifier *self, guint32 id)
{
  if (id == 0 || !sm_notifier_server_is_ready (self->server))
    return;
  if (self->closes_in_flight >= SM_NOTIFIER_MAX_CLOSES)
    {
      if (!self->said_close_dropped)
        g_message ("The notification server does not answer CloseNotification; "
                   "notification %u is left to it",
                   id);
      self->said_close_dropped = TRUE;
      return;
    }
  if (sm_notifier_server_call (self->server, "CloseNotification", g_variant_new ("(u)", id),
                               on_close_done, self))
    {
      self->closes_in_flight++;
      sm_notifier_watch_stall (self, FALSE);
    }
}

/* Withdraws the item's notification from the screen. */
static void
sm_notifier_close (SmNotifier *self, SmNotifierItem *item)
{
  if (!sm_notifier_item_is_posted (item))
    return;
  sm_notifier_close_id (self, item->id);
  /* A Notify still on its way is closed when its answer comes. */
  item->id = 0;
  item->pending = 0;
  sm_notifier_changed (self);
}

static SmNotifierItem *
sm_notifier_lookup (SmNotifier *self, const char *key)
{
  if (g_str_equal (key, self->summary->key))
    return self->summary;
  return g_hash_table_lookup (self->items, key);
}

static gboolean
on_retry (gpointer user_data)
{
  SmNotifier *self = user_data;

  self->retry_id = 0;
  sm_notifier_queue_layout (self);
  return G_SOURCE_REMOVE;
}

static void
on_notify_done (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (SmPost) post = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  SmNotifier *self;
  SmNotifierItem *item;
  guint32 id = 0;

  reply = sm_notifier_server_call_finish (result, &error);
  /* The server left, or we are going: nothing of ours to update. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = post->self;
  self->notifies_in_flight--;
  sm_notifier_watch_stall (self, TRUE);
  if (reply != NULL)
    g_variant_get (reply, "(u)", &id);
  item = sm_notifier_lookup (self, post->key);
  if (item == NULL || item->pending != post->serial)
    {
      /* Withdrawn on its way: no dead button stays on screen. */
      sm_notifier_close_id (self, id);
    }
  else
    {
      item->pending = 0;
      /* Always the id the server returns: replacing one already closed
       * yields a new one. */
      item->id = id;
      if (reply == NULL)
        {
          if (!self->said_show_failed)
            g_warning ("Could not show a notification: %s", error->message);
          self->said_show_failed = TRUE;
          if (self->retry_id == 0)
            self->retry_id = g_timeout_add_seconds (SM_NOTIFIER_RETRY_SECONDS, on_retry, self);
        }
      sm_notifier_changed (self);
      if (item->dirty)
        self->held = TRUE;
    }
  if (self->held)
    {
      self->held = FALSE;
      sm_notifier_queue_layout (self);
    }
}

/* Posts @item, or updates it in place, without waiting for the server: its
 * answer (the id) comes to on_notify_done(). Requests are never updated in
 * place (GNOME Shell 43 drops the buttons of an updated banner): they are
 * closed and posted anew. */
static void
sm_notifier_post (SmNotifier *self, SmNotifierItem *item, guint n_requests, guint n_sessions)
{
  SmPost *post;
  GVariant *params;

  if (!sm_notifier_server_is_ready (self->server))
    return;
  /* One Notify per item at a time and a bounded number in all; the item
   * keeps what it wants to show, and the next answer lays out again. */
  if (item->pending != 0 || self->notifies_in_flight >= SM_NOTIFIER_MAX_NOTIFIES)
    {
      self->held = TRUE;
      return;
    }
  if (item->kind == SM_NOTIFIER_ITEM_REQUEST && item->id != 0)
    sm_notifier_close (self, item);
  /* A notification a previous run left up is taken over in place, so no
   * dead button stays on screen. Not for requests: see above. */
  if (item->id == 0 && self->adopt != NULL && item->kind != SM_NOTIFIER_ITEM_REQUEST)
    {
      item->id = (guint32) GPOINTER_TO_INT (g_hash_table_lookup (self->adopt, item->key));
      g_hash_table_remove (self->adopt, item->key);
    }
  params =
      sm_notifier_item_notify_params (item, item == self->summary, n_requests, n_sessions,
                                      sm_notifier_server_has_body_markup (self->server), item->id);
  if (++self->serial == 0)
    self->serial++;
  post = g_new0 (SmPost, 1);
  post->self = self;
  post->key = g_strdup (item->key);
  post->serial = self->serial;
  sm_notifier_server_call (self->server, "Notify", params, on_notify_done, post);
  item->pending = self->serial;
  item->dirty = FALSE;
  item->acted = FALSE;
  self->notifies_in_flight++;
  sm_notifier_watch_stall (self, FALSE);
}

static gint
compare_items (gconstpointer a, gconstpointer b)
{
  const SmNotifierItem *ia = *(const SmNotifierItem *const *) a;
  const SmNotifierItem *ib = *(const SmNotifierItem *const *) b;

  if (ia->kind != ib->kind)
    return ia->kind == SM_NOTIFIER_ITEM_REQUEST ? -1 : ib->kind == SM_NOTIFIER_ITEM_REQUEST ? 1 : 0;
  if (ia->expires_at != ib->expires_at)
    return ia->expires_at < ib->expires_at ? -1 : 1;
  return strcmp (ia->key, ib->key);
}

/* Whether the layout takes the previous run's notification @key over: only
 * what is shown now, and never a request. */
static gboolean
adopts (GPtrArray *list, guint n_shown, const char *key)
{
  if (g_str_equal (key, SM_NOTIFIER_ITEM_SUMMARY_KEY))
    return n_shown < list->len;
  for (guint i = 0; i < n_shown; i++)
    {
      SmNotifierItem *item = list->pdata[i];

      if (item->kind != SM_NOTIFIER_ITEM_REQUEST && g_str_equal (item->key, key))
        return !sm_notifier_item_is_posted (item) || item->dirty;
    }
  return FALSE;
}

/* Closes what a previous run left up and this layout does not take over,
 * before posting: the server must never hold more than three. */
static void
close_leftovers (SmNotifier *self, GPtrArray *list, guint n_shown)
{
  GHashTableIter iter;
  gpointer key, value;
  gboolean closed = FALSE;

  if (self->adopt == NULL)
    return;
  g_hash_table_iter_init (&iter, self->adopt);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!adopts (list, n_shown, key))
      {
        sm_notifier_close_id (self, (guint32) GPOINTER_TO_INT (value));
        g_hash_table_iter_remove (&iter);
        closed = TRUE;
      }
  if (g_hash_table_size (self->adopt) == 0)
    g_clear_pointer (&self->adopt, g_hash_table_unref);
  if (closed)
    sm_notifier_changed (self);
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
  if (!sm_notifier_server_is_ready (self->server))
    return G_SOURCE_REMOVE;

  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_items);

  n_shown = list->len <= SM_NOTIFIER_MAX_ON_SCREEN ? list->len : SM_NOTIFIER_MAX_ON_SCREEN - 1;
  /* Make room first, so the server never holds more than three. */
  for (guint i = n_shown; i < list->len; i++)
    {
      SmNotifierItem *item = list->pdata[i];

      sm_notifier_close (self, item);
      if (item->kind == SM_NOTIFIER_ITEM_REQUEST)
        n_requests++;
      else
        n_sessions++;
    }
  if (n_shown == list->len)
    sm_notifier_close (self, self->summary);
  close_leftovers (self, list, n_shown);

  for (guint i = 0; i < n_shown; i++)
    {
      SmNotifierItem *item = list->pdata[i];

      if (!sm_notifier_item_is_posted (item) || item->dirty)
        sm_notifier_post (self, item, 0, 0);
    }
  /* The summary is updated in place, and only when its counts change. */
  if (n_shown < list->len
      && (!sm_notifier_item_is_posted (self->summary) || self->summary_requests != n_requests
          || self->summary_sessions != n_sessions))
    {
      self->summary_requests = n_requests;
      self->summary_sessions = n_sessions;
      sm_notifier_post (self, self->summary, n_requests, n_sessions);
    }

  /* Whatever was to be taken over and could not be posted is closed. */
  close_leftovers (self, list, 0);
  return G_SOURCE_REMOVE;
}

/* Coalesced: 10 000 sessions expiring at once lay out once. */
void
sm_notifier_queue_layout (SmNotifier *self)
{
  if (self->layout_id == 0 && sm_notifier_server_is_ready (self->server))
    self->layout_id = g_idle_add (sm_notifier_layout, self);
}

void
sm_notifier_withdraw (SmNotifier *self, const char *key)
{
  SmNotifierItem *item = g_hash_table_lookup (self->items, key);

  if (item == NULL)
    return;
  sm_notifier_close (self, item);
  g_hash_table_remove (self->items, key);
  sm_notifier_queue_layout (self);
}

static SmNotifierItem *
sm_notifier_find (SmNotifier *self, guint32 id)
{
  GHashTableIter iter;
  gpointer value;

  if (id == 0 || id > G_MAXINT32)
    return NULL;
  if (self->summary->id == id)
    return self->summary;
  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SmNotifierItem *) value)->id == id)
      return value;
  return NULL;
}

static void
emit_action (SmNotifier *self, SmNotifierItem *item, const char *action)
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
sm_notifier_forget (SmNotifier *self, SmNotifierItem *item)
{
  if (item == self->summary)
    {
      GHashTableIter iter;
      gpointer value;

      item->id = 0;
      item->pending = 0;
      g_hash_table_iter_init (&iter, self->items);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (!sm_notifier_item_is_posted (value)
            && ((SmNotifierItem *) value)->kind != SM_NOTIFIER_ITEM_REQUEST)
          g_hash_table_iter_remove (&iter);
    }
  else
    g_hash_table_remove (self->items, item->key);
  sm_notifier_changed (self);
  sm_notifier_queue_layout (self);
}

/* Any click settles the notification: it is not resident, and servers that
 * keep it up after an action (dunst) must not leave a stale "please sign". */
static void
on_action_invoked (SmNotifierServer *server G_GNUC_UNUSED,
                   guint id,
                   const char *action,
                   SmNotifier *self)
{
  g_autofree char *app_id = NULL;
  g_autofree char *token = NULL;
  SmNotifierItem *item = sm_notifier_find (self, id);

  if (item == NULL)
    return;
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
    sm_app_launcher_launch (app_id, token);
}

static void
on_activation_token (SmNotifierServer *server G_GNUC_UNUSED,
                     guint id,
                     const char *token,
                     SmNotifier *self)
{
  SmNotifierItem *item = sm_notifier_find (self, id);

  if (item != NULL)
    {
      g_free (item->token);
      item->token = g_strdup (token);
    }
}

static void
on_closed (SmNotifierServer *server G_GNUC_UNUSED, guint id, guint reason, SmNotifier *self)
{
  SmNotifierItem *item = sm_notifier_find (self, id);

  if (item == NULL)
    return;
  /* After a click the server tidies up with reason 2: not a dismiss. */
  if (reason == SM_NOTIFIER_SERVER_CLOSED_DISMISSED && !item->acted && item->session_id != NULL)
    emit_action (self, item, "dismiss");
  if (reason != SM_NOTIFIER_SERVER_CLOSED_BY_CALL)
    {
      item->id = 0;
      sm_notifier_forget (self, item);
    }
}

static void
on_server_ready (SmNotifierServer *server G_GNUC_UNUSED, SmNotifier *self)
{
  sm_notifier_queue_layout (self);
}

/* Its ids mean nothing to the next server: everything is posted anew. */
static void
on_server_vanished (SmNotifierServer *server G_GNUC_UNUSED, SmNotifier *self)
{
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->layout_id, g_source_remove);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->stall_id, g_source_remove);
  /* Its calls in flight were cancelled with it. */
  self->notifies_in_flight = 0;
  self->closes_in_flight = 0;
  self->held = FALSE;
  self->said_stalled = FALSE;
  self->said_close_dropped = FALSE;
  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ((SmNotifierItem *) value)->id = 0;
      ((SmNotifierItem *) value)->pending = 0;
    }
  self->summary->id = 0;
  self->summary->pending = 0;
  sm_notifier_changed (self);
}

static void
on_request_registered (SmRequests *requests G_GNUC_UNUSED,
                       const SmRequest *request,
                       gboolean replaced G_GNUC_UNUSED,
                       SmNotifier *self)
{
  SmNotifierItem *item =
      sm_notifier_item_new (SM_NOTIFIER_ITEM_REQUEST, SM_NOTIFIER_ITEM_REQUEST_PREFIX, request->id);

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
  g_autofree char *key = g_strconcat (SM_NOTIFIER_ITEM_REQUEST_PREFIX, request->id, NULL);

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
  g_autofree char *key = g_strconcat (SM_NOTIFIER_ITEM_SESSION_PREFIX, session->id, NULL);

  /* Re-registered: its warnings are re-armed, the old one is stale. */
  if (replaced)
    {
      g_hash_table_remove (self->missed, session->id);
      sm_notifier_withdraw (self, key);
    }
}

/* The session's one notification, replaced in place by the next warning and
 * by the expiry notice. */
SmNotifierItem *
sm_notifier_session_item (SmNotifier *self, const SmSession *session)
{
  g_autofree char *key = g_strconcat (SM_NOTIFIER_ITEM_SESSION_PREFIX, session->id, NULL);
  SmNotifierItem *item = g_hash_table_lookup (self->items, key);

  if (item == NULL)
    {
      item = sm_notifier_item_new (SM_NOTIFIER_ITEM_SESSION, SM_NOTIFIER_ITEM_SESSION_PREFIX,
                                   session->id);
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
  /* Counted in the missed notice already: no notice of its own. */
  if (g_hash_table_remove (self->missed, session->id))
    return;
  sm_notifier_session_item (self, session)->expired = TRUE;
  sm_notifier_queue_layout (self);
}

static void
on_session_unregistered (SmSessions *sessions G_GNUC_UNUSED,
                         const SmSession *session,
                         const char *reason G_GNUC_UNUSED,
                         SmNotifier *self)
{
  g_autofree char *key = g_strconcat (SM_NOTIFIER_ITEM_SESSION_PREFIX, session->id, NULL);

  g_hash_table_remove (self->missed, session->id);
  sm_notifier_withdraw (self, key);
}

static void
sm_notifier_dispose (GObject *object)
{
  SmNotifier *self = SM_NOTIFIER (object);

  if (self->sessions != NULL)
    g_signal_handlers_disconnect_by_data (self->sessions, self);
  if (self->requests != NULL)
    g_signal_handlers_disconnect_by_data (self->requests, self);
  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  g_clear_object (&self->sessions);
  g_clear_object (&self->requests);
  g_clear_object (&self->server);
  g_clear_handle_id (&self->layout_id, g_source_remove);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->stall_id, g_source_remove);

  G_OBJECT_CLASS (sm_notifier_parent_class)->dispose (object);
}

static void
sm_notifier_finalize (GObject *object)
{
  SmNotifier *self = SM_NOTIFIER (object);

  /* Left on screen on purpose: the next run takes them over. */
  g_clear_pointer (&self->items, g_hash_table_unref);
  g_clear_pointer (&self->summary, sm_notifier_item_free);
  g_clear_pointer (&self->adopt, g_hash_table_unref);
  g_clear_pointer (&self->missed, g_hash_table_unref);

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
}

static void
sm_notifier_init (SmNotifier *self)
{
  self->items =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) sm_notifier_item_free);
  self->summary = sm_notifier_item_new (SM_NOTIFIER_ITEM_SESSION, SM_NOTIFIER_ITEM_SUMMARY_KEY, "");
  self->missed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

SmNotifier *
sm_notifier_new (SmSessions *sessions, SmRequests *requests)
{
  SmNotifier *self = g_object_new (SM_TYPE_NOTIFIER, NULL);

  self->sessions = g_object_ref (sessions);
  self->requests = g_object_ref (requests);

  g_signal_connect (sessions, "session-registered", G_CALLBACK (on_session_registered), self);
  g_signal_connect (sessions, "session-expiring", G_CALLBACK (on_session_expiring), self);
  g_signal_connect (sessions, "session-expired", G_CALLBACK (on_session_expired), self);
  g_signal_connect (sessions, "session-unregistered", G_CALLBACK (on_session_unregistered), self);
  g_signal_connect (requests, "request-registered", G_CALLBACK (on_request_registered), self);
  g_signal_connect (requests, "request-expired", G_CALLBACK (on_request_gone), self);
  g_signal_connect (requests, "request-unregistered", G_CALLBACK (on_request_unregistered), self);

  self->server = sm_notifier_server_new ();
  g_signal_connect (self->server, "ready", G_CALLBACK (on_server_ready), self);
  g_signal_connect (self->server, "vanished", G_CALLBACK (on_server_vanished), self);
  g_signal_connect (self->server, "action-invoked", G_CALLBACK (on_action_invoked), self);
  g_signal_connect (self->server, "activation-token", G_CALLBACK (on_activation_token), self);
  g_signal_connect (self->server, "closed", G_CALLBACK (on_closed), self);
  return self;
}

/* The notification ids on screen, one entry: a restarted daemon takes its
 * notifications over instead of leaving dead buttons. */
static GVariant *
sm_notifier_serialize (SmStorable *storable, const char *id G_GNUC_UNUSED)
{
  return sm_notifier_save (SM_NOTIFIER (storable));
}

static gboolean
sm_notifier_storable_restore (SmStorable *storable, GVariant *entry, GError **error)
{
  return sm_notifier_restore (SM_NOTIFIER (storable), entry, error);
}

static void
sm_notifier_storable_init (SmStorableInterface *iface)
{
  iface->serialize = sm_notifier_serialize;
  iface->restore = sm_notifier_storable_restore;
}
