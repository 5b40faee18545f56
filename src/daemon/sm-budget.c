/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-budget"

#include "sm-budget.h"

#include "sm-error.h"

#include <string.h>

struct _SmBudget
{
  gatomicrefcount ref_count;
  char *name;       /* (owned) as in "the caller's byte budget" */
  gsize limit;      /* bytes */
  gsize used;       /* bytes */
  SmBudget *parent; /* (owned) (nullable) */
};

SmBudget *
sm_budget_new (const char *name, gsize limit, SmBudget *parent)
{
  SmBudget *self = g_new0 (SmBudget, 1);

  g_atomic_ref_count_init (&self->ref_count);
  self->name = g_strdup (name);
  self->limit = limit;
  self->parent = parent != NULL ? sm_budget_ref (parent) : NULL;
  return self;
}

SmBudget *
sm_budget_ref (SmBudget *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
sm_budget_unref (SmBudget *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  /* Whatever is still charged goes back to the parent. */
  if (self->parent != NULL)
    sm_budget_charge (self->parent, self->used, 0);
  g_clear_pointer (&self->parent, sm_budget_unref);
  g_free (self->name);
  g_free (self);
}

/* Whether an entry of @old_size bytes (0 for a new one) can become one of
 * @new_size bytes in @self and every budget above it; else LimitExceeded
 * naming the budget that would be exceeded. The replaced entry counts as
 * freed, so a re-registration that does not grow always fits. */
gboolean
sm_budget_check (SmBudget *self,
                 gsize old_size,
                 gsize new_size,
                 const char *arg_name,
                 const char *id,
                 GError **error)
{
  for (SmBudget *budget = self; budget != NULL; budget = budget->parent)
    {
      gsize after = budget->used - MIN (old_size, budget->used);

      if (new_size <= old_size || (after <= budget->limit && new_size <= budget->limit - after))
        continue;
      g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
                   "%s: \"%s\" takes %" G_GSIZE_FORMAT " bytes as serialized, more than is left "
                   "of %s (%" G_GSIZE_FORMAT " bytes for sessions, signing requests and presence "
                   "together; %" G_GSIZE_FORMAT " in use)",
                   arg_name, id, new_size, budget->name, budget->limit, budget->used);
      return FALSE;
    }
  return TRUE;
}

/* An entry of @old_size bytes (0: none) is now one of @new_size (0: gone). */
void
sm_budget_charge (SmBudget *self, gsize old_size, gsize new_size)
{
  for (SmBudget *budget = self; budget != NULL; budget = budget->parent)
    {
      g_warn_if_fail (budget->used >= old_size);
      budget->used = budget->used - MIN (old_size, budget->used) + new_size;
    }
}

gsize
sm_budget_get_used (SmBudget *self)
{
  return self->used;
}

gsize
sm_budget_get_limit (SmBudget *self)
{
  return self->limit;
}

/* The size of a value of a basic type of a fixed size; 0 for any other. */
static gsize
dbus_basic_size (char type)
{
  switch (type)
    {
    case 'y':
      return 1;
    case 'n':
    case 'q':
      return 2;
    case 'b':
    case 'i':
    case 'u':
    case 'h':
      return 4;
    case 'x':
    case 't':
    case 'd':
      return 8;
    default:
      return 0;
    }
}

/* D-Bus's alignment of a value of the type @type starts with: a basic
 * type of a fixed size is aligned to its size. */
static gsize
dbus_alignment (char type)
{
  switch (type)
    {
    case 's':
    case 'o':
    case 'a':
      return 4;
    case '(':
    case '{':
      return 8;
    default:
      return MAX (dbus_basic_size (type), 1);
    }
}

static gsize
align_up (gsize offset, gsize alignment)
{
  return (offset + alignment - 1) & ~(alignment - 1);
}

/* Every value of a type without strings, arrays or variants has the same
 * D-Bus layout once aligned. */
static gboolean
is_fixed_layout (const char *type, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (strchr ("sogavm", type[i]) != NULL)
      return FALSE;
  return TRUE;
}

static gsize dbus_end (GVariant *value, gsize offset);

