/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-vardict-writer"

#include "sm-vardict-writer.h"

#include <string.h>

/* GVariant's serialized form (gvariant-serialiser.c): a {sv} and an a{sv}
 * are aligned to 8; a container of values of variable size ends with the
 * offsets framing them (a dict entry: where its key ends; an array: where
 * each element ends), little-endian, each as wide as the smallest of 1, 2,
 * 4, 8 bytes that lets the whole container be addressed; a variant is its
 * value, a NUL and the value's type string. Values are in the host's byte
 * order, offsets count from the start
 * of their container; the containers written here start 8-aligned in the
 * buffer, so aligning to the buffer is aligning to the container. */

static guint
offset_size (gsize body, gsize n)
{
  if (body + n <= G_MAXUINT8)
    return 1;
  if (body + 2 * n <= G_MAXUINT16)
    return 2;
  if (body + 4 * n <= G_MAXUINT32)
    return 4;
  return 8;
}

static void
append_offset (GByteArray *buf, gsize value, guint size)
{
  guint8 bytes[8];

  for (guint i = 0; i < size; i++)
    bytes[i] = (guint8) (value >> (8 * i));
  g_byte_array_append (buf, bytes, size);
}

static void
align8 (GByteArray *buf)
{
  static const guint8 zeros[8] = { 0 };
  gsize pad = (8 - (buf->len & 7)) & 7;

  if (pad != 0)
    g_byte_array_append (buf, zeros, pad);
}

/* Frames a container of @n elements whose ends (from @start) are @ends. */
static void
append_offsets (GByteArray *buf, gsize start, GArray *ends)
{
  guint size = offset_size (buf->len - start, ends->len);

  for (guint i = 0; i < ends->len; i++)
    append_offset (buf, g_array_index (ends, gsize, i), size);
}

void
sm_vardict_writer_init (SmVardictWriter *self, gsize reserve)
{
  self->buf = g_byte_array_sized_new (reserve);
  self->ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  self->dict_ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  self->dict_start = 0;
}

void
sm_vardict_writer_clear (SmVardictWriter *self)
{
  g_clear_pointer (&self->buf, g_byte_array_unref);
  g_clear_pointer (&self->ends, g_array_unref);
  g_clear_pointer (&self->dict_ends, g_array_unref);
}

void
sm_vardict_writer_begin (SmVardictWriter *self)
{
  align8 (self->buf);
  self->dict_start = self->buf->len;
  g_array_set_size (self->dict_ends, 0);
}

/* One {sv}: the key, then a variant of @size bytes at @data and of
 * @type_string. */
static void
add_entry (SmVardictWriter *self,
           const char *key,
           gconstpointer data,
           gsize size,
           const char *type_string)
{
  GByteArray *buf = self->buf;
  gsize start, key_end, end;

  align8 (buf);
  start = buf->len;
  g_byte_array_append (buf, (const guint8 *) key, strlen (key) + 1);
  key_end = buf->len - start;
  align8 (buf);
  g_byte_array_append (buf, data, size);
  g_byte_array_append (buf, (const guint8 *) "", 1);
  g_byte_array_append (buf, (const guint8 *) type_string, strlen (type_string));
  append_offset (buf, key_end, offset_size (buf->len - start, 1));
  end = buf->len - self->dict_start;
  g_array_append_val (self->dict_ends, end);
}

void
sm_vardict_writer_add_string (SmVardictWriter *self, const char *key, const char *value)
{
  add_entry (self, key, value, strlen (value) + 1, "s");
}

void
sm_vardict_writer_add_int64 (SmVardictWriter *self, const char *key, gint64 value)
{
  add_entry (self, key, &value, sizeof value, "x");
}

void
sm_vardict_writer_add_uint32 (SmVardictWriter *self, const char *key, guint32 value)
{
  add_entry (self, key, &value, sizeof value, "u");
}

void
sm_vardict_writer_add_int64_array (SmVardictWriter *self,
                                   const char *key,
                                   const gint64 *values,
                                   gsize n)
{
  add_entry (self, key, values, n * sizeof values[0], "ax");
}

/* @value in normal form (as one built by g_variant_new_*() or read from
 * trusted bytes is). */
void
sm_vardict_writer_add_value (SmVardictWriter *self, const char *key, GVariant *value)
{
  add_entry (self, key, g_variant_get_data (value), g_variant_get_size (value),
             g_variant_get_type_string (value));
}

void
sm_vardict_writer_end (SmVardictWriter *self)
{
  gsize end;

  append_offsets (self->buf, self->dict_start, self->dict_ends);
  end = self->buf->len;
  g_array_append_val (self->ends, end);
}

GVariant *
sm_vardict_writer_finish (SmVardictWriter *self)
{
  g_autoptr (GBytes) bytes = NULL;

  append_offsets (self->buf, 0, self->ends);
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&self->buf));
  sm_vardict_writer_clear (self);
  return g_variant_new_from_bytes (G_VARIANT_TYPE ("aa{sv}"), bytes, TRUE);
}
