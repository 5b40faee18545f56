/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier"

#include "config.h"

#include "sm-notifier-private.h"

#include <string.h>

/* What is on screen: which items get room, and the Notify calls that put
 * them there and keep them up to date. */

#define SM_NOTIFIER_RETRY_SECONDS 5
#define SM_NOTIFIER_SUMMARY_MS 1000

void
sm_notifier_changed (SmNotifier *self)
{
  sm_storable_changed (SM_STORABLE (self), SM_NOTIFIER_STATE_ID);
}

/* A Notify on its way: its answer goes to the item @key if that still waits
 * for @serial; otherwise the notification is unwanted and closed. */
typedef struct
{
  SmNotifier *self;       /* (unowned) alive unless the call was cancelled */
  SmNotifierCalls *calls; /* (unowned) self's, likewise */
  char *key;
  guint serial;
  gboolean is_new; /* no id to replace: it takes a place on screen */
} PostData;

static void
post_data_free (PostData *post)
{
  g_free (post->key);
  g_free (post);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PostData, post_data_free)

/* Withdraws the item's notification from the screen. */
void
sm_notifier_close (SmNotifier *self, SmNotifierItem *item)
{
  if (!sm_notifier_item_is_posted (item))
    return;
  sm_notifier_calls_close (self->calls, item->id);
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
  g_autoptr (PostData) post = user_data;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  SmNotifier *self;
  SmNotifierItem *item;
  guint32 id = 0;

  reply = sm_notifier_calls_notify_finish (post->calls, result, &error);
  /* The server left, or we are going: nothing of ours to update. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = post->self;
  /* Counted only while its server lasts: unpost_all() starts again. */
  if (post->is_new && self->new_in_flight > 0)
    self->new_in_flight--;
  if (reply != NULL)
    g_variant_get (reply, "(u)", &id);
  item = sm_notifier_lookup (self, post->key);
  if (item == NULL || item->pending != post->serial)
    {
      /* Withdrawn on its way: no dead button stays on screen. */
      sm_notifier_calls_close (self->calls, id);
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
 * closed and posted anew. A new notification takes one of @room, the
 * places the server may still fill; without one it waits. Returns whether
 * the Notify went out. */
static gboolean
sm_notifier_post (SmNotifier *self,
                  SmNotifierItem *item,
                  guint n_requests,
                  guint n_sessions,
                  guint *room)
{
  PostData *post;
  GVariant *params;

  if (!sm_notifier_server_is_ready (self->server))
    return FALSE;
  /* One Notify per item at a time and a bounded number in all; the item
   * keeps what it wants to show, and the next answer lays out again. */
  if (item->pending != 0 || !sm_notifier_calls_can_notify (self->calls))
    {
      self->held = TRUE;
      return FALSE;
    }
  if (item->kind == SM_NOTIFIER_ITEM_REQUEST && item->id != 0)
    {
      sm_notifier_close (self, item);
      (*room)++;
    }
  /* A notification a previous run left up is taken over in place, so no
   * dead button stays on screen. Not for requests: see above. */
  if (item->id == 0 && self->adopt != NULL && item->kind != SM_NOTIFIER_ITEM_REQUEST
      && g_hash_table_contains (self->adopt, item->key))
    {
      item->id = (guint32) GPOINTER_TO_INT (g_hash_table_lookup (self->adopt, item->key));
      g_hash_table_remove (self->adopt, item->key);
      (*room)++;
    }
  /* No place until a close has gone out before it: an answer frees one. */
  if (item->id == 0 && *room == 0)
    {
      self->held = TRUE;
      return FALSE;
    }
  params =
      sm_notifier_item_notify_params (item, item == self->summary, n_requests, n_sessions,
                                      sm_notifier_server_has_body_markup (self->server), item->id);
  if (++self->serial == 0)
    self->serial++;
  post = g_new0 (PostData, 1);
  post->self = self;
  post->calls = self->calls;
  post->key = g_strdup (item->key);
  post->serial = self->serial;
  post->is_new = item->id == 0;
  if (post->is_new)
    {
      (*room)--;
      self->new_in_flight++;
    }
  sm_notifier_calls_notify (self->calls, params, on_notify_done, post);
  item->pending = self->serial;
  item->dirty = FALSE;
  item->acted = FALSE;
  return TRUE;
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
 * what is shown now (the @n_shown first of @shown, and the summary when
 * fewer than the @n_wanting items that want room are), never a request. */
static gboolean
adopts (SmNotifierItem **shown, guint n_shown, guint n_wanting, const char *key)
{
  if (g_str_equal (key, SM_NOTIFIER_ITEM_SUMMARY_KEY))
    return n_shown < n_wanting;
  for (guint i = 0; i < n_shown; i++)
    {
      SmNotifierItem *item = shown[i];

      if (item->kind != SM_NOTIFIER_ITEM_REQUEST && g_str_equal (item->key, key))
        return !sm_notifier_item_is_posted (item) || item->dirty;
    }
  return FALSE;
}

/* Closes what a previous run left up and this layout does not take over,
 * before posting: the server must never hold more than three. */
static void
close_leftovers (SmNotifier *self, SmNotifierItem **shown, guint n_shown, guint n_wanting)
{
  GHashTableIter iter;
  gpointer key, value;
  gboolean closed = FALSE;

  if (self->adopt == NULL)
    return;
  g_hash_table_iter_init (&iter, self->adopt);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!adopts (shown, n_shown, n_wanting, key))
      {
        sm_notifier_calls_close (self->calls, (guint32) GPOINTER_TO_INT (value));
        g_hash_table_iter_remove (&iter);
        closed = TRUE;
      }
  if (g_hash_table_size (self->adopt) == 0)
    g_clear_pointer (&self->adopt, g_hash_table_unref);
  if (closed)
    sm_notifier_changed (self);
}

/* The SM_NOTIFIER_MAX_ON_SCREEN first items in layout order into @top (as
 * many as there are, in order), in one walk: a burst of 10 000 expiries
 * costs a walk per layout, not a sort. Returns how many want room in all. */
static guint
pick_first (SmNotifier *self, SmNotifierItem **top, guint *n_top)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0, k = 0;

  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SmNotifierItem *item = value;
      guint i;

      n++;
      if (k == SM_NOTIFIER_MAX_ON_SCREEN && compare_items (&item, &top[k - 1]) >= 0)
        continue;
      if (k < SM_NOTIFIER_MAX_ON_SCREEN)
        k++;
      for (i = k - 1; i > 0 && compare_items (&item, &top[i - 1]) < 0; i--)
        top[i] = top[i - 1];
      top[i] = item;
    }
  *n_top = k;
  return n;
}

