/* SPDX-License-Identifier: GPL-3.0-or-later */

/* SmSavedVardictIter reads an a{sv} on its bytes: it must see what GLib
 * sees and stop (bad) on bytes that are not a dict. (The D-Bus size of
 * such a dict, counted on its bytes too, is test-sessions'
 * /budget/dbus-size-wide.) */

#include "sm-saved-vardict.h"

#include <string.h>

static const char *const dicts[] = {
  "@a{sv} {}",
  "{'': <''>}",
  "{'wallet-id': <'wallet-7f3a'>, 'peer-count': <uint32 3>, 'amount-sat': <uint64 150000>,"
  " 'label': <'Quarterly treasury spend'>}",
  "{'y': <byte 1>, 'b': <true>, 'n': <int16 -2>, 'q': <uint16 3>, 'i': <4>, 'u': <uint32 5>,"
  " 'x': <int64 6>, 't': <uint64 7>, 'h': <handle 8>, 'd': <9.5>, 's': <'ab'>,"
  " 'o': <objectpath '/o'>, 'g': <signature 'a{sv}'>}",
  "{'b1': <true>, 'longer key': <byte 2>, 'd': <1.0>, 'bb': <false>, 'n': <int16 1>}",
  /* Not all basic: counted the long way. */
  "{'a': <'b'>, 'list': <[1, 2]>, 'v': <<'x'>>, 'z': <byte 1>}",
  "{'t': <(1, 'x')>}",
};

static GVariant *
saved (const char *text)
{
  g_autoptr (GVariant) parsed = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);
  g_autoptr (GBytes) bytes = NULL;

  g_assert_nonnull (parsed);
  bytes = g_variant_get_data_as_bytes (parsed);
  return g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, TRUE));
}

/* Keys, types and values as g_variant_get_child_value() gives them. */
static void
test_same_as_glib (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (dicts); i++)
    {
      g_autoptr (GVariant) dict = saved (dicts[i]);
      SmSavedVardictIter iter;
      SmSavedVardictEntry entry;
      gboolean bad = TRUE;
      gsize n = 0;

      g_assert_true (
          sm_saved_vardict_iter_init (&iter, g_variant_get_data (dict), g_variant_get_size (dict)));
      while (sm_saved_vardict_iter_next (&iter, &entry, &bad))
        {
          g_autoptr (GVariant) child = g_variant_get_child_value (dict, n++);
          g_autoptr (GVariant) key = g_variant_get_child_value (child, 0);
          g_autoptr (GVariant) boxed = g_variant_get_child_value (child, 1);
          g_autoptr (GVariant) value = g_variant_get_variant (boxed);
          const char *type = g_variant_get_type_string (value);

          g_assert_cmpstr (entry.key, ==, g_variant_get_string (key, NULL));
          g_assert_cmpuint (entry.type_length, ==, strlen (type));
          g_assert_cmpmem (entry.type, entry.type_length, type, strlen (type));
          g_assert_cmpmem (entry.value, entry.value_size, g_variant_get_data (value),
                           g_variant_get_size (value));
          g_assert_true (entry.variant + entry.variant_size
                         == entry.value + entry.value_size + 1 + entry.type_length);
        }
      g_assert_false (bad);
      g_assert_cmpuint (n, ==, g_variant_n_children (dict));
    }
}

/* Bytes that are not a dict (every truncation and every byte flipped of
 * one) are read within their bounds and end the walk, or pass as some dict:
 * never a read outside them (valgrind and ASan check that). */
static void
test_damaged (void)
{
  g_autoptr (GVariant) dict = saved (dicts[3]);
  gsize size = g_variant_get_size (dict);
  guint n_bad = 0;

  for (gsize cut = 0; cut <= size; cut++)
    for (gsize flip = 0; flip <= cut; flip++)
      {
        g_autofree guchar *data = g_memdup2 (g_variant_get_data (dict), MAX (cut, 1));
        SmSavedVardictIter iter;
        SmSavedVardictEntry entry;
        gboolean bad = FALSE;

        if (flip < cut)
          data[flip] ^= 0xff;
        if (!sm_saved_vardict_iter_init (&iter, data, cut))
          {
            n_bad++;
            continue;
          }
        while (sm_saved_vardict_iter_next (&iter, &entry, &bad))
          g_assert_true (entry.value + entry.value_size <= data + cut);
        n_bad += bad;
      }
  g_assert_cmpuint (n_bad, >, 0);
}

/* Dicts of the types sm_saved_vardict_is_normal() knows, which it must
 * find normal, and ones holding others, which it leaves to GLib. */