/* Where a container's children end, marshalled one after the other. */
static gsize
dbus_children_end (GVariant *value, gsize offset)
{
  gsize n = g_variant_n_children (value);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      offset = dbus_end (child, offset);
    }
  return offset;
}

/* An array of @element: its length, then its elements, aligned. One of a
 * fixed layout costs O(1): every element is as large as the first. */
static gsize
dbus_array_end (GVariant *value, const char *element, gsize offset)
{
  gsize n = g_variant_n_children (value);

  offset = align_up (offset + 4, dbus_alignment (element[0]));
  if (n == 0)
    return offset;
  if (is_fixed_layout (element, strlen (element)))
    {
      g_autoptr (GVariant) first = g_variant_get_child_value (value, 0);
      gsize size = dbus_end (first, offset) - offset;

      return offset + align_up (size, dbus_alignment (element[0])) * (n - 1) + size;
    }
  return dbus_children_end (value, offset);
}

/* GVariant's framing offsets are as wide as the container needs. */
static gsize
gvariant_offset_size (gsize container_size)
{
  return container_size > G_MAXUINT32   ? 8
         : container_size > G_MAXUINT16 ? 4
         : container_size > G_MAXUINT8  ? 2
         : container_size > 0           ? 1
                                        : 0;
}

static gsize
gvariant_read_offset (const guint8 *data, gsize width)
{
  gsize value = 0;

  for (gsize i = 0; i < width; i++)
    value |= (gsize) data[i] << (8 * i);
  return value;
}

/* Where the value of a variant (@data, @size: its value, a NUL, its type)
 * ends at @offset; (gsize) -1 when the bytes are not what they should be. */
static gsize
dbus_variant_bytes_end (const guint8 *data, gsize size, gsize offset)
{
  const guint8 *nul = data + size;
  const char *type;
  gsize value_size, type_length;

  while (nul > data && nul[-1] != '\0')
    nul--;
  if (nul == data)
    return (gsize) -1;
  nul--;
  type = (const char *) nul + 1;
  value_size = (gsize) (nul - data);
  type_length = size - value_size - 1;
  if (type_length == 0 || type_length > 255)
    return (gsize) -1;
  offset += 1 + type_length + 1;
  if (type_length == 1 && dbus_basic_size (type[0]) != 0)
    return align_up (offset, dbus_basic_size (type[0])) + dbus_basic_size (type[0]);
  if (type_length == 1 && (type[0] == 's' || type[0] == 'o') && value_size > 0)
    return align_up (offset, 4) + 4 + value_size;
  {
    /* Anything else is walked as a value, as before. */
    g_autofree char *type_string = g_strndup (type, type_length);
    g_autoptr (GVariant) value = NULL;

    if (!g_variant_type_string_is_valid (type_string))
      return (gsize) -1;
    value = g_variant_ref_sink (
        g_variant_new_from_data (G_VARIANT_TYPE (type_string), data, value_size, TRUE, NULL, NULL));
    return dbus_end (value, offset);
  }
}

/* An a{sv} in GVariant's normal form (a call's options, a saved session's
 * metadata), walked in its bytes: no child value is made for each key,
 * variant and value. (gsize) -1 when the bytes are not what they should
 * be (the caller then walks the values). */
static gsize
dbus_vardict_end (const guint8 *data, gsize size, gsize offset)
{
  gsize width = gvariant_offset_size (size), table, n, start = 0;

  offset = align_up (align_up (offset, 4) + 4, 8);
  if (size == 0)
    return offset;
  table = gvariant_read_offset (data + size - width, width);
  if (table > size || (size - table) % width != 0)
    return (gsize) -1;
  n = (size - table) / width;
  for (gsize i = 0; i < n; i++)
    {
      gsize end = gvariant_read_offset (data + table + i * width, width);
      gsize entry_width, key_end, value_start, value_end;
      const guint8 *entry = data + start;

      if (end < start || end > table || end - start < 3)
        return (gsize) -1;
      entry_width = gvariant_offset_size (end - start);
      key_end = gvariant_read_offset (entry + (end - start) - entry_width, entry_width);
      value_start = align_up (key_end, 8);
      value_end = end - start - entry_width;
      if (key_end == 0 || value_start > value_end || entry[key_end - 1] != '\0')
        return (gsize) -1;
      /* The key (a string) and the variant's signature, then its value. */
      offset = align_up (align_up (offset, 8), 4) + 4 + key_end;
      offset = dbus_variant_bytes_end (entry + value_start, value_end - value_start, offset);
      if (offset == (gsize) -1)
        return offset;
      start = align_up (end, 8);
    }
  return offset;
}

