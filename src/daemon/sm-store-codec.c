/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store.h"
#include "sm-store-codec.h"

#include <string.h>

/* An entry is kept as "base64:" and its serialized GVariant bytes: exact
 * for every type (a 'u' stays a 'u', NaN and subnormal doubles survive) and
 * some 50 times faster to read back than g_variant_print() text, which
 * earlier versions wrote and which is still read. */
#define SM_BINARY_PREFIX "base64:"

/* Text outside quotes nests at most @max_depth deep: checked before a
 * recursive parser sees the data. */
gboolean
sm_store_check_nesting (const char *data, gsize length, guint max_depth, GError **error)
{
  guint depth = 0;
  char quote = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (quote != 0)
        {
          if (c == '\\')
            i++;
          else if (c == quote)
            quote = 0;
          continue;
        }
      if (c == '"' || c == '\'')
        quote = c;
      else if (c == '{' || c == '[' || c == '(' || c == '<')
        {
          if (++depth > max_depth)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "nested more than %u levels deep at byte %" G_GSIZE_FORMAT, max_depth,
                           i);
              return FALSE;
            }
        }
      else if ((c == '}' || c == ']' || c == ')' || c == '>') && depth > 0)
        depth--;
    }
  return TRUE;
}

static void
append_base64 (GString *out, const guint8 *data, gsize length)
{
  gsize start = out->len;
  gint state = 0, save = 0;
  gsize n;

  g_string_set_size (out, start + (length / 3 + 1) * 4 + 4);
  n = g_base64_encode_step (data, length, FALSE, out->str + start, &state, &save);
  n += g_base64_encode_close (FALSE, out->str + start + n, &state, &save);
  g_string_set_size (out, start + n);
}

/* Appends the entry as a JSON string; @scratch is reused between calls. */
void
sm_store_append_entry (GString *out, GVariant *entry, GByteArray *scratch)
{
  gsize size = g_variant_get_size (entry);

  g_byte_array_set_size (scratch, (guint) size);
  g_variant_store (entry, scratch->data);
  g_string_append (out, "\"" SM_BINARY_PREFIX);
  append_base64 (out, scratch->data, size);
  g_string_append_c (out, '"');
}

/* Ids are UTF-8 (D-Bus strings): only quotes, backslashes and control
 * characters need escaping. */
void
sm_store_append_json_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
        }
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

/* CRC-32C (reflected polynomial 0x82F63B78), as in iSCSI and ext4, eight
 * bytes per step ("slicing by 8": table k holds the CRC of a byte followed
 * by k zero bytes): some forty lines instead of a dependency on zlib, and
 * about five times faster than a byte at a time, which showed in a burst
 * of warnings (one record each). */
static const guint32 *
crc32c_tables (void)
{
  static guint32 tables[8][256];
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;

          for (int k = 0; k < 8; k++)
            c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
          tables[0][i] = c;
        }
      for (guint32 i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
          tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xff];
      g_once_init_leave (&initialized, 1);
    }
  return &tables[0][0];
}

