/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#define SM_STATE_FILE "state.json"
#define SM_JOURNAL_FILE "state.journal"
/* The journal a running compaction supersedes (see sm_store_compact). */
#define SM_OLD_JOURNAL_FILE "state.journal.old"

G_DEFINE_TYPE (SmStore, sm_store, G_TYPE_OBJECT)

static void flush (SmStore *self);

static void
sm_store_finalize (GObject *object)
{
  SmStore *self = SM_STORE (object);

  /* Replies still held are answered once their changes are synced. */
  flush (self);
  sm_store_sync_commit (self);
  sm_store_compact_stop (self);
  g_clear_handle_id (&self->read_back_id, g_source_remove);
  g_clear_pointer (&self->read_back, g_ptr_array_unref);
  g_clear_pointer (&self->sections, g_ptr_array_unref);
  sm_store_journal_close (self);
  g_clear_pointer (&self->held, g_ptr_array_unref);
  g_clear_error (&self->write_error);
  g_clear_error (&self->sync_error);
  g_string_free (self->line, TRUE);
  g_string_free (self->pending, TRUE);
  g_byte_array_unref (self->scratch);
  g_free (self->dir);
  g_free (self->path);
  g_free (self->journal_path);
  g_free (self->old_journal_path);

  G_OBJECT_CLASS (sm_store_parent_class)->finalize (object);
}

static void
sm_store_class_init (SmStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = sm_store_finalize;
}

static void
sm_store_init (SmStore *self)
{
  self->sections = g_ptr_array_new_with_free_func ((GDestroyNotify) sm_store_section_free);
  self->line = g_string_sized_new (1024);
  self->pending = g_string_sized_new (4096);
  self->scratch = g_byte_array_sized_new (1024);
  self->journal_fd = -1;
  self->compact_after = SM_JOURNAL_MIN_COMPACT_BYTES;
  self->held = sm_store_held_array_new ();
}

/* @dir NULL: nothing is read or written (the daemon's --no-persist). */
SmStore *
sm_store_new (const char *dir)
{
  SmStore *self = g_object_new (SM_TYPE_STORE, NULL);

  if (dir != NULL)
    {
      self->dir = g_strdup (dir);
      self->path = g_build_filename (dir, SM_STATE_FILE, NULL);
      self->journal_path = g_build_filename (dir, SM_JOURNAL_FILE, NULL);
      self->old_journal_path = g_build_filename (dir, SM_OLD_JOURNAL_FILE, NULL);
    }
  return self;
}

static void on_model_changed (SmStorable *model, const char *id, SmStoreAttachment *attachment);

static SmStoreSection *
add_section (SmStore *self, const char *name, const char *id_key)
{
  SmStoreSection *section = sm_store_section_new (self, name, id_key);

  g_ptr_array_add (self->sections, section);
  return section;
}

/* From now on the model's changes are written. */
static void
attach (SmStoreSection *section, guint32 uid, SmStorable *model)
{
  SmStoreAttachment *attachment = sm_store_section_add_model (section, uid, model);

  attachment->changed_id =
      g_signal_connect (model, "changed", G_CALLBACK (on_model_changed), attachment);
}

/* A section of @model's entries, each an a{sv} that holds its id under
 * @id_key; @id_key NULL: the model has one entry. */
void
sm_store_add_section (SmStore *self, const char *name, SmStorable *model, const char *id_key)
{
  g_return_if_fail (SM_IS_STORE (self));
  g_return_if_fail (SM_IS_STORABLE (model));

  attach (add_section (self, name, id_key), 0, model);
}

/* A section of one kind of model of every user (system mode): the models
 * are attached per uid with sm_store_attach(), and at load @resolve gives
 * the model of an entry's "owner-uid". */
void
sm_store_add_user_section (SmStore *self,
                           const char *name,
                           const char *id_key,
                           SmStoreResolveFunc resolve,
                           gpointer user_data)
{
  SmStoreSection *section;

  g_return_if_fail (SM_IS_STORE (self));
  g_return_if_fail (resolve != NULL);

  section = add_section (self, name, id_key);
  section->per_user = TRUE;
  section->resolve = resolve;
  section->resolve_data = user_data;
}

/* @uid's @model in the per-user section @name, from now on written there;
 * attaching it again changes nothing. */
void
sm_store_attach (SmStore *self, const char *name, guint32 uid, SmStorable *model)
{
  SmStoreSection *section;
  SmStoreAttachment *attachment;

  g_return_if_fail (SM_IS_STORE (self));
  g_return_if_fail (SM_IS_STORABLE (model));

  section = sm_store_find_section (self, name);
  g_return_if_fail (section != NULL && section->per_user);
  attachment = sm_store_section_lookup (section, uid);
  g_return_if_fail (attachment == NULL || attachment->model == model);
  if (attachment == NULL)
    attach (section, uid, model);
}

/* Before a change a caller is waiting for: TRUE when its record (at most
 * @size bytes) can be written, else StorageFailed naming the cause, and the
 * caller changes nothing. Without a state directory (--no-persist) always
 * TRUE. */
gboolean
sm_store_prepare (SmStore *self, gsize size, GError **error)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  return sm_store_journal_prepare (self, size, error);
}

