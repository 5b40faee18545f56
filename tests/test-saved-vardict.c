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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/saved-vardict/same-as-glib", test_same_as_glib);
  g_test_add_func ("/saved-vardict/damaged", test_damaged);
  return g_test_run ();
}
