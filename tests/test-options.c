/* SPDX-License-Identifier: GPL-3.0-or-later */

/* sm_options_parse_saved() and sm_options_read_saved() read a saved
 * entry's framing themselves: they must accept, refuse and hand out
 * exactly what sm_options_parse() does. */

#include "sm-error.h"
#include "sm-options.h"

#include <string.h>

static gboolean
refuse_bad (const char *key, GVariant *value, GError **error)
{
  if (g_strcmp0 (g_variant_get_string (value, NULL), "bad") != 0)
    return TRUE;
  g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "options: \"%s\" is bad", key);
  return FALSE;
}

static gboolean
refuse_bad_view (const char *key, const SmSavedVardictEntry *value, GError **error)
{
  if (strcmp ((const char *) value->value, "bad") != 0)
    return TRUE;
  g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "options: \"%s\" is bad", key);
  return FALSE;
}

/* A check with no view form: sm_options_read_saved() makes a GVariant. */
static gboolean
refuse_long (const char *key, GVariant *value, GError **error)
{
  if (g_variant_n_children (value) <= 4)
    return TRUE;
  g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "options: \"%s\" is too long", key);
  return FALSE;
}

enum
{
  KEY_TEXT,
  KEY_NUMBER,
  KEY_COUNT,
  KEY_LIST,
  KEY_DICT,
  N_KEYS
};

static const SmOptionSpec specs[N_KEYS] = {
  [KEY_TEXT] = { "text", G_VARIANT_TYPE_STRING, refuse_bad, refuse_bad_view },
  [KEY_NUMBER] = { "number", G_VARIANT_TYPE_INT64, NULL, NULL },
  [KEY_COUNT] = { "count", G_VARIANT_TYPE_UINT32, NULL, NULL },
  [KEY_LIST] = { "list", (const GVariantType *) "ax", refuse_long, NULL },
  [KEY_DICT] = { "dict", G_VARIANT_TYPE_VARDICT, NULL, NULL },
};

/* sm_options_read_saved() on @saved (normal form): the same verdict and
 * error as sm_options_parse(), and views of the same values. */