/* After the change: answers @invocation (a method without out arguments;
 * taken over, as a handler does) once the change is durable, or with
 * StorageFailed when its record could not be written or synced: then
 * @undo (if not NULL) is called first with @data, to take the change back
 * out of memory (what it changes is not journaled). @destroy frees @data
 * once the reply is sent. */
void
sm_store_complete_full (SmStore *self,
                        GDBusMethodInvocation *invocation,
                        SmStoreUndoFunc undo,
                        gpointer data,
                        GDestroyNotify destroy)
{
  g_return_if_fail (SM_IS_STORE (self));

  sm_store_sync_hold (self, invocation, undo, data, destroy);
}

/* Writes the records held back, syncs what was written and answers every
 * reply held, before returning (at finalization, and in tests). The
 * daemon's commits run from a source at default priority once per
 * main-loop iteration, so that under load they run between the method
 * calls and cannot be starved. */
void
sm_store_commit (SmStore *self)
{
  g_return_if_fail (SM_IS_STORE (self));

  flush (self);
  sm_store_sync_commit (self);
}

/* The journal record of an entry's new state (or of its removal). */
static void
format_record (SmStore *self, SmStoreSection *section, const char *disk_id, GVariant *entry)
{
  GString *line = self->line;

  g_string_truncate (line, 0);
  g_string_append (line, "{\"section\":");
  sm_store_append_json_string (line, section->name);
  g_string_append (line, ",\"id\":");
  sm_store_append_json_string (line, disk_id);
  g_string_append (line, ",\"entry\":");
  if (entry != NULL)
    sm_store_append_entry (line, entry, self->scratch);
  else
    g_string_append (line, "null");
  g_string_append (line, "}");
  sm_store_frame_record (line, 0);
}

/* Records were written: they are synced at the end of this main-loop
 * iteration, and a file behind the models (a change could not be written)
 * catches up with a snapshot of them. */
static void
written (SmStore *self, gsize bytes)
{
  sm_store_sync_schedule (self);
  if (self->write_failed)
    g_message ("Writing to %s works again", self->journal_path);
  self->write_failed = FALSE;

  if (bytes > 0)
    sm_store_compact_note_append (self, bytes);
  if (self->behind && self->job == NULL)
    {
      sm_store_compact_start (self);
      if (self->job != NULL)
        self->behind = FALSE;
    }
}

/* Writes the records held back now. */
static void
flush (SmStore *self)
{
  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (self->pending->len > 0 && sm_store_journal_flush (self))
    written (self, 0);
}

static gboolean
on_flush (gpointer user_data)
{
  SmStore *self = user_data;

  self->flush_id = 0;
  flush (self);
  return G_SOURCE_REMOVE;
}

/* Writes the record in self->line; the change path's outcome is kept for
 * the caller's reply (a refused change). The records of the daemon's own
 * changes wait for the next main-loop iteration, all in one write; a
 * failure makes the store "behind" (see sm_store_journal_flush()). */
static void
write_record (SmStore *self)
{
  g_autoptr (GError) error = NULL;

  if (!self->in_change)
    {
      sm_store_journal_append_later (self, self->line);
      if (self->flush_id == 0)
        {
          self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, on_flush, self, NULL);
          g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->flush_id),
                                    "[sm-store] flush");
        }
      /* Counted now: a compaction may start (and write them) before. */
      sm_store_compact_note_append (self, self->line->len);
      return;
    }
  if (!sm_store_journal_append (self, self->line, &error))
    {
      if (!self->write_failed)
        g_warning ("Cannot write to the journal: %s; the change is refused", error->message);
      self->write_failed = TRUE;
      /* The model holds what the file does not: a snapshot catches up. */
      self->behind = TRUE;
      if (self->write_error == NULL)
        self->write_error = g_steal_pointer (&error);
      return;
    }
  written (self, self->line->len);
}

/* Writes the entry's new state (or its removal) to the journal when the
 * model changed; it is synced before the change's caller is answered. */
static void
on_model_changed (SmStorable *model G_GNUC_UNUSED, const char *id, SmStoreAttachment *attachment)
{
  SmStoreSection *section = attachment->section;
  SmStore *self = section->store;
  g_autoptr (GVariant) entry = NULL;
  g_autofree char *disk_id = NULL;

  if (self->loading)
    return;
  id = sm_store_attachment_model_id (attachment, id);
  disk_id = sm_store_attachment_disk_id (attachment, id);
  entry = sm_store_attachment_get (attachment, id, disk_id);
  sm_store_section_note (section, attachment, id, disk_id, entry != NULL);

  /* A refused change taken back: not journaled (see sm-store-sync.c). */
  if (self->dir == NULL || self->reverting)
    return;
  format_record (self, section, disk_id, entry);
  write_record (self);
}

/* Completes the compaction under way, if any, before returning. */
void
sm_store_wait (SmStore *self)
{
  g_return_if_fail (SM_IS_STORE (self));

  sm_store_compact_wait (self);
}

/* Writes a new snapshot of every section now and empties the journal, as
 * the background compaction does, but before returning. */
gboolean
sm_store_compact (SmStore *self, GError **error)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  return sm_store_compact_now (self, error);
}

gboolean
sm_store_is_writable (SmStore *self)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  return self->journal_fd >= 0;
}
