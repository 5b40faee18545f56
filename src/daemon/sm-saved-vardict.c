/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-saved-vardict"

#include "sm-saved-vardict.h"

#include <string.h>

/* How many bytes a framing offset takes in a container of @size bytes. */
gsize
sm_saved_vardict_offset_size (gsize size)
{
  return size <= G_MAXUINT8 ? 1 : size <= G_MAXUINT16 ? 2 : size <= G_MAXUINT32 ? 4 : 8;
}

/* The little-endian framing offset of @size bytes at @p. */
static gsize
read_offset (const guchar *p, gsize size)
{
  guint64 value = 0;

  for (gsize i = size; i > 0; i--)
    value = value << 8 | p[i - 1];
  return (gsize) value;
}

/* An array of variable-sized elements: the elements, each aligned to 8
 * ({sv} holds a variant), then one framing offset per element, each where
 * its element ends. FALSE when @data cannot be that. */
gboolean
sm_saved_vardict_iter_init (SmSavedVardictIter *iter, const guchar *data, gsize size)
{
  memset (iter, 0, sizeof *iter);
  iter->data = data;
  if (size == 0)
    return TRUE;
  iter->offset_size = sm_saved_vardict_offset_size (size);
  if (size < iter->offset_size)
    return FALSE;
  iter->table = read_offset (data + size - iter->offset_size, iter->offset_size);
  if (iter->table > size || (size - iter->table) % iter->offset_size != 0)
    return FALSE;
  iter->count = (size - iter->table) / iter->offset_size;
  return TRUE;
}

/* One {sv} entry of @size bytes at @p: the key, a NUL, padding to 8, the
 * variant, the key's end as a framing offset. */
static gboolean
split_entry (const guchar *p, gsize size, SmSavedVardictEntry *entry)
{
  gsize n = sm_saved_vardict_offset_size (size), key_end, start, end, zero;

  if (size < n + 1 || (key_end = read_offset (p + size - n, n)) == 0 || key_end > size - n
      || p[key_end - 1] != '\0')
    return FALSE;
  start = (key_end + 7) & ~(gsize) 7;
  end = size - n;
  /* A variant: the value, a NUL, the type string. */
  for (zero = end; zero > start && p[zero - 1] != '\0'; zero--)
    ;
  if (zero <= start || zero == end)
    return FALSE;
  entry->key = (const char *) p;
  entry->variant = p + start;
  entry->variant_size = end - start;
  entry->value = p + start;
  entry->value_size = zero - 1 - start;
  entry->type = (const char *) p + zero;
  entry->type_length = end - zero;
  return TRUE;
}

/* The next entry; FALSE at the end, or with @bad set when the bytes are
 * not a dict in normal form. The key is NUL-terminated in the bytes; the
 * type string is not (its length says where it ends). */
gboolean
sm_saved_vardict_iter_next (SmSavedVardictIter *iter, SmSavedVardictEntry *entry, gboolean *bad)
{
  gsize end;

  *bad = FALSE;
  if (iter->index >= iter->count)
    return FALSE;
  end = read_offset (iter->data + iter->table + iter->index * iter->offset_size, iter->offset_size);
  if (end < iter->start || end > iter->table
      || !split_entry (iter->data + iter->start, end - iter->start, entry))
    {
      *bad = TRUE;
      return FALSE;
    }
  iter->index++;
  iter->start = (end + 7) & ~(gsize) 7;
  return TRUE;
}

/* Whether @type (@length bytes) is one basic type: a value of it holds
 * no container, so it nests no deeper than where it is. */
gboolean
sm_saved_vardict_is_basic (const char *type, gsize length)
{
  return length == 1 && type[0] != '\0' && strchr ("ybnqiuxtdhsog", type[0]) != NULL;
}
