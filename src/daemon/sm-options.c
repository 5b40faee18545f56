/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-options"

#include "sm-options.h"

#include "sm-error.h"
#include "sm-saved-vardict.h"

#include <string.h>

static gboolean check_size (GVariant *options, GError **error);
static gboolean check_nesting (GVariant *value, guint depth, guint variants, GError **error);

/* check_nesting() of a saved a{sv} (@value a view of bytes in normal
 * form) whose values are all of basic types, done on its bytes: it nests
 * 3 levels below @depth (dict, entry, variant), 1 of them a variant, and
 * holds nothing D-Bus cannot carry. FALSE when it holds anything else or
 * that is too deep: check_nesting() then decides, with its error. */
static gboolean
saved_basic_vardict_bytes (const guchar *data, gsize size, guint depth, guint variants)
{
  SmSavedVardictIter iter;
  SmSavedVardictEntry entry;
  gboolean bad = FALSE;

  if (depth + 3 > SM_OPTIONS_MAX_DEPTH || variants + 1 > SM_OPTIONS_MAX_VARIANT_DEPTH
      || !sm_saved_vardict_iter_init (&iter, data, size))
    return FALSE;
  while (sm_saved_vardict_iter_next (&iter, &entry, &bad))
    if (!sm_saved_vardict_is_basic (entry.type, entry.type_length))
      return FALSE;
  return !bad;
}

static gboolean
saved_basic_vardict (GVariant *value, guint depth, guint variants)
{
  return g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT)
         && saved_basic_vardict_bytes (g_variant_get_data (value), g_variant_get_size (value),
                                       depth, variants);
}

/* Checks one entry of an options dict and hands its value out in @values
 * (takes @value). A key given twice counts once, the first time. */
static gboolean
take_value (const SmOptionSpec *specs,
            gsize n_specs,
            const char *key,
            GVariant *value,
            gboolean saved,
            GVariant **values,
            GError **error)
{
  gsize i = 0;

  /* Unknown keys too: the dict, the entry and the value's variant are
   * 3 levels, 1 of them a variant. */
  if (!(saved && saved_basic_vardict (value, 3, 1)) && !check_nesting (value, 3, 1, error))
    {
      g_variant_unref (value);
      return FALSE;
    }
  while (i < n_specs && strcmp (specs[i].key, key) != 0)
    i++;
  if (i == n_specs || values[i] != NULL)
    {
      g_variant_unref (value);
      return TRUE;
    }
  values[i] = value;
  if (!g_variant_is_of_type (value, specs[i].type))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: \"%s\" must be of type '%s', not '%s'", key,
                   (const char *) specs[i].type, g_variant_get_type_string (value));
      return FALSE;
    }
  return specs[i].check == NULL || specs[i].check (key, value, error);
}

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

  if (!check_size (options, error))
    return FALSE;
  memset (values, 0, n_specs * sizeof *values);
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    if (!take_value (specs, n_specs, key, value, FALSE, values, error))
      {
        sm_options_clear (values, n_specs);
        return FALSE;
      }
  return TRUE;
}

/* A value of a saved entry, @entry's value: a view of @dict's bytes. */
static GVariant *
saved_value (GVariant *dict, const SmSavedVardictEntry *entry)
{
  return g_variant_ref_sink (
      g_variant_new_from_data ((const GVariantType *) entry->type, entry->value, entry->value_size,
                               TRUE, (GDestroyNotify) g_variant_unref, g_variant_ref (dict)));
}

/* sm_options_parse() for a saved entry (a dict in normal form, as the
 * store reads them back): the dict's framing is read directly, each value
 * made once as a view of its bytes, instead of four GVariants per entry
 * through g_variant_get_child_value(), which was most of restoring 10 000
 * sessions. The checks are the same ones. */
gboolean
sm_options_parse_saved (const SmOptionSpec *specs,
                        gsize n_specs,
                        GVariant *options,
                        GVariant **values,
                        GError **error)
{
  SmSavedVardictIter iter;
  SmSavedVardictEntry entry;
  gboolean bad = FALSE;

  g_return_val_if_fail (g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), FALSE);

  if (!g_variant_is_normal_form (options))
    return sm_options_parse (specs, n_specs, options, values, error);
  if (!check_size (options, error))
    return FALSE;
  memset (values, 0, n_specs * sizeof *values);
  if (!sm_saved_vardict_iter_init (&iter, g_variant_get_data (options),
                                   g_variant_get_size (options)))
    bad = TRUE;
  while (!bad && sm_saved_vardict_iter_next (&iter, &entry, &bad))
    if (!take_value (specs, n_specs, entry.key, saved_value (options, &entry), TRUE, values, error))
      {
        sm_options_clear (values, n_specs);
        return FALSE;
      }
  if (bad)
    {
      /* Normal form cannot get here: read it the long way. */
      sm_options_clear (values, n_specs);
      return sm_options_parse (specs, n_specs, options, values, error);
    }
  return TRUE;
}

