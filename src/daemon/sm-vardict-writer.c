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

/* Room for @size more bytes; the writer grows by doubling, in one block
 * (a large one is its own mapping, which realloc moves without copying). */
static inline guint8 *
make_room (SmVardictWriter *self, gsize size)
{
  if (self->len + size > self->alloc)
    {
      self->alloc = MAX (self->alloc * 2, self->len + size);
      self->data = g_realloc (self->data, self->alloc);
    }
  return self->data + self->len;
}

static inline void
append (SmVardictWriter *self, gconstpointer bytes, gsize size)
{
  /* An empty value may have no data at all (NULL): memcpy must not see it. */
  if (size == 0)
    return;
  memcpy (make_room (self, size), bytes, size);
  self->len += size;
}

static void
append_offset (SmVardictWriter *self, gsize value, guint size)
{
  guint8 *bytes = make_room (self, size);

  for (guint i = 0; i < size; i++)
    bytes[i] = (guint8) (value >> (8 * i));
  self->len += size;
}

static void
align8 (SmVardictWriter *self)
{
  gsize pad = (8 - (self->len & 7)) & 7;

  memset (make_room (self, pad), 0, pad);
  self->len += pad;
}

/* Frames a container of @n elements whose ends (from @start) are @ends. */
static void
append_offsets (SmVardictWriter *self, gsize start, GArray *ends)
{
  guint size = offset_size (self->len - start, ends->len);

  for (guint i = 0; i < ends->len; i++)
    append_offset (self, g_array_index (ends, gsize, i), size);
}

void
sm_vardict_writer_init (SmVardictWriter *self, gsize reserve)
{
  self->alloc = MAX (reserve, 8);
  self->data = g_malloc (self->alloc);
  self->len = 0;
  self->ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  self->dict_ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  self->dict_start = 0;
}

void
sm_vardict_writer_clear (SmVardictWriter *self)
{
  g_clear_pointer (&self->data, g_free);
  self->len = self->alloc = 0;
  g_clear_pointer (&self->ends, g_array_unref);
  g_clear_pointer (&self->dict_ends, g_array_unref);
}

void
sm_vardict_writer_begin (SmVardictWriter *self)
{
  align8 (self);
  self->dict_start = self->len;
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
  gsize start, key_end, end;

  align8 (self);
  start = self->len;
  append (self, key, strlen (key) + 1);
  key_end = self->len - start;
  align8 (self);
  append (self, data, size);
  append (self, "", 1);
  append (self, type_string, strlen (type_string));
  append_offset (self, key_end, offset_size (self->len - start, 1));
  end = self->len - self->dict_start;
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

  append_offsets (self, self->dict_start, self->dict_ends);
  end = self->len;
  g_array_append_val (self->ends, end);
}

GVariant *
sm_vardict_writer_finish (SmVardictWriter *self)
{
  g_autoptr (GBytes) bytes = NULL;

  append_offsets (self, 0, self->ends);
  bytes = g_bytes_new_take (g_steal_pointer (&self->data), self->len);
  sm_vardict_writer_clear (self);
  return g_variant_new_from_bytes (G_VARIANT_TYPE ("aa{sv}"), bytes, TRUE);
}

/* The one a{sv} written (floating), without the list around it: an entry
 * for the store. @self is cleared. */
GVariant *
sm_vardict_writer_finish_one (SmVardictWriter *self)
{
  g_autoptr (GBytes) bytes = NULL;

  g_return_val_if_fail (self->ends->len == 1, NULL);

  bytes = g_bytes_new_take (g_steal_pointer (&self->data), g_array_index (self->ends, gsize, 0));
  sm_vardict_writer_clear (self);
  return g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, TRUE);
}
