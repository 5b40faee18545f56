/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Reads a serialized a{sv} in normal form (a saved entry, a session's
 * metadata) on its bytes: every entry's key, value bytes and value type
 * without a GVariant for each child, which g_variant_get_child_value()
 * allocates and which dominated restoring 10 000 sessions. Anything that
 * is not well framed ends the walk with @bad set: callers then take the
 * long way through GLib, so results never depend on this reader. */

typedef struct
{
  const guchar *data;
  gsize table;       /* where the framing offsets start */
  gsize offset_size; /* bytes per framing offset */
  gsize count;
  gsize index;
  gsize start; /* where the next entry starts */
} SmSavedVardictIter;

typedef struct
{
  const char *key;     /* NUL-terminated, in the dict's bytes */
  const guchar *value; /* the value's bytes */
  gsize value_size;
  const char *type; /* the value's type string, NOT terminated */
  gsize type_length;
  const guchar *variant; /* the variant's bytes: value, NUL, type */
  gsize variant_size;
} SmSavedVardictEntry;

gboolean sm_saved_vardict_iter_init (SmSavedVardictIter *iter, const guchar *data, gsize size);
gboolean sm_saved_vardict_iter_next (SmSavedVardictIter *iter,
                                     SmSavedVardictEntry *entry,
                                     gboolean *bad);
gsize sm_saved_vardict_offset_size (gsize size);
gboolean sm_saved_vardict_is_basic (const char *type, gsize length);
gboolean sm_saved_vardict_is_normal (const guchar *data, gsize size);

G_END_DECLS