static gboolean check_type_depth (const char *type, gsize length, guint depth, GError **error);

/* take_value()'s nesting check of @entry, a value of the saved dict @dict:
 * on its bytes where its type or its bytes say it all. */
static gboolean
check_view_nesting (GVariant *dict, const SmSavedVardictEntry *entry, GError **error)
{
  const char *type = entry->type;
  gsize length = entry->type_length;
  g_autoptr (GVariant) value = NULL;

  if (memchr (type, 'v', length) == NULL && memchr (type, 'm', length) == NULL
      && g_strstr_len (type, (gssize) length, "()") == NULL)
    return check_type_depth (type, length, 3, error);
  if (length == 5 && memcmp (type, "a{sv}", 5) == 0
      && saved_basic_vardict_bytes (entry->value, entry->value_size, 3, 1))
    return TRUE;
  value = saved_value (dict, entry);
  return check_nesting (value, 3, 1, error);
}

/* take_value() on a view: the same checks, the same errors. */
static gboolean
take_view (const SmOptionSpec *specs,
           gsize n_specs,
           GVariant *dict,
           const SmSavedVardictEntry *entry,
           SmSavedVardictEntry *values,
           GError **error)
{
  const char *type;
  gsize i = 0;

  if (!check_view_nesting (dict, entry, error))
    return FALSE;
  while (i < n_specs && strcmp (specs[i].key, entry->key) != 0)
    i++;
  if (i == n_specs || values[i].key != NULL)
    return TRUE;
  values[i] = *entry;
  type = g_variant_type_peek_string (specs[i].type);
  if (g_variant_type_get_string_length (specs[i].type) != entry->type_length
      || memcmp (type, entry->type, entry->type_length) != 0)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: \"%s\" must be of type '%s', not '%.*s'", entry->key, type,
                   (int) entry->type_length, entry->type);
      return FALSE;
    }
  if (specs[i].check_view != NULL)
    return specs[i].check_view (entry->key, entry, error);
  if (specs[i].check != NULL)
    {
      g_autoptr (GVariant) value = saved_value (dict, entry);

      return specs[i].check (entry->key, value, error);
    }
  return TRUE;
}

/* sm_options_parse_saved() without a GVariant per value, for a dict in
 * normal form: each known key's value as a view of @options' bytes
 * (@values[i].key NULL when absent), checked as that function checks it.
 * Values are made, read and dropped at once when restoring: made as
 * GVariants they were most of restoring a session. */
gboolean
sm_options_read_saved (const SmOptionSpec *specs,
                       gsize n_specs,
                       GVariant *options,
                       SmSavedVardictEntry *values,
                       GError **error)
{
  SmSavedVardictIter iter;
  SmSavedVardictEntry entry;
  gboolean bad = FALSE;

  g_return_val_if_fail (g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), FALSE);
  g_return_val_if_fail (g_variant_is_normal_form (options), FALSE);

  memset (values, 0, n_specs * sizeof *values);
  if (!check_size (options, error))
    return FALSE;
  if (!sm_saved_vardict_iter_init (&iter, g_variant_get_data (options),
                                   g_variant_get_size (options)))
    bad = TRUE;
  while (!bad && sm_saved_vardict_iter_next (&iter, &entry, &bad))
    if (!take_view (specs, n_specs, options, &entry, values, error))
      return FALSE;
  /* The framing of a dict in normal form always reads. */
  if (bad)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "options: cannot be read");
      return FALSE;
    }
  return TRUE;
}

/* How many containers a value of @type nests (a variant counts as one,
 * whatever it holds), or any number above @limit once it is known to be
 * too deep. A type string can be long: no recursion, no more state than
 * @limit levels. */