/* Closes every item but the @n_shown first, counting them for the summary. */
static void
close_the_rest (SmNotifier *self,
                SmNotifierItem **shown,
                guint n_shown,
                guint *n_requests,
                guint *n_sessions)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SmNotifierItem *item = value;
      gboolean is_shown = FALSE;

      for (guint i = 0; i < n_shown && !is_shown; i++)
        is_shown = shown[i] == item;
      if (is_shown)
        continue;
      sm_notifier_close (self, item);
      if (item->kind == SM_NOTIFIER_ITEM_REQUEST)
        (*n_requests)++;
      else
        (*n_sessions)++;
    }
}

/* The places on screen still free once the closes sent so far are taken:
 * what has an id, what a previous run left to take over, and every new
 * Notify still unanswered, even one withdrawn on its way (its close can
 * only follow its answer). The items not shown were closed already. */
static guint
free_room (SmNotifier *self, SmNotifierItem **shown, guint n_shown)
{
  guint used = self->new_in_flight;

  for (guint i = 0; i < n_shown; i++)
    used += shown[i]->id != 0;
  used += self->summary->id != 0;
  if (self->adopt != NULL)
    used += g_hash_table_size (self->adopt);
  return used < SM_NOTIFIER_MAX_ON_SCREEN ? SM_NOTIFIER_MAX_ON_SCREEN - used : 0;
}

static gboolean
on_summary_due (gpointer user_data)
{
  SmNotifier *self = user_data;

  self->summary_id = 0;
  sm_notifier_queue_layout (self);
  return G_SOURCE_REMOVE;
}

