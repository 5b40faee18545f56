/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-checks"

#include "sm-checks.h"

#include "sm-error.h"

#include <string.h>

/* D-Bus already guarantees valid UTF-8; what is left is what would corrupt
 * a log line or a terminal: control characters. */
gboolean
sm_check_text (const char *arg_name,
               const char *value,
               gsize min_bytes,
               gsize max_bytes,
               GError **error)
{
  gsize len = strlen (value);

  if (len < min_bytes)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "%s: must not be empty", arg_name);
      return FALSE;
    }
  if (len > max_bytes)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "%s: is %" G_GSIZE_FORMAT " bytes long, at most %" G_GSIZE_FORMAT " are allowed",
                   arg_name, len, max_bytes);
      return FALSE;
    }
  if (!g_utf8_validate (value, (gssize) len, NULL))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "%s: is not valid UTF-8", arg_name);
      return FALSE;
    }
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        {
          g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                       "%s: contains the control character U+%04X at byte %" G_GSIZE_FORMAT,
                       arg_name, c, (gsize) (p - value));
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
sm_check_id (const char *arg_name, const char *value, GError **error)
{
  return sm_check_text (arg_name, value, 1, SM_ID_MAX_BYTES, error);
}

/* For string options shown to people or handed back to apps: not empty, no
 * control characters, and short enough not to be a memory sink. */
static gboolean
check_text_option (const char *key, const char *text, GError **error)
{
  g_autofree char *arg_name = NULL;

  /* The argument's name is made only for the error (restoring checks
   * three of these per session). */
  if (sm_check_text (NULL, text, 1, SM_TEXT_OPTION_MAX_BYTES, NULL))
    return TRUE;
  arg_name = g_strdup_printf ("options: \"%s\"", key);
  return sm_check_text (arg_name, text, 1, SM_TEXT_OPTION_MAX_BYTES, error);
}

gboolean
sm_check_text_option (const char *key, GVariant *value, GError **error)
{
  return check_text_option (key, g_variant_get_string (value, NULL), error);
}

/* The same on a saved string read in place (normal form: terminated). */
gboolean
sm_check_text_option_view (const char *key, const SmSavedVardictEntry *value, GError **error)
{
  return check_text_option (key, (const char *) value->value, error);
}

/* For text a wallet relays from its peer (a nickname, an amount, a
 * purpose): any UTF-8 at all, empty or with control characters (a newline in
 * a purpose is normal). It is stored and returned as given and sanitized only
 * where it is shown (sm_sanitize_text()); what a peer wrote is never a reason
 * to refuse the request. Its size is bounded by the cap on the whole options
 * dict. D-Bus has already refused invalid UTF-8; a restored entry is in
 * normal form, whose strings are valid. */
gboolean
sm_check_peer_text_option (const char *key G_GNUC_UNUSED,
                           GVariant *value G_GNUC_UNUSED,
                           GError **error G_GNUC_UNUSED)
{
  return TRUE;
}

/* Whether @time_ms is within the API's window: at most 30 days after now. */
static gboolean
check_ahead (const char *arg_name, gint64 time_ms, gint64 now_ms, GError **error)
{
  if (time_ms > now_ms && time_ms - now_ms > SM_MAX_AHEAD_MS)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "%s: is %" G_GINT64_FORMAT " ms ahead, at most 30 days (%" G_GINT64_FORMAT
                   " ms) are allowed",
                   arg_name, time_ms - now_ms, SM_MAX_AHEAD_MS);
      return FALSE;
    }
  return TRUE;
}

gboolean
sm_check_expires_at (const char *arg_name, gint64 expires_at, gint64 now_ms, GError **error)
{
  if (expires_at <= 0)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "%s: must be a Unix time in milliseconds greater than 0, got %" G_GINT64_FORMAT,
                   arg_name, expires_at);
      return FALSE;
    }
  return check_ahead (arg_name, expires_at, now_ms, error);
}

/* A time stamp read back from the state file: a Unix time no earlier than
 * 0 (0 is "never" where a time may be absent) and at most 30 days after
 * now, the window of the API itself; later than now is a clock set back,
 * which the caller clamps. */
gboolean
sm_check_saved_time (const char *arg_name, gint64 time_ms, gint64 now_ms, GError **error)
{
  if (time_ms < 0)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "%s: must be a Unix time in milliseconds, got %" G_GINT64_FORMAT, arg_name,
                   time_ms);
      return FALSE;
    }
  return check_ahead (arg_name, time_ms, now_ms, error);
}