static guint
type_depth (const char *type, gsize length, guint limit)
{
  guint pending[SM_OPTIONS_MAX_DEPTH + 1]; /* arrays around each open bracket */
  guint open = 0, arrays = 0, base = 0, max = 0;

  g_return_val_if_fail (limit <= SM_OPTIONS_MAX_DEPTH, G_MAXUINT);

  for (const char *p = type; p < type + length && max <= limit; p++)
    switch (*p)
      {
      case 'a':
      case 'm':
        arrays++;
        max = MAX (max, base + arrays);
        break;
      case '(':
      case '{':
        max = MAX (max, base + arrays + 1);
        if (max > limit)
          break;
        pending[open++] = arrays;
        base += arrays + 1;
        arrays = 0;
        break;
      case ')':
      case '}':
        if (open > 0)
          base -= pending[--open] + 1;
        arrays = 0;
        break;
      case 'v':
        max = MAX (max, base + arrays + 1);
        arrays = 0;
        break;
      default:
        arrays = 0;
        break;
      }
  return max;
}

static gboolean
too_deep (const char *what, guint limit, GError **error)
{
  g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
               "options: %s nested more than %u levels deep", what, limit);
  return FALSE;
}

/* Whether a value of @type (@length bytes of type string), inside @depth
 * containers, nests no deeper than allowed; for a type without variants
 * the type string says it all. */
static gboolean
check_type_depth (const char *type, gsize length, guint depth, GError **error)
{
  guint room = SM_OPTIONS_MAX_DEPTH - MIN (depth, SM_OPTIONS_MAX_DEPTH);

  if (depth + type_depth (type, length, room) > SM_OPTIONS_MAX_DEPTH)
    return too_deep ("containers are", SM_OPTIONS_MAX_DEPTH, error);
  return TRUE;
}

/* GVariant has two kinds of value D-Bus cannot carry: maybe types and the
 * empty tuple. They cannot arrive in a call, but a hand-made state file can
 * hold them, and one of them in a session would make every later
 * GetSessions reply impossible to send. */
static gboolean
check_dbus_type (const char *type, GError **error)
{
  if (strchr (type, 'm') == NULL && strstr (type, "()") == NULL)
    return TRUE;
  g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
               "options: a value of type \"%s\" cannot be sent over D-Bus", type);
  return FALSE;
}

/* @value sits inside @depth containers, @variants of them variants. Only
 * what holds variants is walked, and of a tuple or dict entry only the
 * members that hold variants: below that the type says how deep it goes,
 * so a large array of plain values costs nothing. */
static gboolean
check_nesting (GVariant *value, guint depth, guint variants, GError **error)
{
  const char *type = g_variant_get_type_string (value);

  if (!check_dbus_type (type, error))
    return FALSE;
  if (strchr (type, 'v') == NULL)
    return check_type_depth (type, strlen (type), depth, error);
  if (++depth > SM_OPTIONS_MAX_DEPTH)
    return too_deep ("containers are", SM_OPTIONS_MAX_DEPTH, error);
  if (type[0] == 'v')
    {
      g_autoptr (GVariant) child = NULL;

      if (++variants > SM_OPTIONS_MAX_VARIANT_DEPTH)
        return too_deep ("variants are", SM_OPTIONS_MAX_VARIANT_DEPTH, error);
      child = g_variant_get_variant (value);
      return check_nesting (child, depth, variants, error);
    }
  if (type[0] == '(' || type[0] == '{')
    {
      const GVariantType *member = g_variant_type_first (g_variant_get_type (value));

      for (gsize i = 0; member != NULL; i++, member = g_variant_type_next (member))
        {
          const char *member_type = g_variant_type_peek_string (member);
          gsize length = g_variant_type_get_string_length (member);
          g_autoptr (GVariant) child = NULL;

          if (memchr (member_type, 'v', length) == NULL)
            {
              if (!check_type_depth (member_type, length, depth, error))
                return FALSE;
              continue;
            }
          child = g_variant_get_child_value (value, i);
          if (!check_nesting (child, depth, variants, error))
            return FALSE;
        }
      return TRUE;
    }
  for (gsize i = 0, n = g_variant_n_children (value); i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      if (!check_nesting (child, depth, variants, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_size (GVariant *options, GError **error)
{
  gsize size = g_variant_get_size (options);

  if (size > SM_OPTIONS_MAX_BYTES)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "options: are %" G_GSIZE_FORMAT " bytes serialized, at most %d are allowed",
                   size, SM_OPTIONS_MAX_BYTES);
      return FALSE;
    }
  return TRUE;
}

/* The caps on a whole options dict, whatever its keys: its size as
 * serialized, and how deep variants (and containers) nest in it.
 * sm_options_parse() checks them too, in its one pass. */
gboolean
sm_options_check_limits (GVariant *options, GError **error)
{
  return check_size (options, error) && check_nesting (options, 0, 0, error);
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
