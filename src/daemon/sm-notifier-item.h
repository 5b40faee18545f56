/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One thing that wants room on screen and what its notification looks
 * like; private to the notifier (sm-notifier*.c). */

#define SM_NOTIFIER_ITEM_SUMMARY_KEY "summary"
#define SM_NOTIFIER_ITEM_MISSED_KEY "notice:missed"
#define SM_NOTIFIER_ITEM_SESSION_PREFIX "session:"
#define SM_NOTIFIER_ITEM_REQUEST_PREFIX "request:"

typedef enum
{
  SM_NOTIFIER_ITEM_REQUEST,
  SM_NOTIFIER_ITEM_NOTICE,
  SM_NOTIFIER_ITEM_SESSION,
} SmNotifierItemKind;

/* Something that wants room on screen; shown on its own or counted in the
 * summary notification. */
typedef struct
{
  SmNotifierItemKind kind;
  char *
      key; /* "request:ID", "session:ID", SM_NOTIFIER_ITEM_MISSED_KEY or SM_NOTIFIER_ITEM_SUMMARY_KEY */
  gint64 expires_at;
  char *session_id; /* (nullable) */
  char *request_id; /* (nullable) */
  char *url;        /* (nullable) */
  char *app_id;     /* (nullable) */
  char *nickname;   /* (nullable) untrusted */
  char *amount;     /* (nullable) untrusted */
  char *purpose;    /* (nullable) untrusted */
  char *text;       /* (nullable) notice body */
  guint minutes;    /* session warning */
  gboolean expired; /* session: the expiry notice */
  gboolean dirty;   /* content changed since it was posted */
  gboolean acted;   /* an action came: the next close is not a dismiss */
  char *token;      /* (nullable) activation token of the last click */
  guint32 id;       /* the server's id while on screen, else 0 */
  guint pending;    /* serial of its Notify call in flight, else 0 */
} SmNotifierItem;

SmNotifierItem *sm_notifier_item_new (SmNotifierItemKind kind, const char *prefix, const char *id);
void sm_notifier_item_free (SmNotifierItem *item);
/* Whether it is on screen or on its way there (a Notify in flight). */
gboolean sm_notifier_item_is_posted (const SmNotifierItem *item);
/* The Notify call's parameters (susssasa{sv}i) that show @item (the summary
 * when @is_summary, with its counts), over the notification @replaces_id
 * when not 0. Floating. */
GVariant *sm_notifier_item_notify_params (const SmNotifierItem *item,
                                          gboolean is_summary,
                                          guint n_requests,
                                          guint n_sessions,
                                          gboolean markup,
                                          guint32 replaces_id);

G_END_DECLS
