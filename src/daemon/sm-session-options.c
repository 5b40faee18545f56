/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-sessions"

#include "sm-session-options.h"

#include "sm-checks.h"
#include "sm-error.h"

#include <stdlib.h>
#include <string.h>

/* A session's options: what RegisterSession accepts and how they fill a
 * session, shared by registering and restoring (sm-sessions.c). */

#define SM_METADATA_MAX_BYTES (64 * 1024)

static const gint64 default_thresholds[] = { 600000, 300000, 120000, 60000 };

static gboolean
check_threshold_list (const char *key, const gint64 *list, gsize n, GError **error)
{
  if (n < 1 || n > SM_THRESHOLDS_MAX)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: \"%s\" must hold 1 to %d values, got %" G_GSIZE_FORMAT, key,
                   SM_THRESHOLDS_MAX, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      gint64 t = list[i];

      if (t <= 0)
        {
          g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                       "options: \"%s\" value %" G_GSIZE_FORMAT " is %" G_GINT64_FORMAT
                       "; every threshold must be > 0 ms",
                       key, i, t);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_thresholds (const char *key, GVariant *value, GError **error)
{
  /* An "ax" is read in place, not element by element (restoring). */
  gsize n = 0;
  const gint64 *list = g_variant_get_fixed_array (value, &n, sizeof (gint64));

  return check_threshold_list (key, list, n, error);
}

/* A saved "ax" is aligned to 8 in its dict, as GLib reads it in place. */
static gboolean
check_thresholds_view (const char *key, const SmSavedVardictEntry *value, GError **error)
{
  return check_threshold_list (key, (const gint64 *) value->value,
                               value->value_size / sizeof (gint64), error);
}

static gboolean
check_metadata_size (const char *key, gsize size, GError **error)
{
  if (size > SM_METADATA_MAX_BYTES)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: \"%s\" is %" G_GSIZE_FORMAT
                   " bytes serialized, at most %d are allowed",
                   key, size, SM_METADATA_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_metadata (const char *key, GVariant *value, GError **error)
{
  return check_metadata_size (key, g_variant_get_size (value), error);
}

static gboolean
check_metadata_view (const char *key, const SmSavedVardictEntry *value, GError **error)
{
  return check_metadata_size (key, value->value_size, error);
}

const SmOptionSpec sm_session_options[SM_SESSION_N_RESTORE_OPTIONS] = {
  [SM_SESSION_OPT_SESSION_TYPE] = { "session-type", G_VARIANT_TYPE_STRING, sm_check_text_option,
                                    sm_check_text_option_view },
  [SM_SESSION_OPT_WARN_THRESHOLDS] = { "warn-thresholds", (const GVariantType *) "ax",
                                       check_thresholds, check_thresholds_view },
  [SM_SESSION_OPT_WARN_BEFORE_MINUTES] = { "warn-before-minutes", G_VARIANT_TYPE_UINT32, NULL,
                                           NULL },
  [SM_SESSION_OPT_METADATA] = { "metadata", G_VARIANT_TYPE_VARDICT, check_metadata,
                                check_metadata_view },
  [SM_SESSION_OPT_APP_ID] = { "app-id", G_VARIANT_TYPE_STRING, sm_check_text_option,
                              sm_check_text_option_view },
  [SM_SESSION_OPT_URL] = { "url", G_VARIANT_TYPE_STRING, sm_check_text_option,
                           sm_check_text_option_view },
  [SM_SESSION_OPT_SESSION_ID] = { "session-id", G_VARIANT_TYPE_STRING, NULL, NULL },
  [SM_SESSION_OPT_EXPIRES_AT] = { "expires-at", G_VARIANT_TYPE_INT64, NULL, NULL },
  [SM_SESSION_OPT_REGISTERED_AT] = { "registered-at", G_VARIANT_TYPE_INT64, NULL, NULL },
  [SM_SESSION_OPT_WARNINGS_SENT] = { "warnings-sent", (const GVariantType *) "ax", NULL, NULL },
};

static gint
compare_thresholds_desc (gconstpointer a, gconstpointer b)
{
  gint64 ta = *(const gint64 *) a;
  gint64 tb = *(const gint64 *) b;

  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* Sorted largest first (earliest warning first), duplicates dropped;
 * @given NULL: the default ones. */
static void
set_thresholds (SmSession *session, const gint64 *given, gsize n)
{
  gint64 values[SM_THRESHOLDS_MAX];

  if (given != NULL)
    {
      n = MIN (n, SM_THRESHOLDS_MAX);
      if (n > 0)
        memcpy (values, given, n * sizeof values[0]);
    }
  else
    {
      n = G_N_ELEMENTS (default_thresholds);
      memcpy (values, default_thresholds, sizeof default_thresholds);
    }
  qsort (values, n, sizeof values[0], compare_thresholds_desc);

  session->n_thresholds = 0;
  for (gsize i = 0; i < n; i++)
    if (session->n_thresholds == 0 || session->thresholds[session->n_thresholds - 1] != values[i])
      session->thresholds[session->n_thresholds++] = values[i];
}

/* A normal-form copy that owns its bytes. g_variant_get_normal_form() hands
 * back the value itself when it already is normal, and a value looked up in
 * a call's options is a view into the whole message body: stored as is, every
 * session would keep its entire RegisterSession call alive. */
static GVariant *
sm_variant_detach (GVariant *value)
{
  g_autoptr (GVariant) normal = NULL;
  gsize size;
  gpointer data;

  /* A call's values are trusted trees (GDBus checked and built them):
   * serialized once, straight into the copy kept. */
  if (!g_variant_is_normal_form (value))
    value = normal = g_variant_get_normal_form (value);
  size = g_variant_get_size (value);
  data = g_malloc (MAX (size, 1));
  g_variant_store (value, data);
  return g_variant_ref_sink (
      g_variant_new_from_data (g_variant_get_type (value), data, size, TRUE, g_free, data));
}

static char *
dup_string_or (GVariant *value, const char *fallback)
{
  return g_strdup (value != NULL ? g_variant_get_string (value, NULL) : fallback);
}

/* Fills @session from options sm_options_parse() checked. */
void
sm_session_apply_options (SmSession *session, GVariant **values)
{
  session->session_type = dup_string_or (values[SM_SESSION_OPT_SESSION_TYPE], "signing");
  session->warn_before_minutes =
      values[SM_SESSION_OPT_WARN_BEFORE_MINUTES] != NULL
          ? g_variant_get_uint32 (values[SM_SESSION_OPT_WARN_BEFORE_MINUTES])
          : 5;
  session->app_id = dup_string_or (values[SM_SESSION_OPT_APP_ID], NULL);
  session->url = dup_string_or (values[SM_SESSION_OPT_URL], NULL);
  if (values[SM_SESSION_OPT_WARN_THRESHOLDS] != NULL)
    {
      gsize n = 0;
      const gint64 *list =
          g_variant_get_fixed_array (values[SM_SESSION_OPT_WARN_THRESHOLDS], &n, sizeof (gint64));

      set_thresholds (session, list, n);
    }
  else
    set_thresholds (session, NULL, 0);
  if (values[SM_SESSION_OPT_METADATA] != NULL)
    session->metadata = sm_variant_detach (values[SM_SESSION_OPT_METADATA]);
  else
    session->metadata = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
}

static char *
dup_view_or (const SmSavedVardictEntry *value, const char *fallback)
{
  return g_strdup (value->key != NULL ? (const char *) value->value : fallback);
}

/* sm_session_apply_options() from values read in place
 * (sm_options_read_saved()) of a saved session in normal form. */
void
sm_session_apply_saved (SmSession *session, const SmSavedVardictEntry *values)
{
  const SmSavedVardictEntry *minutes = &values[SM_SESSION_OPT_WARN_BEFORE_MINUTES];
  const SmSavedVardictEntry *thresholds = &values[SM_SESSION_OPT_WARN_THRESHOLDS];
  const SmSavedVardictEntry *metadata = &values[SM_SESSION_OPT_METADATA];

  session->session_type = dup_view_or (&values[SM_SESSION_OPT_SESSION_TYPE], "signing");
  session->warn_before_minutes = 5;
  if (minutes->key != NULL)
    memcpy (&session->warn_before_minutes, minutes->value, sizeof (guint32));
  session->app_id = dup_view_or (&values[SM_SESSION_OPT_APP_ID], NULL);
  session->url = dup_view_or (&values[SM_SESSION_OPT_URL], NULL);
  set_thresholds (session, thresholds->key != NULL ? (const gint64 *) thresholds->value : NULL,
                  thresholds->value_size / sizeof (gint64));
  if (metadata->key != NULL)
    {
      /* Normal form, as the whole entry is: a copy that owns its bytes. */
      gpointer data = g_malloc (MAX (metadata->value_size, 1));

      memcpy (data, metadata->value, metadata->value_size);
      session->metadata = g_variant_ref_sink (g_variant_new_from_data (
          G_VARIANT_TYPE_VARDICT, data, metadata->value_size, TRUE, g_free, data));
    }
  else
    session->metadata = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
}