static void
check_same_views (GVariant *saved, gboolean ok, const GError *error, GVariant **values)
{
  g_autoptr (GError) view_error = NULL;
  SmSavedVardictEntry views[N_KEYS];

  g_assert_cmpint (sm_options_read_saved (specs, N_KEYS, saved, views, &view_error), ==, ok);
  if (!ok)
    {
      g_assert_error (view_error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      g_assert_cmpstr (error->message, ==, view_error->message);
      return;
    }
  g_assert_no_error (view_error);
  for (guint i = 0; i < N_KEYS; i++)
    {
      const char *type;

      g_assert_true ((values[i] == NULL) == (views[i].key == NULL));
      if (values[i] == NULL)
        continue;
      type = g_variant_get_type_string (values[i]);
      g_assert_cmpstr (views[i].key, ==, specs[i].key);
      g_assert_cmpmem (views[i].type, views[i].type_length, type, strlen (type));
      g_assert_cmpmem (views[i].value, views[i].value_size, g_variant_get_data (values[i]),
                       g_variant_get_size (values[i]));
    }
}

/* Both parsers on @options (the saved one on a serialized copy, as the
 * store reads it back): the same verdict, error and values; and the
 * reader of views on its normal form. */
static gboolean
check_same (GVariant *options)
{
  g_autoptr (GBytes) bytes = g_variant_get_data_as_bytes (options);
  g_autoptr (GVariant) saved =
      g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  g_autoptr (GError) error = NULL, saved_error = NULL;
  GVariant *values[N_KEYS], *saved_values[N_KEYS];
  gboolean ok, saved_ok;

  ok = sm_options_parse (specs, N_KEYS, options, values, &error);
  saved_ok = sm_options_parse_saved (specs, N_KEYS, saved, saved_values, &saved_error);
  g_assert_cmpint (ok, ==, saved_ok);
  {
    g_autoptr (GVariant) normal = g_variant_get_normal_form (saved);

    check_same_views (normal, ok, error, values);
  }
  if (!ok)
    {
      g_assert_error (saved_error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      g_assert_cmpstr (error->message, ==, saved_error->message);
      return FALSE;
    }
  for (guint i = 0; i < N_KEYS; i++)
    {
      g_assert_true ((values[i] == NULL) == (saved_values[i] == NULL));
      if (values[i] != NULL)
        {
          g_assert_false (g_variant_is_floating (saved_values[i]));
          g_assert_true (g_variant_equal (values[i], saved_values[i]));
        }
    }
  sm_options_clear (values, N_KEYS);
  sm_options_clear (saved_values, N_KEYS);
  return TRUE;
}

static void
test_same_verdicts (void)
{
  static const char *const cases[] = {
    "@a{sv} {}",
    "{'text': <'hello'>}",
    ("{'text': <'hello'>, 'number': <int64 -5>, 'count': <uint32 7>, 'list': <@ax [1, 2, 3]>,"
     " 'dict': <{'a': <'b'>, 'c': <<<@ax []>>>}>}"),
    /* Unknown keys, of any type, are left out. */
    "{'other': <(1, 'x', [<2>])>, 'text': <'t'>, 'z': <@a{sv} {}>}",
    /* A key given twice counts the first time. */
    "{'text': <'first'>, 'text': <'second'>, 'text': <'bad'>}",
    /* Empty values, empty and one-byte keys. */
    "{'': <''>, 'x': <@ax []>, 'text': <''>}",
    /* A dict of every basic type (checked on its bytes), then one holding
     * more than basic values (the long way). */
    ("{'dict': <{'y': <byte 1>, 'b': <true>, 'n': <int16 -2>, 'q': <uint16 3>, 'i': <4>,"
     " 'u': <uint32 5>, 'x': <int64 6>, 't': <uint64 7>, 'h': <handle 8>, 'd': <9.5>,"
     " 's': <''>, 'o': <objectpath '/o'>, 'g': <signature 'a{sv}'>}>}"),
    "{'dict': <{'a': <'b'>, 'c': <(1, <2>)>, 'd': <{'e': <'f'>}>}>}",
    /* Refusals: wrong type, a check, maybe types, too deep. */
    "{'number': <int32 1>}",
    "{'text': <'bad'>}",
    "{'count': <uint32 1>, 'text': <'ok'>, 'list': <['x']>}",
    "{'other': <@ms nothing>}",
    "{'other': <@mv nothing>, 'text': <'x'>}",
    "{'dict': <{'a': <'b'>, 'm': <@ms nothing>}>}",
    "{'dict': <{'a': <'b'>, 'e': <()>}>}",
    "{'list': <@ax [1, 2, 3, 4, 5]>}",
    "{'other': <{'a': <{'b': <()>}>}>}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) options =
          g_variant_parse (G_VARIANT_TYPE_VARDICT, cases[i], NULL, NULL, &error);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i]);
      g_assert_no_error (error);
      /* The first 8 are accepted. */
      g_assert_cmpint (check_same (options), ==, i < 8);
    }
}

/* Too deep: variants in variants, containers in containers (and both
 * just within the limits). */
static void
test_depth (void)
{
  static const struct
  {
    const char *open, *close;
    guint depth;
    gboolean ok;
  } cases[] = {
    { "<", ">", 15, TRUE }, { "<", ">", 17, FALSE }, { "[", "]", 58, TRUE }, { "[", "]", 62, FALSE }
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GString *text = g_string_new ("{'other': <");
      g_autoptr (GVariant) options = NULL;
      g_autofree char *str = NULL;

      for (guint d = 0; d < cases[i].depth; d++)
        g_string_append (text, cases[i].open);
      g_string_append (text, "1");
      for (guint d = 0; d < cases[i].depth; d++)
        g_string_append (text, cases[i].close);
      g_string_append (text, ">}");
      str = g_string_free (text, FALSE);
      options = g_variant_parse (G_VARIANT_TYPE_VARDICT, str, NULL, NULL, NULL);
      g_assert_nonnull (options);
      g_assert_cmpint (check_same (options), ==, cases[i].ok);
    }
}

/* Framing offsets of 1, 2 and 4 bytes: dicts past 255 and 65 535 bytes,
 * then one past the size cap. */
