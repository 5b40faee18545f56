#define G_LOG_DOMAIN "sm-notify-item"

#include "config.h"

#include "sm-notify-item.h"

#include "sm-notifier.h"
#include "sm-notify-text.h"

void
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

SmItem *
sm_item_new (SmItemKind kind, const char *prefix, const char *id)
{
  SmItem *item = g_new0 (SmItem, 1);

  item->kind = kind;
  item->key = g_strconcat (prefix, id, NULL);
  return item;
}

gint32
sm_item_get_id (SmItem *item)
{
  gint id = 0;

  if (item->notification != NULL)
    g_object_get (item->notification, "id", &id, NULL);
  return id;
}

/* Closes a notification we know only by its id: one a previous run left. */
void
sm_item_close_id (gint id)
{
  NotifyNotification *stale = notify_notification_new ("", NULL, NULL);

  g_object_set (stale, "id", id, NULL);
  notify_notification_close (stale, NULL);
  g_object_unref (stale);
}

/* libnotify wants a callback per action; the clicks are handled by
 * SmNotifyServer's own subscription instead. */
static void
on_libnotify_action (NotifyNotification *notification G_GNUC_UNUSED,
                     char *action G_GNUC_UNUSED,
                     gpointer user_data G_GNUC_UNUSED)
{
}

static void
add_action (NotifyNotification *notification, const char *action)
{
  notify_notification_add_action (notification, action, sm_notify_text_action_label (action),
                                  on_libnotify_action, NULL, NULL);
}

/* Shows @item (the summary when @is_summary, with its counts), in place
 * when it is on screen, else anew or over the previous run's @adopt_id. */
gboolean
sm_item_show (SmItem *item,
              gboolean is_summary,
              guint n_requests,
              guint n_sessions,
              gboolean markup,
              gint adopt_id,
              GError **error)
{
  g_autofree char *body = NULL;
  const char *summary;
  NotifyUrgency urgency = NOTIFY_URGENCY_NORMAL;
  gint timeout = NOTIFY_EXPIRES_DEFAULT;

  if (is_summary)
    {
      summary = sm_notify_text_title (SM_NOTIFY_TITLE_MONITOR);
      body = sm_notify_text_overflow_body (n_requests, n_sessions);
      if (n_requests > 0)
        urgency = NOTIFY_URGENCY_CRITICAL;
    }
  else if (item->kind == SM_ITEM_REQUEST)
    {
      summary = sm_notify_text_title (SM_NOTIFY_TITLE_REQUEST);
      body = sm_notify_text_request_body (item->nickname, item->amount, item->purpose, markup);
      urgency = NOTIFY_URGENCY_CRITICAL;
    }
  else if (item->kind == SM_ITEM_NOTICE)
    {
      summary = sm_notify_text_title (SM_NOTIFY_TITLE_MONITOR);
      body = sm_notify_text_plain (item->text, markup);
    }
  else if (item->expired)
    {
      summary = sm_notify_text_title (SM_NOTIFY_TITLE_EXPIRED);
      body = sm_notify_text_expired_body ();
    }
  else
    {
      gint64 now = g_get_real_time () / 1000;

      summary = sm_notify_text_title (SM_NOTIFY_TITLE_EXPIRING);
      body = sm_notify_text_expiring_body (item->expires_at, now);
      if (sm_notify_text_minutes_left (item->expires_at, now) <= 2)
        urgency = NOTIFY_URGENCY_CRITICAL;
    }
  /* Critical stays until acted on; GNOME Shell ignores expire_timeout. */
  if (urgency == NOTIFY_URGENCY_CRITICAL)
    timeout = NOTIFY_EXPIRES_NEVER;

  if (item->notification == NULL)
    {
      item->notification = notify_notification_new (summary, body, SM_DESKTOP_ID);
      if (adopt_id > 0)
        g_object_set (item->notification, "id", adopt_id, NULL);
      add_action (item->notification, "default");
      if (item->kind == SM_ITEM_REQUEST)
        {
          add_action (item->notification, "view");
          add_action (item->notification, "dismiss");
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

  if (!notify_notification_show (item->notification, error))
    {
      g_clear_object (&item->notification);
      return FALSE;
    }
  return TRUE;
}