/* The summary is updated in place only when its counts change, and at most
 * once every SM_NOTIFIER_SUMMARY_MS: while thousands of sessions expire in
 * one second the counts change at every dispatch, and a Notify each time
 * would flood the server. When it is time, a layout shows the latest
 * counts. Only an update waits: posting it anew (it takes a place) is
 * bound by @room like any other. */
static void
update_summary (SmNotifier *self, guint n_requests, guint n_sessions, guint *room)
{
  gint64 now = g_get_monotonic_time ();
  gint64 due = self->summary_posted_us + SM_NOTIFIER_SUMMARY_MS * 1000;
  gboolean posted = sm_notifier_item_is_posted (self->summary);

  if (posted && self->summary_requests == n_requests && self->summary_sessions == n_sessions)
    return;
  if (posted && now < due)
    {
      if (self->summary_id == 0)
        self->summary_id = g_timeout_add ((guint) ((due - now + 999) / 1000), on_summary_due, self);
      return;
    }
  if (!sm_notifier_post (self, self->summary, n_requests, n_sessions, room))
    return;
  /* Only what was sent: a post that waits is sent with the counts of then. */
  self->summary_requests = n_requests;
  self->summary_sessions = n_sessions;
  self->summary_posted_us = now;
}

/* Requests before sessions, sooner before later; at most three on screen,
 * and with more, the first two plus the summary of the rest. Room is made
 * (closes sent) before anything new is posted into it. */
static gboolean
on_layout (gpointer user_data)
{
  SmNotifier *self = user_data;
  SmNotifierItem *shown[SM_NOTIFIER_MAX_ON_SCREEN];
  guint n_shown, n_wanting, room, n_requests = 0, n_sessions = 0;

  self->layout_id = 0;
  if (!sm_notifier_server_is_ready (self->server))
    return G_SOURCE_REMOVE;

  n_wanting = pick_first (self, shown, &n_shown);
  if (n_shown < n_wanting)
    n_shown = SM_NOTIFIER_MAX_ON_SCREEN - 1;
  close_the_rest (self, shown, n_shown, &n_requests, &n_sessions);
  if (n_shown == n_wanting)
    {
      sm_notifier_close (self, self->summary);
      g_clear_handle_id (&self->summary_id, g_source_remove);
    }
  close_leftovers (self, shown, n_shown, n_wanting);

  room = free_room (self, shown, n_shown);
  for (guint i = 0; i < n_shown; i++)
    {
      SmNotifierItem *item = shown[i];

      if (!sm_notifier_item_is_posted (item) || item->dirty)
        sm_notifier_post (self, item, 0, 0, &room);
    }
  if (n_shown < n_wanting)
    update_summary (self, n_requests, n_sessions, &room);

  /* Whatever was to be taken over and could not be posted is closed. */
  close_leftovers (self, shown, 0, n_wanting);
  return G_SOURCE_REMOVE;
}

/* Coalesced: 10 000 sessions expiring in one dispatch lay out once. */
void
sm_notifier_queue_layout (SmNotifier *self)
{
  if (self->layout_id == 0 && sm_notifier_server_is_ready (self->server))
    self->layout_id = g_idle_add (on_layout, self);
}

void
sm_notifier_withdraw (SmNotifier *self, const char *prefix, const char *id)
{
  g_autofree char *key = g_strconcat (prefix, id, NULL);
  SmNotifierItem *item = g_hash_table_lookup (self->items, key);

  if (item == NULL)
    return;
  sm_notifier_close (self, item);
  g_hash_table_remove (self->items, key);
  sm_notifier_queue_layout (self);
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

/* The server left: its ids mean nothing to the next one, and its calls in
 * flight were cancelled with it. Everything is posted anew. */
void
sm_notifier_unpost_all (SmNotifier *self)
{
  GHashTableIter iter;
  gpointer value;

  g_clear_handle_id (&self->layout_id, g_source_remove);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->summary_id, g_source_remove);
  sm_notifier_calls_reset (self->calls);
  self->held = FALSE;
  self->new_in_flight = 0;
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