static const struct
{
  const char *text;
  gboolean known;
} normal_cases[] = {
  { "@a{sv} {}", TRUE },
  { "{'': <''>}", TRUE },
  { "{'session-id': <'s-1'>, 'expires-at': <int64 1700000000000>, 'warn-thresholds':"
    " <@ax [600000, 60000]>, 'warnings-sent': <@ax []>, 'warn-before-minutes': <uint32 5>,"
    " 'metadata': <{'wallet-id': <'w'>, 'amount': <'1 BTC'>, 'n': <uint32 2>}>,"
    " 'metadata-empty': <@a{sv} {}>, 'url': <'https://x'>}",
    TRUE },
  { "{'y': <byte 1>, 'b': <true>, 'n': <int16 -2>, 'q': <uint16 3>, 'i': <4>, 'u': <uint32 5>,"
    " 'x': <int64 6>, 't': <uint64 7>, 'h': <handle 8>, 'd': <9.5>, 's': <'ab'>}",
    TRUE },
  { "{'ay': <b'xyz'>, 'an': <@an [1, 2]>, 'ad': <[1.5]>, 'key with \u00e9': <'\u00fc'>}", TRUE },
  { "{'o': <objectpath '/o'>}", FALSE },
  { "{'g': <signature 'a{sv}'>}", FALSE },
  { "{'ab': <[true]>}", FALSE },
  { "{'as': <['x']>}", FALSE },
  { "{'v': <<'x'>>}", FALSE },
  { "{'t': <(1, 'x')>}", FALSE },
  { "{'deep': <{'deeper': <{'a': <'b'>}>}>}", FALSE },
};

/* What the daemon saves is known normal on its bytes, without GLib. */
static void
test_normal_known (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (normal_cases); i++)
    {
      g_autoptr (GVariant) dict = saved (normal_cases[i].text);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, normal_cases[i].text);
      g_assert_true (g_variant_is_normal_form (dict));
      g_assert_cmpint (
          sm_saved_vardict_is_normal (g_variant_get_data (dict), g_variant_get_size (dict)), ==,
          normal_cases[i].known);
    }
}

/* Whether GLib finds @data (@size bytes) normal, copied to aligned
 * memory and taken as untrusted. */
static gboolean
glib_normal (const guchar *data, gsize size)
{
  g_autofree guchar *copy = g_memdup2 (data, MAX (size, 1));
  g_autoptr (GVariant) value = g_variant_ref_sink (
      g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, copy, size, FALSE, NULL, NULL));

  return g_variant_is_normal_form (value);
}

/* Never normal where GLib says it is not: every truncation of each known
 * dict, and every byte of it set to each of a few values (a padding byte
 * made non-zero, an offset moved, a type changed, a NUL added to or taken
 * out of a string, UTF-8 broken). */
static void
test_normal_never_wrong (void)
{
  static const guchar values[] = {
    0x00, 0x01, 0x07, 0x08, 's', 'x', 'u', 'a', '{', 0x80, 0xc3, 0xff
  };
  guint n_normal = 0, n_not = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (normal_cases); i++)
    {
      g_autoptr (GVariant) dict = saved (normal_cases[i].text);
      const guchar *bytes = g_variant_get_data (dict);
      gsize size = g_variant_get_size (dict);

      if (!normal_cases[i].known)
        continue;
      for (gsize cut = 0; cut < size; cut++)
        if (sm_saved_vardict_is_normal (bytes, cut))
          g_assert_true (glib_normal (bytes, cut));
      for (gsize at = 0; at < size; at++)
        for (gsize v = 0; v < G_N_ELEMENTS (values); v++)
          {
            g_autofree guchar *data = g_memdup2 (bytes, size);

            if (data[at] == values[v])
              continue;
            data[at] = values[v];
            if (sm_saved_vardict_is_normal (data, size))
              {
                g_assert_true (glib_normal (data, size));
                n_normal++;
              }
            else
              n_not++;
          }
    }
  /* Both answers came up: a changed string byte can still be normal. */
  g_assert_cmpuint (n_normal, >, 0);
  g_assert_cmpuint (n_not, >, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/saved-vardict/same-as-glib", test_same_as_glib);
  g_test_add_func ("/saved-vardict/damaged", test_damaged);
  g_test_add_func ("/saved-vardict/normal-known", test_normal_known);
  g_test_add_func ("/saved-vardict/normal-never-wrong", test_normal_never_wrong);
  return g_test_run ();
}
