/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier-text"

#include "config.h"

#include "sm-notifier-text.h"

#include "sm-sanitize.h"

#include <glib/gi18n.h>

const char *
sm_notify_text_title (SmNotifyTitle title)
{
  switch (title)
    {
    case SM_NOTIFY_TITLE_REQUEST:
      return _ ("Signing Request");
    case SM_NOTIFY_TITLE_EXPIRING:
      return _ ("Session Expiring Soon");
    case SM_NOTIFY_TITLE_EXPIRED:
      return _ ("Session Expired");
    case SM_NOTIFY_TITLE_MONITOR:
    default:
      return _ ("Session Monitor");
    }
}

/* "default" does what "view" does, so it reads the same. */
const char *
sm_notify_text_action_label (const char *action)
{
  if (g_str_equal (action, "dismiss"))
    return _ ("Dismiss");
  return _ ("View");
}

char *
sm_notify_text_request_body (const char *nickname,
                             const char *amount,
                             const char *purpose,
                             gboolean markup)
{
  GString *body = g_string_new (NULL);

  if (nickname != NULL)
    {
      g_autofree char *text = sm_sanitize_text (nickname, SM_NICKNAME_MAX_CHARS, markup);

      if (*text != '\0')
        /* Translators: %s is the nickname of the peer asking to sign. */
        g_string_append_printf (body, _ ("%s is requesting your signature"), text);
    }
  if (body->len == 0)
    g_string_append (body, _ ("New signing request received"));
  if (amount != NULL)
    {
      g_autofree char *text = sm_sanitize_text (amount, SM_AMOUNT_MAX_CHARS, markup);

      g_string_append_c (body, '\n');
      /* Translators: %s is the amount to be signed for, as the peer sent it. */
      g_string_append_printf (body, _ ("Amount: %s"), text);
    }
  if (purpose != NULL)
    {
      g_autofree char *text = sm_sanitize_text (purpose, SM_PURPOSE_MAX_CHARS, markup);

      g_string_append_c (body, '\n');
      /* Translators: %s is what the signature is for, as the peer sent it. */
      g_string_append_printf (body, _ ("Purpose: %s"), text);
    }
  return g_string_free (body, FALSE);
}

/* As in SessionExpiring: ceil ((expires_at - now) / 60000), 0 once past. */
guint
sm_notify_text_minutes_left (gint64 expires_at, gint64 now)
{
  gint64 left = expires_at - now;

  if (left <= 0)
    return 0;
  return (guint) MIN ((left + 59999) / 60000, (gint64) G_MAXUINT);
}

/* Computed from @now when shown, never frozen when the warning fired: a
 * notification re-posted later (after a restart, or when it gets room on
 * screen again) tells the time that is really left. */
char *
sm_notify_text_expiring_body (gint64 expires_at, gint64 now)
{
  guint minutes = sm_notify_text_minutes_left (expires_at, now);

  return g_strdup_printf (ngettext ("Signing session expires in %u minute",
                                    "Signing session expires in %u minutes", minutes),
                          minutes);
}

char *
sm_notify_text_expired_body (void)
{
  return g_strdup (_ ("A signing session has expired"));
}

char *
sm_notify_text_overflow_body (guint n_requests, guint n_sessions)
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

char *
sm_notify_text_missed_body (guint n_sessions, guint n_requests)
{
  GString *text = g_string_new (NULL);

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
  return g_string_free (text, FALSE);
}

char *
sm_notify_text_plain (const char *text, gboolean markup)
{
  return markup ? g_markup_escape_text (text, -1) : g_strdup (text);
}
