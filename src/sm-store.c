#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define SM_STATE_FILE "state.json"
#define SM_JOURNAL_FILE "state.journal"
/* The journal a running compaction supersedes (see sm_store_compact). */
#define SM_OLD_JOURNAL_FILE "state.journal.old"

G_DEFINE_TYPE (SmStore, sm_store, G_TYPE_OBJECT)

static void
sm_store_section_free (SmStoreSection *section)
{
  g_clear_signal_handler (&section->changed_id, section->model);
  g_clear_object (&section->model);
  g_clear_pointer (&section->pending, g_hash_table_unref);
  g_clear_pointer (&section->ids, g_hash_table_unref);
  g_free (section->name);
  g_free (section->id_key);
  g_free (section);
}

static void
sm_store_finalize (GObject *object)
{
  SmStore *self = SM_STORE (object);

  sm_store_compact_stop (self);
  g_clear_pointer (&self->sections, g_ptr_array_unref);
  if (self->journal_fd >= 0)
    close (self->journal_fd);
  g_string_free (self->line, TRUE);
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
  self->scratch = g_byte_array_sized_new (1024);
  self->journal_fd = -1;
  self->compact_after = SM_JOURNAL_MIN_COMPACT_BYTES;
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

static void on_model_changed (GObject *model, const char *id, SmStoreSection *section);

void
sm_store_add_section (SmStore *self,
                      const char *name,
                      GObject *model,
                      const char *id_key,
                      SmStoreGetFunc get,
                      SmStoreRestoreFunc restore)
{
  SmStoreSection *section;

  g_return_if_fail (SM_IS_STORE (self));
  g_return_if_fail (G_IS_OBJECT (model));

  section = g_new0 (SmStoreSection, 1);
  section->store = self;
  section->name = g_strdup (name);
  section->model = g_object_ref (model);
  section->id_key = g_strdup (id_key);
  section->get = get;
  section->restore = restore;
  section->pending =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  section->ids =
      g_hash_table_new_full (g_str_hash, g_str_equal, (GDestroyNotify) g_ref_string_release, NULL);
  section->changed_id = g_signal_connect (model, "changed", G_CALLBACK (on_model_changed), section);
  g_ptr_array_add (self->sections, section);
}

void
sm_store_set_errno_error (GError **error, int saved_errno, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", path,
               g_strerror (saved_errno));
}

gboolean
sm_store_write_all (int fd, const char *data, gsize length, GError **error)
{
  while (length > 0)
    {
      gssize n = write (fd, data, length);

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s",
                       g_strerror (saved_errno));
          return FALSE;
        }
      data += n;
      length -= (gsize) n;
    }
  return TRUE;
}

gboolean
sm_store_open_journal (SmStore *self, GError **error)
{
  if (self->journal_fd >= 0)
    return TRUE;
  self->journal_fd = g_open (self->journal_path,
                             O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                             S_IRUSR | S_IWUSR);
  if (self->journal_fd < 0)
    {
      sm_store_set_errno_error (error, errno, self->journal_path);
      return FALSE;
    }
  return TRUE;
}

void
sm_store_close_journal (SmStore *self)
{
  if (self->journal_fd >= 0)
    close (self->journal_fd);
  self->journal_fd = -1;
}

/* Appends the entry's new state (or its removal) to the journal before the
 * change's caller is answered: write(2) alone survives kill -9. */
static void
on_model_changed (GObject *model, const char *id, SmStoreSection *section)
{
  SmStore *self = section->store;
  g_autoptr (GVariant) entry = NULL;
  g_autoptr (GError) error = NULL;
  GString *line = self->line;

  if (self->loading)
    return;
  if (section->id_key == NULL)
    id = "";

  entry = section->get (model, id);
  if (entry != NULL)
    {
      g_variant_ref_sink (entry);
      if (!g_hash_table_contains (section->ids, id))
        g_hash_table_add (section->ids, g_ref_string_new (id));
    }
  else
    g_hash_table_remove (section->ids, id);

  if (self->journal_fd < 0)
    return;

  g_string_truncate (line, 0);
  g_string_append (line, "{\"section\":");
  sm_store_append_json_string (line, section->name);
  g_string_append (line, ",\"id\":");
  sm_store_append_json_string (line, id);
  g_string_append (line, ",\"entry\":");
  if (entry != NULL)
    sm_store_append_entry (line, entry, self->scratch);
  else
    g_string_append (line, "null");
  g_string_append (line, "}\n");

  if (!sm_store_write_all (self->journal_fd, line->str, line->len, &error))
    {
      if (!self->write_failed)
        g_warning ("Cannot append to %s: %s; recent changes may not survive a restart",
                   self->journal_path, error->message);
      self->write_failed = TRUE;
      return;
    }
  self->write_failed = FALSE;

  sm_store_compact_note_append (self, line->len);
}

gboolean
sm_store_is_writable (SmStore *self)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  return self->journal_fd >= 0;
}

const char *
sm_store_get_path (SmStore *self)
{
  g_return_val_if_fail (SM_IS_STORE (self), NULL);

  return self->path;
}
