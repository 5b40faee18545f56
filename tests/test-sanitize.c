/* SPDX-License-Identifier: GPL-3.0-or-later */

#include "sm-sanitize.h"

#include <string.h>

static void
assert_sanitized (const char *in, gsize max, gboolean markup, const char *expected)
{
  g_autofree char *out = sm_sanitize_text (in, max, markup);

  g_assert_cmpstr (out, ==, expected);
}

static void
test_punctuation_verbatim (void)
{
  assert_sanitized ("O'Brien & Sons <Ltd>", 64, FALSE, "O'Brien & Sons <Ltd>");
  /* Only the five named entities: GNOME Shell shows "&#39;" literally. */
  assert_sanitized ("O'Brien & Sons <Ltd> \"x\"", 64, TRUE,
                    "O&apos;Brien &amp; Sons &lt;Ltd&gt; &quot;x&quot;");
  assert_sanitized ("1.5 BTC", 64, TRUE, "1.5 BTC");
  assert_sanitized ("Mr. Smith", 64, FALSE, "Mr. Smith");
}

static void
test_control_and_bidi_removed (void)
{
  assert_sanitized ("a\x01"
                    "b\x7f"
                    "c",
                    64, FALSE, "abc");
  assert_sanitized ("line\nbreak\ttab", 64, FALSE, "line break tab");
  assert_sanitized ("\xe2\x80\xae"
                    "evil"
                    "\xe2\x80\xac",
                    64, FALSE, "evil");
  for (gunichar c = 0x202A; c <= 0x202E; c++)
    {
      char in[16] = "x";
      g_autofree char *out = NULL;

      g_unichar_to_utf8 (c, in + 1);
      out = sm_sanitize_text (in, 64, FALSE);
      g_assert_cmpstr (out, ==, "x");
    }
  for (gunichar c = 0x2066; c <= 0x2069; c++)
    {
      char in[16] = "y";
      g_autofree char *out = NULL;

      g_unichar_to_utf8 (c, in + 1);
      out = sm_sanitize_text (in, 64, FALSE);
      g_assert_cmpstr (out, ==, "y");
    }
  /* Zero-width characters cannot hide a link from the defanging. */
  assert_sanitized ("evil.\xe2\x80\x8b"
                    "example",
                    64, FALSE, "evil[.]example");
}

/* Every control character a peer may send (each C0 and C1 one, DEL) and
 * each bidi override or isolate, in the middle of text: the text around it
 * survives, the character never does. Breaks become one space. */
static void
test_every_control_character (void)
{
  for (gunichar c = 1; c < 0xA0; c++)
    {
      char in[16] = "a";
      gsize n;
      g_autofree char *out = NULL;
      gboolean is_break = (c >= '\t' && c <= '\r') || c == 0x85;

      if (c >= 0x20 && c < 0x7F)
        continue;
      n = 1 + (gsize) g_unichar_to_utf8 (c, in + 1);
      in[n] = 'b';
      in[n + 1] = '\0';
      for (int markup = 0; markup <= 1; markup++)
        {
          g_clear_pointer (&out, g_free);
          out = sm_sanitize_text (in, 64, markup);
          g_assert_cmpstr (out, ==, is_break ? "a b" : "ab");
        }
    }
}

/* What a newline in a purpose becomes: a space, also with markup, so a peer
 * cannot forge a line of the body ("Amount: ..."). */
static void
test_breaks_become_one_space (void)
{
  assert_sanitized ("Rent\nfor March", 200, FALSE, "Rent for March");
  assert_sanitized ("Rent\nfor March", 200, TRUE, "Rent for March");
  assert_sanitized ("Rent\r\nfor\n\n\tMarch", 200, FALSE, "Rent for March");
  assert_sanitized ("Rent \nfor", 200, FALSE, "Rent for");
  assert_sanitized ("\n\tRent\n", 200, FALSE, "Rent");
  assert_sanitized ("Rent\nAmount: 0.001 BTC", 200, FALSE, "Rent Amount: 0.001 BTC");
  assert_sanitized ("a\xe2\x80\xa8"
                    "b\xe2\x80\xa9"
                    "c",
                    200, FALSE, "a b c");
  assert_sanitized ("\x1b[31mred\x1b[0m\x07", 64, FALSE, "[31mred[0m");
  assert_sanitized ("\t\n\x1b\x07", 64, TRUE, "");
}

static void
test_urls_defanged (void)
{
  assert_sanitized ("https://evil.example/pay", 64, FALSE, "hxxps[://]evil[.]example/pay");
  assert_sanitized ("HTTP://EVIL.EXAMPLE", 64, FALSE, "HXXP[://]EVIL[.]EXAMPLE");
  assert_sanitized ("ftp://x.org", 64, FALSE, "ftp[://]x[.]org");
  assert_sanitized ("visit www.evil.example now", 64, FALSE, "visit www[.]evil[.]example now");
  assert_sanitized ("evil.example/x", 64, FALSE, "evil[.]example/x");
  assert_sanitized ("<a href=\"https://x.io\">y</a>", 200, TRUE,
                    "&lt;a href=&quot;hxxps[://]x[.]io&quot;&gt;y&lt;/a&gt;");
}

static void
test_length_capped (void)
{
  g_autofree char *long_text = g_strnfill (10240, 'A');
  g_autofree char *out = sm_sanitize_text (long_text, SM_NICKNAME_MAX_CHARS, FALSE);

  g_assert_cmpint (g_utf8_strlen (out, -1), ==, SM_NICKNAME_MAX_CHARS);
  g_assert_true (g_str_has_suffix (out, "…"));
  assert_sanitized ("abcdef", 6, FALSE, "abcdef");
  assert_sanitized ("abcdefg", 6, FALSE, "abcde…");
  /* Characters, not bytes: multibyte text is never cut mid-character. */
  assert_sanitized ("äöüäöüä", 6, FALSE, "äöüäö…");
  /* The cap applies before escaping: an entity is never cut in half. */
  assert_sanitized ("&&&&&&&", 4, TRUE, "&amp;&amp;&amp;…");
}

static void
test_invalid_utf8 (void)
{
  assert_sanitized ("bad\xff", 64, FALSE, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sanitize/punctuation-verbatim", test_punctuation_verbatim);
  g_test_add_func ("/sanitize/control-and-bidi-removed", test_control_and_bidi_removed);
  g_test_add_func ("/sanitize/every-control-character", test_every_control_character);
  g_test_add_func ("/sanitize/breaks-become-one-space", test_breaks_become_one_space);
  g_test_add_func ("/sanitize/urls-defanged", test_urls_defanged);
  g_test_add_func ("/sanitize/length-capped", test_length_capped);
  g_test_add_func ("/sanitize/invalid-utf8", test_invalid_utf8);
  return g_test_run ();
}
