/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier-item"

#include "config.h"

#include "sm-notifier-item.h"

#include "sm-notifier.h"
#include "sm-notifier-text.h"

#include <unistd.h>

/* The Notify call's fields as libnotify filled them before (the spec's
 * urgency levels and expire_timeout sentinels). */
#define SM_NOTIFIER_APP_NAME "session-monitor"
#define SM_URGENCY_NORMAL 1
#define SM_URGENCY_CRITICAL 2
#define SM_EXPIRES_DEFAULT (-1)
#define SM_EXPIRES_NEVER 0

void
sm_notifier_item_free (SmNotifierItem *item)
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
  g_free (item);
}

SmNotifierItem *
sm_notifier_item_new (SmNotifierItemKind kind, const char *prefix, const char *id)
{
  SmNotifierItem *item = g_new0 (SmNotifierItem, 1);

  item->kind = kind;
  item->key = g_strconcat (prefix, id, NULL);
  return item;
}

gboolean
sm_notifier_item_is_posted (const SmNotifierItem *item)
{
  return item->id != 0 || item->pending != 0;
}

static void
add_action (GVariantBuilder *actions, const char *action)
{
  g_variant_builder_add (actions, "s", action);
  g_variant_builder_add (actions, "s", sm_notify_text_action_label (action));
}

/* The title and body that show @item (the summary when @is_summary, with
 * its counts), and how urgent it is. */
static char *
item_text (const SmNotifierItem *item,
           gboolean is_summary,
           guint n_requests,
           guint n_sessions,
           gboolean markup,
           const char **summary,
           guchar *urgency)
{
  gint64 now;

  *urgency = SM_URGENCY_NORMAL;
  if (is_summary)
    {
      *summary = sm_notify_text_title (SM_NOTIFY_TITLE_MONITOR);
      if (n_requests > 0)
        *urgency = SM_URGENCY_CRITICAL;
      return sm_notify_text_overflow_body (n_requests, n_sessions);
    }
  if (item->kind == SM_NOTIFIER_ITEM_REQUEST)
    {
      *summary = sm_notify_text_title (SM_NOTIFY_TITLE_REQUEST);
      *urgency = SM_URGENCY_CRITICAL;
      return sm_notify_text_request_body (item->nickname, item->amount, item->purpose, markup);
    }
  if (item->kind == SM_NOTIFIER_ITEM_NOTICE)
    {
      *summary = sm_notify_text_title (SM_NOTIFY_TITLE_MONITOR);
      return sm_notify_text_plain (item->text, markup);
    }
  if (item->expired)
    {
      *summary = sm_notify_text_title (SM_NOTIFY_TITLE_EXPIRED);
      return sm_notify_text_expired_body ();
    }
  now = g_get_real_time () / 1000;
  *summary = sm_notify_text_title (SM_NOTIFY_TITLE_EXPIRING);
  if (sm_notify_text_minutes_left (item->expires_at, now) <= 2)
    *urgency = SM_URGENCY_CRITICAL;
  return sm_notify_text_expiring_body (item->expires_at, now);
}

GVariant *
sm_notifier_item_notify_params (const SmNotifierItem *item,
                                gboolean is_summary,
                                guint n_requests,
                                guint n_sessions,
                                gboolean markup,
                                guint32 replaces_id)
{
  g_autofree char *body = NULL;
  GVariantBuilder actions, hints;
  const char *summary;
  guchar urgency;
  gint32 timeout = SM_EXPIRES_DEFAULT;

  body = item_text (item, is_summary, n_requests, n_sessions, markup, &summary, &urgency);
  /* Critical stays until acted on; GNOME Shell ignores expire_timeout. */
  if (urgency == SM_URGENCY_CRITICAL)
    timeout = SM_EXPIRES_NEVER;

  g_variant_builder_init (&actions, G_VARIANT_TYPE_STRING_ARRAY);
  add_action (&actions, "default");
  g_variant_builder_init (&hints, G_VARIANT_TYPE_VARDICT);
  if (item->kind == SM_NOTIFIER_ITEM_REQUEST && !is_summary)
    {
      add_action (&actions, "view");
      add_action (&actions, "dismiss");
      g_variant_builder_add (&hints, "{sv}", "resident", g_variant_new_boolean (FALSE));
    }
  /* Our own desktop entry, never a wallet's: GNOME Shell groups and names
   * notifications by it, and we post for every wallet. */
  g_variant_builder_add (&hints, "{sv}", "desktop-entry", g_variant_new_string (SM_DESKTOP_ID));
  g_variant_builder_add (&hints, "{sv}", "urgency", g_variant_new_byte (urgency));
  g_variant_builder_add (&hints, "{sv}", "sender-pid", g_variant_new_int64 (getpid ()));

  return g_variant_new ("(susssasa{sv}i)", SM_NOTIFIER_APP_NAME, replaces_id, SM_DESKTOP_ID,
                        summary, body, &actions, &hints, timeout);
}
