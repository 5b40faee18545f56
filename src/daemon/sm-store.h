/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-storable.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* The durable state: a JSON snapshot (state.json, replaced atomically) plus
 * an append-only journal of per-entry changes (state.journal) replayed over
 * it on load and folded into a new snapshot once it has grown, so a change
 * costs one short write(2), never a rewrite of the whole state. The folding
 * runs in the background: the journal is rotated to state.journal.old, the
 * entries are taken from the models in short slices of the main loop and a
 * thread writes the snapshot, then removes the old journal.
 *
 * The store knows a model only as an SmStorable: each one is a named
 * section of entries (a{sv}, kept with their exact GVariant types as
 * serialized bytes in base64), its "changed" (id) signal says what to
 * write. A section without an id key holds at most one entry. A per-user
 * section (system mode) holds the models of every user, one per uid: its
 * entries carry "owner-uid" and "store-id", and loading it asks the
 * section's SmStoreResolveFunc for the model of an entry's owner.
 *
 * Acknowledged means on disk. A D-Bus call that changes state goes
 * sm_store_prepare() (the journal is open, a torn record cut off, room for
 * the record reserved: else StorageFailed before anything changes), the
 * model's change (its record is written at once), sm_store_complete_full(): the
 * reply is held until one fdatasync(2) at the end of the main-loop iteration
 * has made every record of the iteration durable (group commit). A change
 * whose record cannot be written or synced is refused and taken back out of
 * memory by the caller's undo function (sm_store_complete_full()). Changes
 * the daemon makes itself (expiry, warnings sent, presence ticks) are never
 * refused: their records are written together at the next main-loop
 * iteration (a burst of expiries costs one write(2) per iteration, not one
 * per expiry), and when they cannot be written the store is "behind" and
 * writes a whole snapshot as soon as writing works again. */

#define SM_STORE_VERSION 1

/* The model of @uid that takes back the entries of @section (created if
 * need be); it is attached to the store by sm_store_attach() if it is not
 * yet. */
typedef SmStorable *(*SmStoreResolveFunc) (const char *section, guint32 uid, gpointer user_data);

#define SM_TYPE_STORE (sm_store_get_type ())
G_DECLARE_FINAL_TYPE (SmStore, sm_store, SM, STORE, GObject)

SmStore *sm_store_new (const char *dir);

void sm_store_add_section (SmStore *self, const char *name, SmStorable *model, const char *id_key);
void sm_store_add_user_section (SmStore *self,
                                const char *name,
                                const char *id_key,
                                SmStoreResolveFunc resolve,
                                gpointer user_data);
void sm_store_attach (SmStore *self, const char *name, guint32 uid, SmStorable *model);

void sm_store_load (SmStore *self);
gboolean sm_store_load_data (SmStore *self, const char *data, gsize length, GError **error);
gboolean sm_store_compact (SmStore *self, GError **error);
void sm_store_wait (SmStore *self);

gboolean sm_store_prepare (SmStore *self, gsize size, GError **error);
typedef void (*SmStoreUndoFunc) (gpointer data);
void sm_store_complete_full (SmStore *self,
                             GDBusMethodInvocation *invocation,
                             SmStoreUndoFunc undo,
                             gpointer data,
                             GDestroyNotify destroy);
void sm_store_commit (SmStore *self);

gboolean sm_store_is_writable (SmStore *self);

char *sm_store_entry_to_text (GVariant *entry);
GVariant *sm_store_entry_from_text (const char *text, GError **error);

G_END_DECLS