guint32
sm_store_crc32c (guint32 crc, const void *data, gsize length)
{
  const guint32 *t = crc32c_tables ();
  const guint8 *p = data;
  gsize i = 0;

  crc = ~crc;
  for (; i + 8 <= length; i += 8)
    {
      /* Byte by byte, so that the host's byte order does not matter. */
      guint32 lo = crc
                   ^ ((guint32) p[i] | (guint32) p[i + 1] << 8 | (guint32) p[i + 2] << 16
                      | (guint32) p[i + 3] << 24);

      crc = t[7 * 256 + (lo & 0xff)] ^ t[6 * 256 + ((lo >> 8) & 0xff)]
            ^ t[5 * 256 + ((lo >> 16) & 0xff)] ^ t[4 * 256 + (lo >> 24)] ^ t[3 * 256 + p[i + 4]]
            ^ t[2 * 256 + p[i + 5]] ^ t[256 + p[i + 6]] ^ t[p[i + 7]];
    }
  for (; i < length; i++)
    crc = t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* @out holds a JSON text from @json_start on: puts the record's header in
 * front of it and the newline after it. */
void
sm_store_frame_record (GString *out, gsize json_start)
{
  const char *json = out->str + json_start;
  gsize length = out->len - json_start;
  char header[32];
  int n;

  n = g_snprintf (header, sizeof header, "%08x %" G_GSIZE_FORMAT " ",
                  sm_store_crc32c (0, json, length), length);
  g_string_insert_len (out, (gssize) json_start, header, n);
  g_string_append_c (out, '\n');
}

/* Checks one record (@line without its newline) and returns where its JSON
 * text starts. A line that starts with '{' is a record of the earlier
 * format, plain JSON without a checksum: it is returned as it is. */
const char *
sm_store_unframe_record (const char *line, gsize length, GError **error)
{
  guint32 crc = 0;
  guint64 json_length = 0;
  gsize i;

  if (length > 0 && line[0] == '{')
    return line;
  for (i = 0; i < 8 && i < length && g_ascii_isxdigit (line[i]); i++)
    crc = crc << 4 | (guint32) g_ascii_xdigit_value (line[i]);
  if (i != 8 || i >= length || line[i] != ' ')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no record header");
      return NULL;
    }
  for (i++; i < length && g_ascii_isdigit (line[i]) && json_length < G_MAXSIZE / 16; i++)
    json_length = json_length * 10 + (guint64) (line[i] - '0');
  if (i >= length || line[i] != ' ' || line[i - 1] == ' ')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "no record length");
      return NULL;
    }
  i++;
  if (json_length != length - i)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the record holds %" G_GSIZE_FORMAT " bytes, its header says %" G_GUINT64_FORMAT,
                   length - i, json_length);
      return NULL;
    }
  if (sm_store_crc32c (0, line + i, length - i) != crc)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "checksum mismatch");
      return NULL;
    }
  return line + i;
}

char *
sm_store_entry_to_text (GVariant *entry)
{
  g_autoptr (GByteArray) scratch = g_byte_array_new ();
  GString *out = g_string_new (NULL);

  sm_store_append_entry (out, entry, scratch);
  /* Without the JSON quotes. */
  g_string_truncate (out, out->len - 1);
  g_string_erase (out, 0, 1);
  return g_string_free (out, FALSE);
}

/* GLib's text parser hands its strings straight to g_variant_new_string(),
 * which fails with a critical (not an error) on invalid UTF-8: the text
 * (json-glib lets some through from bad escapes) and what a \\u or \\U
 * escape names (a surrogate, a code point past U+10FFFF) are checked first. */
static gboolean
check_text (const char *text, GError **error)
{
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the entry is not valid UTF-8");
      return FALSE;
    }
  for (const char *p = strchr (text, '\\'); p != NULL; p = strchr (p, '\\'))
    {
      guint digits = p[1] == 'u' ? 4 : p[1] == 'U' ? 8 : 0;
      gunichar c = 0;
      guint i;

      if (digits == 0)
        {
          p += p[1] != '\0' ? 2 : 1;
          continue;
        }
      for (i = 0; i < digits && g_ascii_isxdigit (p[2 + i]); i++)
        c = c * 16 + (gunichar) g_ascii_xdigit_value (p[2 + i]);
      if (i == digits && (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "the entry escapes an invalid character U+%X", c);
          return FALSE;
        }
      p += 2 + i;
    }
  return TRUE;
}

GVariant *
sm_store_entry_from_text (const char *text, GError **error)
{
  if (g_str_has_prefix (text, SM_BINARY_PREFIX))
    {
      gsize length = 0;
      guchar *data = g_base64_decode (text + strlen (SM_BINARY_PREFIX), &length);
      g_autoptr (GBytes) bytes = g_bytes_new_take (data, length);
      g_autoptr (GVariant) value = g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE);

      /* Untrusted bytes: the normal form is safe to walk whatever they hold. */
      return g_variant_get_normal_form (value);
    }
  if (!sm_store_check_nesting (text, strlen (text), SM_VARIANT_MAX_DEPTH, error)
      || !check_text (text, error))
    return NULL;
  return g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, error);
}
