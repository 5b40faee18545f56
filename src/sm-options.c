#define G_LOG_DOMAIN "sm-options"

#include "sm-options.h"

#include "sm-error.h"

#include <string.h>

/* One pass over @options (g_variant_lookup() walks the whole dict for every
 * key, which dominated restoring 10 000 sessions): each known key is
 * checked and its value handed out in @values[i] (owned; NULL when absent).
 * A key given twice counts once, the first time, as g_variant_lookup()
 * would. On failure @values holds nothing. */
gboolean
sm_options_parse (const SmOptionSpec *specs,
                  gsize n_specs,
                  GVariant *options,
                  GVariant **values,
                  GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), FALSE);

  memset (values, 0, n_specs * sizeof *values);
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      gsize i = 0;

      while (i < n_specs && strcmp (specs[i].key, key) != 0)
        i++;
      if (i == n_specs || values[i] != NULL)
        {
          g_variant_unref (value);
          continue;
        }
      values[i] = value;
      if (!g_variant_is_of_type (value, specs[i].type))
        {
          g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                       "options: \"%s\" must be of type '%s', not '%s'", key,
                       (const char *) specs[i].type, g_variant_get_type_string (value));
          sm_options_clear (values, n_specs);
          return FALSE;
        }
      if (specs[i].check != NULL && !specs[i].check (key, value, error))
        {
          sm_options_clear (values, n_specs);
          return FALSE;
        }
    }
  return TRUE;
}

void
sm_options_clear (GVariant **values, gsize n_values)
{
  for (gsize i = 0; i < n_values; i++)
    g_clear_pointer (&values[i], g_variant_unref);
}

gboolean
sm_options_validate (const SmOptionSpec *specs, gsize n_specs, GVariant *options, GError **error)
{
  g_autofree GVariant **values = g_new (GVariant *, n_specs);

  if (!sm_options_parse (specs, n_specs, options, values, error))
    return FALSE;
  sm_options_clear (values, n_specs);
  return TRUE;
}

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
gboolean
sm_check_text_option (const char *key, GVariant *value, GError **error)
{
  g_autofree char *arg_name = g_strdup_printf ("options: \"%s\"", key);

  return sm_check_text (arg_name, g_variant_get_string (value, NULL), 1, SM_TEXT_OPTION_MAX_BYTES,
                        error);
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
  if (expires_at > now_ms && expires_at - now_ms > SM_MAX_AHEAD_MS)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "%s: is %" G_GINT64_FORMAT " ms ahead, at most 30 days (%" G_GINT64_FORMAT
                   " ms) are allowed",
                   arg_name, expires_at - now_ms, SM_MAX_AHEAD_MS);
      return FALSE;
    }
  return TRUE;
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
