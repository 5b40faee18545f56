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

/* GLib's normal form of a string: NUL-terminated, valid UTF-8 without
 * a NUL before the end. */
static gboolean
is_normal_string (const guchar *data, gsize size)
{
  const char *end;

  return size > 0 && data[size - 1] == '\0'
         && g_utf8_validate ((const char *) data, (gssize) size - 1, &end)
         && end == (const char *) data + size - 1;
}

static gboolean is_normal_vardict (const guchar *data, gsize size, guint depth);

/* A variant's value of @type (@type_length bytes) in normal form, for the
 * types this reader knows; FALSE for any other (not known, not "not
 * normal"). */
static gboolean
is_normal_value (const char *type, gsize type_length, const guchar *value, gsize size, guint depth)
{
  static const char fixed[] = "ynqiuxtdh";
  static const guint8 fixed_size[] = { 1, 2, 2, 4, 4, 8, 8, 8, 4 };
  const char *f;

  if (type_length == 1 && type[0] == 's')
    return is_normal_string (value, size);
  if (type_length == 1 && type[0] == 'b')
    return size == 1 && value[0] < 2;
  if (type_length == 1 && type[0] != '\0' && (f = strchr (fixed, type[0])) != NULL)
    return size == fixed_size[f - fixed];
  /* An array of fixed-size numbers: any whole number of them. */
  if (type_length == 2 && type[0] == 'a' && type[1] != '\0'
      && (f = strchr (fixed, type[1])) != NULL)
    return size % fixed_size[f - fixed] == 0;
  if (type_length == 5 && memcmp (type, "a{sv}", 5) == 0)
    return is_normal_vardict (value, size, depth + 1);
  return FALSE;
}

/* One {sv} entry of @size bytes at @p in normal form: the key, zeros up
 * to 8, the variant (value, NUL, its type), the key's end. */
static gboolean
is_normal_entry (const guchar *p, gsize size, guint depth)
{
  SmSavedVardictEntry entry;
  gsize n = sm_saved_vardict_offset_size (size), key_end;

  if (!split_entry (p, size, &entry))
    return FALSE;
  key_end = read_offset (p + size - n, n);
  if (!is_normal_string (p, key_end))
    return FALSE;
  for (const guchar *pad = p + key_end; pad < entry.variant; pad++)
    if (*pad != '\0')
      return FALSE;
  return is_normal_value (entry.type, entry.type_length, entry.value, entry.value_size, depth);
}

/* The a{sv} of @size bytes at @data in normal form, its elements each
 * starting at a multiple of 8 after zero padding. */
static gboolean
is_normal_vardict (const guchar *data, gsize size, guint depth)
{
  SmSavedVardictIter iter;
  gsize start = 0;

  if (depth > 1 || !sm_saved_vardict_iter_init (&iter, data, size))
    return FALSE;
  if (size == 0)
    return TRUE;
  if (iter.count == 0)
    return FALSE;
  for (gsize i = 0; i < iter.count; i++)
    {
      gsize end = read_offset (data + iter.table + i * iter.offset_size, iter.offset_size);
      gsize aligned = (start + 7) & ~(gsize) 7;

      if (end < aligned || end > iter.table)
        return FALSE;
      for (; start < aligned; start++)
        if (data[start] != '\0')
          return FALSE;
      if (!is_normal_entry (data + start, end - start, depth))
        return FALSE;
      start = end;
    }
  return start == iter.table;
}

/* Whether @data (@size bytes, aligned to 8) is an a{sv} in GLib's normal
 * form whose values are basic types other than object paths and
 * signatures, arrays of fixed-size numbers or a{sv} of those: what the
 * daemon saves. TRUE only when it is; FALSE when it is not, or holds
 * anything else: g_variant_is_normal_form() then decides. Checked here
 * because GLib's check takes a global lock for every container it meets,
 * and was a quarter of loading 10 000 sessions. */
gboolean
sm_saved_vardict_is_normal (const guchar *data, gsize size)
{
  return is_normal_vardict (data, size, 0);
}
