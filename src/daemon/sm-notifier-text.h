/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the notifications say, translated: titles, bodies and action labels.
 * Peer-supplied text goes through sm_sanitize_text() here and nowhere else;
 * @markup says whether the server takes body markup (then text is escaped). */

typedef enum
{
  SM_NOTIFY_TITLE_REQUEST,
  SM_NOTIFY_TITLE_MONITOR, /* notices and the overflow summary */
  SM_NOTIFY_TITLE_EXPIRING,
  SM_NOTIFY_TITLE_EXPIRED,
} SmNotifyTitle;

const char *sm_notify_text_title (SmNotifyTitle title);
const char *sm_notify_text_action_label (const char *action);

char *sm_notify_text_request_body (const char *nickname,
                                   const char *amount,
                                   const char *purpose,
                                   gboolean markup);
/* Minutes left as SessionExpiring counts them; the warning's text for the
 * time left at @now (call it when the notification is shown). */
guint sm_notify_text_minutes_left (gint64 expires_at, gint64 now);
char *sm_notify_text_expiring_body (gint64 expires_at, gint64 now);
char *sm_notify_text_expired_body (void);
/* "2 more signing requests and 3 sessions need attention" */
char *sm_notify_text_overflow_body (guint n_requests, guint n_sessions);
/* What expired while the daemon was not running; plain text. */
char *sm_notify_text_missed_body (guint n_sessions, guint n_requests);
/* Our own plain text for a body: escaped when the server takes markup. */
char *sm_notify_text_plain (const char *text, gboolean markup);

G_END_DECLS
