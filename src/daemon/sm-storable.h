/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What the store needs of a model whose entries are durable: each entry is
 * an a{sv} under an id ("" for a model of one entry), the model says which
 * entry changed, gives an entry's current form, and takes an entry of an
 * earlier run back. The store knows models only through this. */

#define SM_TYPE_STORABLE (sm_storable_get_type ())
G_DECLARE_INTERFACE (SmStorable, sm_storable, SM, STORABLE, GObject)

struct _SmStorableInterface
{
  GTypeInterface parent_iface;

  /* The entry under @id as it is now (a{sv}, may be floating), or NULL
   * when the model holds none. */
  GVariant *(*serialize) (SmStorable *self, const char *id);
  /* Takes back one entry written by an earlier run; validates it and
   * refuses (InvalidArgs) what it would not have accepted. */
  gboolean (*restore) (SmStorable *self, GVariant *entry, GError **error);

  /* (optional) Loading many entries: the part of restore() that reads
   * nothing of the model that may change (decoding the entry, checking
   * its own values), so that a helper thread does it while the main thread
   * restores others. Returns what restore_prepared() finishes (and takes);
   * NULL with @error set refuses the entry, NULL without: restore() does it
   * all. */
  gpointer (*prepare) (SmStorable *self, GVariant *entry, GError **error);
  gboolean (*restore_prepared) (SmStorable *self, gpointer prepared, GError **error);
};

GVariant *sm_storable_serialize (SmStorable *self, const char *id);
gboolean sm_storable_restore (SmStorable *self, GVariant *entry, GError **error);
gpointer sm_storable_prepare (SmStorable *self, GVariant *entry, GError **error);
gboolean sm_storable_restore_prepared (SmStorable *self, gpointer prepared, GError **error);
void sm_storable_changed (SmStorable *self, const char *id);

G_END_DECLS
