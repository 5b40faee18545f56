/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store.h"
#include "sm-store-codec.h"

#include "sm-saved-vardict.h"

#include <string.h>

/* SM_BINARY_PREFIX (sm-store-codec.h): exact for every type (a 'u' stays
 * a 'u', NaN and subnormal doubles survive) and some 50 times faster to
 * read back than g_variant_print() text, which earlier versions wrote and
 * which is still read. */

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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SM_CRC32C_SSE42 1
/* SSE 4.2's crc32 instruction computes exactly CRC-32C, 8 bytes a step:
 * some 20 times the table's speed, which read a journal at 250 MB/s
 * (60 ms for a 15 MB journal at start-up). */
__attribute__ ((target ("sse4.2"))) static guint32
crc32c_sse42 (guint32 crc, const guint8 *p, gsize length)
{
  guint64 c = crc;

  for (; length >= 8; p += 8, length -= 8)
    {
      guint64 word;

      memcpy (&word, p, 8);
      c = __builtin_ia32_crc32di (c, word);
    }
  crc = (guint32) c;
  for (; length > 0; p++, length--)
    crc = __builtin_ia32_crc32qi (crc, *p);
  return crc;
}
#endif

/* Table-driven CRC-32C (reflected polynomial 0x82F63B78), as in iSCSI and
 * ext4: twenty lines instead of a dependency on zlib, and the better code of
 * the two for short records; the processor's instruction where it has one. */
guint32
sm_store_crc32c (guint32 crc, const void *data, gsize length)
{
  static guint32 table[256];
  static gsize initialized = 0;
  const guint8 *p = data;

#ifdef SM_CRC32C_SSE42
  if (__builtin_cpu_supports ("sse4.2"))
    return ~crc32c_sse42 (~crc, p, length);
#endif
  if (g_once_init_enter (&initialized))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;

          for (int k = 0; k < 8; k++)
            c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&initialized, 1);
    }
  crc = ~crc;
  for (gsize i = 0; i < length; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
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

/* The value of each base64 character, 0xff for anything else. */
static const guint8 base64_values[256] = {
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff, 0xff, 0x3f,
  0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
  0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* g_base64_decode() of the text the store writes: whole groups of four
 * characters of the alphabet, '=' padding only at the end. Four characters
 * at a time, without GLib's state machine, which took a sixth of loading
 * 10 000 sessions; any other text is GLib's to decode, as before. */
static guchar *
base64_decode (const char *text, gsize *length)
{
  gsize n = strlen (text), pad = 0, out = 0;
  guint8 v[4];
  guchar *data;

  if (n % 4 != 0)
    return g_base64_decode (text, length);
  while (pad < 2 && n > pad && text[n - 1 - pad] == '=')
    pad++;
  data = g_malloc (n / 4 * 3 + 1);
  for (gsize i = 0; i < n; i += 4)
    {
      gboolean last = i + 4 == n;

      for (guint k = 0; k < 4; k++)
        if ((v[k] = base64_values[(guchar) text[i + k]]) == 0xff && !(last && k >= 4 - pad))
          {
            g_free (data);
            return g_base64_decode (text, length);
          }
      data[out++] = (guchar) (v[0] << 2 | v[1] >> 4);
      if (!last || pad < 2)
        data[out++] = (guchar) (v[1] << 4 | v[2] >> 2);
      if (!last || pad < 1)
        data[out++] = (guchar) (v[2] << 6 | v[3]);
    }
  *length = out;
  return data;
}

/* The bytes of an entry in the binary form ("base64:..."), and whether
 * they are known to be in normal form: the part of decoding that makes no
 * GVariant, which a loading thread does beside one that does. */
guchar *
sm_store_binary_decode (const char *text, gsize *length, gboolean *normal)
{
  guchar *data;

  g_return_val_if_fail (g_str_has_prefix (text, SM_BINARY_PREFIX), NULL);

  data = base64_decode (text + strlen (SM_BINARY_PREFIX), length);
  *normal = sm_saved_vardict_is_normal (data, *length);
  return data;
}

/* The entry of sm_store_binary_decode()'s bytes (taken). */
GVariant *
sm_store_entry_from_binary (guchar *data, gsize length, gboolean normal)
{
  g_autoptr (GBytes) bytes = g_bytes_new_take (data, length);
  g_autoptr (GVariant) value = g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, normal);

  /* Untrusted bytes: the normal form is safe to walk whatever they hold.
   * GLib's check of it takes a global lock for every container it meets
   * (a quarter of loading 10 000 sessions): bytes known to be normal are
   * taken as they are. */
  return normal ? g_steal_pointer (&value) : g_variant_get_normal_form (value);
}

GVariant *
sm_store_entry_from_text (const char *text, GError **error)
{
  if (g_str_has_prefix (text, SM_BINARY_PREFIX))
    {
      gsize length = 0;
      gboolean normal;
      guchar *data = sm_store_binary_decode (text, &length, &normal);

      return sm_store_entry_from_binary (data, length, normal);
    }
  if (!sm_store_check_nesting (text, strlen (text), SM_VARIANT_MAX_DEPTH, error)
      || !check_text (text, error))
    return NULL;
  return g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, error);
}
