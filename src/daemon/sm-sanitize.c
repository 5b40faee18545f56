/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-sanitize"

#include "sm-sanitize.h"

#include <string.h>

/* Characters that reorder or hide text: the bidi embeddings, overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069), zero-width and directional
 * marks and the BOM. */
static gboolean
is_invisible_or_bidi (gunichar c)
{
  return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)
         || (c >= 0x200B && c <= 0x200F) || c == 0x061C || c == 0xFEFF;
}

/* Controls that separate words: tab, the line breaks (CR, LF, VT, FF, NEL)
 * and the line/paragraph separators. */
static gboolean
is_break (gunichar c)
{
  return (c >= '\t' && c <= '\r') || c == 0x85 || c == 0x2028 || c == 0x2029;
}

/* A line break or tab becomes one space (a run of them, "\r\n" included,
 * one space in all), never a line break: the body's own lines ("Amount:
 * ...") must not be forgeable from inside a purpose. Every other control
 * character (ESC, BEL, DEL, C1) and the bidi and invisible characters are
 * removed. */
static void
strip (GString *out, const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (is_break (c))
        {
          if (out->len > 0 && out->str[out->len - 1] != ' ')
            g_string_append_c (out, ' ');
        }
      else if (!g_unichar_iscntrl (c) && !is_invisible_or_bidi (c))
        g_string_append_unichar (out, c);
    }
}

/* Breaks everything a notification server might turn into a link: GNOME
 * Shell links "scheme://...", "www.x" and "name.tld/..." even in escaped
 * text. A scheme's "://" becomes "[://]" (and http "hxxp"); a dot between a
 * letter or digit and a letter becomes "[.]". Amounts such as "1.5" and
 * prose such as "Mr. Smith" read unchanged. */
static char *
defang (const char *text)
{
  GString *out = g_string_sized_new (strlen (text) + 16);
  gsize len = strlen (text);

  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (g_ascii_strncasecmp (text + i, "http", 4) == 0
          && (i == 0 || !g_ascii_isalnum (text[i - 1])) && text[i + 4] != '\0'
          && (text[i + 4] == ':'
              || ((text[i + 4] == 's' || text[i + 4] == 'S') && text[i + 5] == ':')))
        {
          /* Keeps the case of the h and p: "HTTPS" → "HXXPS". */
          g_string_append_c (out, text[i]);
          g_string_append (out, g_ascii_isupper (text[i + 1]) ? "XX" : "xx");
          g_string_append_c (out, text[i + 3]);
          i += 3;
        }
      else if (strncmp (text + i, "://", 3) == 0)
        {
          g_string_append (out, "[://]");
          i += 2;
        }
      else if (c == '.' && i > 0 && g_ascii_isalnum (text[i - 1]) && g_ascii_isalpha (text[i + 1]))
        g_string_append (out, "[.]");
      else
        g_string_append_c (out, c);
    }
  return g_string_free (out, FALSE);
}

/* Longer text keeps max_chars - 1 characters and an ellipsis. */
static char *
cap (const char *text, gsize max_chars)
{
  GString *out;
  const char *end;

  if (g_utf8_strlen (text, -1) <= (glong) max_chars)
    return g_strdup (text);
  if (max_chars == 0)
    return g_strdup ("");
  end = g_utf8_offset_to_pointer (text, (glong) max_chars - 1);
  out = g_string_new_len (text, end - text);
  g_string_append (out, "…");
  return g_string_free (out, FALSE);
}

/* Escaping comes last so the cap never cuts an entity in half, and uses only
 * the five named entities (GNOME Shell shows "&#39;" literally). */
char *
sm_sanitize_text (const char *text, gsize max_chars, gboolean markup)
{
  g_autoptr (GString) stripped = g_string_new (NULL);
  g_autofree char *defanged = NULL;
  g_autofree char *capped = NULL;

  if (!g_utf8_validate (text, -1, NULL))
    text = "";
  strip (stripped, text);
  g_strstrip (stripped->str);
  defanged = defang (stripped->str);
  capped = cap (defanged, max_chars);
  if (!markup)
    return g_steal_pointer (&capped);
  return g_markup_escape_text (capped, -1);
}
