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

static void
on_server_vanished (SmNotifierServer *server G_GNUC_UNUSED, SmNotifier *self)
{
  sm_notifier_unpost_all (self);
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
  sm_notifier_withdraw (self, SM_NOTIFIER_ITEM_REQUEST_PREFIX, request->id);
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
  sm_notifier_withdraw (self, SM_NOTIFIER_ITEM_REQUEST_PREFIX, request->id);
}

static void
on_request_unregistered (SmRequests *requests,
                         const SmRequest *request,
                         const char *reason G_GNUC_UNUSED,
                         SmNotifier *self)
{
  on_request_gone (requests, request, self);
}

/* Whatever the session showed or was counted in is stale. */
static void
forget_session (SmNotifier *self, const SmSession *session)
{
  g_hash_table_remove (self->missed, session->id);
  sm_notifier_withdraw (self, SM_NOTIFIER_ITEM_SESSION_PREFIX, session->id);
}

static void
on_session_registered (SmSessions *sessions G_GNUC_UNUSED,
                       const SmSession *session,
                       gboolean replaced,
                       SmNotifier *self)
{
  /* Re-registered: its warnings are re-armed, the old one is stale. */
  if (replaced)
    forget_session (self, session);
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
  forget_session (self, session);
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
  g_clear_pointer (&self->calls, sm_notifier_calls_free);
  g_clear_object (&self->server);
  g_clear_handle_id (&self->layout_id, g_source_remove);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->summary_id, g_source_remove);

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
  self->calls = sm_notifier_calls_new (self->server);
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
  return sm_notifier_state_save (SM_NOTIFIER (storable));
}

static gboolean
sm_notifier_storable_restore (SmStorable *storable, GVariant *entry, GError **error)
{
  return sm_notifier_state_restore (SM_NOTIFIER (storable), entry, error);
}

static void
sm_notifier_storable_init (SmStorableInterface *iface)
{
  iface->serialize = sm_notifier_serialize;
  iface->restore = sm_notifier_storable_restore;
}

GVariant *
sm_notifier_save (SmNotifier *self)
{
  g_return_val_if_fail (SM_IS_NOTIFIER (self), NULL);

  return sm_notifier_state_save (self);
}

gboolean
sm_notifier_restore (SmNotifier *self, GVariant *saved, GError **error)
{
  g_return_val_if_fail (SM_IS_NOTIFIER (self), FALSE);

  return sm_notifier_state_restore (self, saved, error);
}

void
sm_notifier_announce_missed (SmNotifier *self, gint64 now)
{
  g_return_if_fail (SM_IS_NOTIFIER (self));

  sm_notifier_state_announce_missed (self, now);
}