/* Where @value ends when D-Bus marshals it at @offset. Arrays of a fixed
 * layout cost O(1), others one step per element: no more than the GVariant
 * form has bytes. Callers bound the nesting first (sm_options_parse()). */
static gsize
dbus_end (GVariant *value, gsize offset)
{
  const char *type = g_variant_get_type_string (value);
  gsize length;

  offset = align_up (offset, dbus_alignment (type[0]));
  if (dbus_basic_size (type[0]) != 0)
    return offset + dbus_basic_size (type[0]);
  switch (type[0])
    {
    case 's':
    case 'o':
      g_variant_get_string (value, &length);
      return offset + 4 + length + 1;
    case 'g':
      g_variant_get_string (value, &length);
      return offset + 1 + length + 1;
    case 'v':
      {
        g_autoptr (GVariant) child = g_variant_get_variant (value);

        offset += 1 + strlen (g_variant_get_type_string (child)) + 1;
        return dbus_end (child, offset);
      }
    case 'a':
      if (strcmp (type, "a{sv}") == 0 && g_variant_is_normal_form (value))
        {
          gsize end =
              dbus_vardict_end (g_variant_get_data (value), g_variant_get_size (value), offset);

          if (end != (gsize) -1)
            return end;
        }
      return dbus_array_end (value, type + 1, offset);
    case '(':
    case '{':
      return dbus_children_end (value, offset);
    default:
      /* Not a D-Bus type (a maybe): as large as its GVariant form. */
      return offset + g_variant_get_size (value);
    }
}

/* The size of @value in D-Bus's wire format, marshalled at an offset that
 * is a multiple of 8 (as every element of an aa{sv} reply is). */
gsize
sm_variant_dbus_size (GVariant *value)
{
  g_return_val_if_fail (value != NULL, 0);

  return dbus_end (value, 0);
}

/* What @entry counts against a budget: the larger of its D-Bus form and
 * its GVariant form, plus the 8 bytes of its offset in an array. Takes a
 * floating @entry. */
gsize
sm_budget_entry_size (GVariant *entry)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (entry);

  return MAX (sm_variant_dbus_size (owned), g_variant_get_size (owned)) + 8;
}

/* An a{sv} starts with its length, then its first entry aligned to 8. */
gsize
sm_dbus_dict_start (void)
{
  return 8;
}

/* A {sv} entry's key and the signature of its value, @signature. */
static gsize
add_key (gsize offset, const char *key, const char *signature)
{
  offset = align_up (offset, 8);
  offset += 4 + strlen (key) + 1;
  return offset + 1 + strlen (signature) + 1;
}

gsize
sm_dbus_add_string (gsize offset, const char *key, const char *value)
{
  offset = align_up (add_key (offset, key, "s"), 4);
  return offset + 4 + strlen (value) + 1;
}

gsize
sm_dbus_add_int64 (gsize offset, const char *key)
{
  return align_up (add_key (offset, key, "x"), 8) + 8;
}

gsize
sm_dbus_add_uint32 (gsize offset, const char *key)
{
  return align_up (add_key (offset, key, "u"), 4) + 4;
}

gsize
sm_dbus_add_int64_array (gsize offset, const char *key, gsize n)
{
  offset = align_up (add_key (offset, key, "ax"), 4) + 4;
  return align_up (offset, 8) + 8 * n;
}

gsize
sm_dbus_add_value (gsize offset, const char *key, GVariant *value)
{
  return dbus_end (value, add_key (offset, key, g_variant_get_type_string (value)));
}