static void
test_sizes (void)
{
  static const gsize sizes[] = { 200, 300, 70000, 130 * 1024 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *filler = g_strnfill (sizes[i], 'f');
      GVariantBuilder builder;
      g_autoptr (GVariant) options = NULL;

      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "filler", g_variant_new_string (filler));
      g_variant_builder_add (&builder, "{sv}", "number", g_variant_new_int64 (42));
      for (guint k = 0; k < 20; k++)
        g_variant_builder_add (&builder, "{sv}", "text", g_variant_new_string ("x"));
      options = g_variant_ref_sink (g_variant_builder_end (&builder));
      /* The last is past SM_OPTIONS_MAX_BYTES. */
      g_assert_cmpint (check_same (options), ==, sizes[i] < SM_OPTIONS_MAX_BYTES);
    }
}

/* {'text': <'hello'>, 'number': <int64 5>} with the last framing offset
 * of the dict set to @last, over its own copy of the bytes; @trusted as
 * g_variant_new_from_data() takes it. */
static GVariant *
damaged_dict (guint8 last, gboolean trusted)
{
  g_autoptr (GVariant) good =
      g_variant_ref_sink (g_variant_new_parsed ("{'text': <'hello'>, 'number': <int64 5>}"));
  gsize size = g_variant_get_size (good);
  guint8 *data = g_memdup2 (g_variant_get_data (good), size);

  data[size - 1] = last;
  return g_variant_ref_sink (
      g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, data, size, trusted, g_free, data));
}

/* Bytes not in normal form (a framing offset out of range) are read the
 * long way, as sm_options_parse() reads them. */
static void
test_not_normal (void)
{
  /* The dict's last framing offset points past its end. */
  g_autoptr (GVariant) bad = damaged_dict (0xff, FALSE);
  GVariant *values[N_KEYS];

  g_assert_false (g_variant_is_normal_form (bad));
  g_assert_true (sm_options_parse_saved (specs, N_KEYS, bad, values, NULL));
  sm_options_clear (values, N_KEYS);
  g_assert_true (check_same (bad));
}

/* sm_options_read_saved() trusts the normal form it is given: bytes
 * wrongly marked trusted are still read within their bounds and refused
 * when their framing does not read. */
static void
test_views_of_bad_framing (void)
{
  /* The dict's last framing offset points past its end; then the second
   * entry's end moved before the first's. */
  g_autoptr (GVariant) bad = damaged_dict (0xff, TRUE);
  g_autoptr (GVariant) cut = damaged_dict (0x02, TRUE);
  g_autoptr (GError) error = NULL, cut_error = NULL;
  SmSavedVardictEntry views[N_KEYS];

  g_assert_false (sm_options_read_saved (specs, N_KEYS, bad, views, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
  g_assert_cmpstr (error->message, ==, "options: cannot be read");
  g_assert_false (sm_options_read_saved (specs, N_KEYS, cut, views, &cut_error));
  g_assert_error (cut_error, SM_ERROR, SM_ERROR_INVALID_ARGS);
}

/* A value handed out keeps its bytes alive, not a copy of them. */
static void
test_values_outlive (void)
{
  GVariant *values[N_KEYS];
  GVariant *options = g_variant_ref_sink (
      g_variant_new_parsed ("{'dict': <{'k': <'v'>}>, 'list': <@ax [7, 8]>, 'text': <'kept'>}"));
  gsize n = 0;
  const gint64 *list;

  g_variant_get_data (options);
  g_assert_true (sm_options_parse_saved (specs, N_KEYS, options, values, NULL));
  g_variant_unref (options);
  g_assert_cmpstr (g_variant_get_string (values[KEY_TEXT], NULL), ==, "kept");
  list = g_variant_get_fixed_array (values[KEY_LIST], &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (list[1], ==, 8);
  g_assert_cmpuint (g_variant_n_children (values[KEY_DICT]), ==, 1);
  sm_options_clear (values, N_KEYS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  sm_error_quark ();

  g_test_add_func ("/options/saved/same-verdicts", test_same_verdicts);
  g_test_add_func ("/options/saved/depth", test_depth);
  g_test_add_func ("/options/saved/sizes", test_sizes);
  g_test_add_func ("/options/saved/not-normal", test_not_normal);
  g_test_add_func ("/options/saved/values-outlive", test_values_outlive);
  g_test_add_func ("/options/saved/views-of-bad-framing", test_views_of_bad_framing);
  return g_test_run ();
}
