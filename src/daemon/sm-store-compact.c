/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Compaction keeps up with any load. It starts from the write path once
 * state.journal holds T = max (SM_JOURNAL_MIN_COMPACT_BYTES, 2 S) bytes, S
 * being the last snapshot's size. Its capture advances by
 * SM_CAPTURE_PER_BYTE bytes of snapshot for every byte appended (plus idle
 * slices when the loop has time), so it is complete before the new journal
 * holds half the live state; a journal that reaches T again while the
 * previous snapshot is still being written waits for that writer. Hence
 * state.journal < T + L and state.journal.old < T + L (L: one change), and
 * the start-up replay is bounded the same way.
 *
 * A compaction takes its entries from the models in slices of at most
 * this long on the main loop, so deadlines around it stay on time. */
#define SM_CAPTURE_SLICE_US 1000
#define SM_CAPTURE_PER_BYTE 2

struct _SmStoreJob
{
  SmStore *store;  /* (unowned): it waits for the writer before it goes */
  GString *out;    /* (owned) (nullable) the snapshot as captured so far */
  guint section;   /* capture cursor */
  GPtrArray *todo; /* (nullable) (element-type GRefString) ids left in that section */
  guint todo_next;
  char *dir;
  char *path;
  char *old_journal_path;
  guint n_entries;
  guint n_entries_section;
  gsize old_bytes; /* the size of the superseded journal */
  GMainContext *context;
  GThread *thread;      /* (nullable) the writer, once the capture is complete */
  GSource *done_source; /* (nullable) set by the writer */
  GError *error;        /* the writer's outcome */
  gsize written;
};

static void
job_free (SmStoreJob *job)
{
  g_assert (job->thread == NULL);
  if (job->out != NULL)
    g_string_free (job->out, TRUE);
  g_clear_pointer (&job->todo, g_ptr_array_unref);
  g_clear_pointer (&job->context, g_main_context_unref);
  if (job->done_source != NULL)
    {
      g_source_destroy (job->done_source);
      g_source_unref (job->done_source);
    }
  g_clear_error (&job->error);
  g_free (job->dir);
  g_free (job->path);
  g_free (job->old_journal_path);
  g_free (job);
}

/* Appends @src's complete lines to @dst, first cutting a torn last line
 * off @dst so that no unfinished change ends up in the middle. */
static gboolean
append_journal (const char *dst, const char *src, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *head = NULL;
  gsize length = 0, head_length = 0, keep = 0;
  const char *last;
  int fd;
  gboolean ok;

  if (!sm_store_read_file (src, &data, &length, error))
    return FALSE;
  last = g_strrstr_len (data, (gssize) length, "\n");
  length = last != NULL ? (gsize) (last - data) + 1 : 0;

  if (!sm_store_read_file (dst, &head, &head_length, error))
    return FALSE;
  last = g_strrstr_len (head, (gssize) head_length, "\n");
  keep = last != NULL ? (gsize) (last - head) + 1 : 0;

  fd = sm_store_open_regular (dst, O_WRONLY, error);
  if (fd < 0)
    return FALSE;
  ok = (keep == head_length || ftruncate (fd, (off_t) keep) == 0)
       && lseek (fd, (off_t) keep, SEEK_SET) >= 0;
  if (!ok)
    sm_store_set_errno_error (error, errno, dst);
  else
    ok = sm_store_write_all (fd, data, length, error);
  /* On disk before the caller truncates or removes @src. */
  if (ok && fdatasync (fd) < 0)
    {
      sm_store_set_errno_error (error, errno, dst);
      ok = FALSE;
    }
  close (fd);
  return ok;
}

/* The journal so far becomes the old one, and changes from now on go to a
 * fresh one: the snapshot being made supersedes the old journal only. */
static gboolean
rotate_journal (SmStore *self, GError **error)
{
  /* The records held back belong before the rotation (after it would do
   * too: they are older states the snapshot captures anyway). */
  sm_store_journal_flush (self);
  if (g_file_test (self->old_journal_path, G_FILE_TEST_EXISTS))
    {
      /* Left by a stop in mid-compaction: one old journal holds both. A
       * stop between the append and the truncation replays some changes
       * twice, which changes nothing. */
      if (!append_journal (self->old_journal_path, self->journal_path, error))
        return FALSE;
      if (ftruncate (self->journal_fd, 0) < 0)
        {
          sm_store_set_errno_error (error, errno, self->journal_path);
          return FALSE;
        }
      return TRUE;
    }
  /* Opening syncs the directory: the rename and the new journal are on
   * disk before the next change is answered from it. */
  return sm_store_journal_rename (self, self->journal_path, self->old_journal_path, error);
}

/* A failed compaction puts the old journal's changes back in front of the
 * new ones, so that the journal alone again holds everything since the
 * last good snapshot. */
static gboolean
merge_back_journal (SmStore *self, GError **error)
{
  /* Else they would go to the file the rename below unlinks. */
  sm_store_journal_flush (self);
  if (!append_journal (self->old_journal_path, self->journal_path, error))
    return FALSE;
  return sm_store_journal_rename (self, self->old_journal_path, self->journal_path, error);
}

/* Replaces @path with @data durably: a temporary file beside it, written
 * and fsynced, renamed over it, then the directory fsynced. A temporary
 * file a kill -9 leaves is removed at the next start (sm-store-load.c). */
static gboolean
write_snapshot (const char *dir, const char *path, const char *data, gsize length, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, SM_SNAPSHOT_TMP_INFIX "XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
  gboolean ok;

  if (fd < 0)
    {
      sm_store_set_errno_error (error, errno, tmp);
      return FALSE;
    }
  ok = sm_store_write_all (fd, data, length, error);
  if (ok && fsync (fd) < 0)
    {
      sm_store_set_errno_error (error, errno, tmp);
      ok = FALSE;
    }
  if (close (fd) < 0 && ok)
    {
      sm_store_set_errno_error (error, errno, tmp);
      ok = FALSE;
    }
  if (ok && g_rename (tmp, path) < 0)
    {
      sm_store_set_errno_error (error, errno, path);
      ok = FALSE;
    }
  if (!ok)
    {
      g_unlink (tmp);
      return FALSE;
    }
  return sm_store_sync_dir (dir, error);
}

/* The writer thread: replaces the snapshot with the captured text
 * (temporary file, fsync, rename); then the old journal is superseded. */
static gboolean
compact_write (SmStoreJob *job)
{
  gboolean ok;

  g_string_append (job->out, "}\n");
  job->written = job->out->len;
  ok = write_snapshot (job->dir, job->path, job->out->str, job->out->len, &job->error);
  g_string_free (job->out, TRUE);
  job->out = NULL;
  if (ok && g_unlink (job->old_journal_path) < 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", job->old_journal_path, g_strerror (errno));
#ifdef __GLIBC__
  /* The text was big: hand its pages back. */
  malloc_trim (0);
#endif
  return ok;
}

static void compact_finish (SmStore *self);

static gboolean
on_compact_done (gpointer user_data)
{
  SmStore *self = user_data;

  compact_finish (self);
  return G_SOURCE_REMOVE;
}

static gpointer
compact_thread (gpointer user_data)
{
  SmStoreJob *job = user_data;
  GSource *source;

  compact_write (job);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[sm-store] compaction done");
  g_source_set_callback (source, on_compact_done, job->store, NULL);
  job->done_source = source;
  g_source_attach (source, job->context);
  return NULL;
}

/* Opens @section in the snapshot text and takes a copy of its ids: the
 * models may change them between two slices. */
static void
capture_section_begin (SmStoreJob *job, SmStoreSection *section)
{
  GHashTableIter iter;
  gpointer id;

  job->todo = g_ptr_array_new_full (g_hash_table_size (section->ids),
                                    (GDestroyNotify) g_ref_string_release);
  g_hash_table_iter_init (&iter, section->ids);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    g_ptr_array_add (job->todo, g_ref_string_acquire (id));
  job->todo_next = 0;
  g_string_append (job->out, ",\n");
  sm_store_append_json_string (job->out, section->name);
  g_string_append (job->out, sm_store_section_is_single (section) ? ":null" : ":{");
}

/* Appends the entry's current state, if it still has one. */
static void
capture_entry (SmStore *self, SmStoreSection *section, const char *disk_id)
{
  SmStoreJob *job = self->job;
  GString *out = job->out;
  const char *id = NULL;
  SmStoreAttachment *attachment = sm_store_section_find_entry (section, disk_id, &id);
  g_autoptr (GVariant) entry = NULL;

  if (attachment == NULL)
    return;
  entry = sm_store_attachment_get (attachment, id, disk_id);
  if (entry == NULL)
    return;
  if (sm_store_section_is_single (section))
    {
      g_string_truncate (out, out->len - strlen ("null"));
      sm_store_append_entry (out, entry, self->scratch);
    }
  else
    {
      g_string_append (out, job->n_entries_section++ == 0 ? "\n" : ",\n");
      sm_store_append_json_string (out, disk_id);
      g_string_append_c (out, ':');
      sm_store_append_entry (out, entry, self->scratch);
    }
  job->n_entries++;
}

/* Takes entries from the models until the slice's time is up; TRUE when
 * every section is captured. Each entry is its current state: one that
 * changed after the rotation is in the new journal too, which wins. Each
 * is encoded at once, so that the snapshot costs one string and no entry
 * outlives its turn. */
static gboolean
compact_capture (SmStore *self, gint64 budget_us, gsize budget_bytes)
{
  SmStoreJob *job = self->job;
  gint64 end = budget_us < 0 ? G_MAXINT64 : g_get_monotonic_time () + budget_us;
  gsize end_len = budget_bytes == G_MAXSIZE ? G_MAXSIZE : job->out->len + budget_bytes;

  while (job->section < self->sections->len)
    {
      SmStoreSection *section = self->sections->pdata[job->section];

      if (job->todo == NULL)
        capture_section_begin (job, section);
      while (job->todo_next < job->todo->len)
        {
          capture_entry (self, section, job->todo->pdata[job->todo_next++]);
          if (job->out->len >= end_len)
            return FALSE;
          if ((job->todo_next & 15) == 0 && g_get_monotonic_time () >= end)
            return FALSE;
        }
      if (!sm_store_section_is_single (section))
        g_string_append_c (job->out, '}');
      g_clear_pointer (&job->todo, g_ptr_array_unref);
      job->n_entries_section = 0;
      job->section++;
    }
  return TRUE;
}

static void
compact_launch (SmStore *self)
{
  SmStoreJob *job = self->job;
  g_autoptr (GError) error = NULL;

  job->thread = g_thread_try_new ("sm-store", compact_thread, job, &error);
  if (job->thread == NULL)
    {
      /* No thread: write from here, late rather than never. */
      g_debug ("Cannot start a writer thread (%s); writing the snapshot in place", error->message);
      compact_write (job);
      compact_finish (self);
      return;
    }
}

static gboolean
on_capture_idle (gpointer user_data)
{
  SmStore *self = user_data;

  if (!compact_capture (self, SM_CAPTURE_SLICE_US, G_MAXSIZE))
    return G_SOURCE_CONTINUE;
  self->capture_id = 0;
  compact_launch (self);
  return G_SOURCE_REMOVE;
}

/* Back on the main thread once the writer is done (or from
 * sm_store_wait()): either the new snapshot is in place and the old
 * journal gone, or the old journal goes back in front of the new one. */
static void
compact_finish (SmStore *self)
{
  SmStoreJob *job = self->job;
  g_autoptr (GError) error = NULL;

  if (job->thread != NULL)
    {
      g_thread_join (job->thread);
      job->thread = NULL;
    }
  self->job = NULL;

  if (job->error == NULL)
    {
      self->snapshot_size = job->written;
      self->compact_after = MAX (SM_JOURNAL_MIN_COMPACT_BYTES, 2 * job->written);
      g_debug ("Wrote %s with %u entries", job->path, job->n_entries);
    }
  else
    {
      g_warning ("Cannot write the state snapshot %s: %s; changes go on being journaled", job->path,
                 job->error->message);
      if (!merge_back_journal (self, &error))
        g_warning ("Cannot merge %s back into %s: %s; both are read at the next start",
                   self->old_journal_path, self->journal_path, error->message);
      self->journal_bytes += job->old_bytes;
      /* Not again at the next change: after as many bytes again. */
      self->compact_after =
          self->journal_bytes + MAX (SM_JOURNAL_MIN_COMPACT_BYTES, 2 * self->snapshot_size);
    }
  job_free (job);
}

/* Starts folding the journal into a new snapshot, in the background: the
 * journal is rotated at once, the entries are taken from the models in
 * short slices on the main loop, and a thread writes them. */
void
sm_store_compact_start (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  SmStoreJob *job;

  if (self->job != NULL || self->journal_fd < 0)
    return;
  if (!rotate_journal (self, &error))
    {
      g_warning ("Cannot start a new journal: %s; changes go on being journaled where they "
                 "are",
                 error->message);
      self->compact_after = self->journal_bytes + SM_JOURNAL_MIN_COMPACT_BYTES;
      return;
    }

  job = g_new0 (SmStoreJob, 1);
  job->store = self;
  job->out = g_string_sized_new (self->snapshot_size + self->snapshot_size / 8 + 4096);
  g_string_append_printf (job->out, "{\"version\":%d", SM_STORE_VERSION);
  job->dir = g_strdup (self->dir);
  job->path = g_strdup (self->path);
  job->old_journal_path = g_strdup (self->old_journal_path);
  job->old_bytes = self->journal_bytes;
  job->context = g_main_context_ref_thread_default ();
  self->job = job;
  self->journal_bytes = 0;
  self->capture_id = g_idle_add_full (G_PRIORITY_LOW, on_capture_idle, self, NULL);
}

/* At finalization: a snapshot being written is completed; one still being
 * captured is dropped: its old journal is replayed at the next start. */
void
sm_store_compact_stop (SmStore *self)
{
  g_clear_handle_id (&self->capture_id, g_source_remove);
  if (self->job != NULL && self->job->thread != NULL)
    compact_finish (self);
  g_clear_pointer (&self->job, job_free);
}

/* Completes the compaction under way, if any, before returning. */
void
sm_store_compact_wait (SmStore *self)
{
  if (self->job == NULL)
    return;
  if (self->capture_id != 0)
    {
      g_clear_handle_id (&self->capture_id, g_source_remove);
      compact_capture (self, -1, G_MAXSIZE);
      compact_launch (self);
    }
  if (self->job != NULL)
    compact_finish (self);
}

/* The write path's trigger, after @bytes were appended to the journal:
 * advances the capture under way in proportion, starts a compaction once
 * the journal is big enough, and makes the caller wait for a writer that
 * has fallen behind (see the top of this file). */
void
sm_store_compact_note_append (SmStore *self, gsize bytes)
{
  self->journal_bytes += bytes;
  if (self->job != NULL && self->capture_id != 0
      && compact_capture (self, -1, SM_CAPTURE_PER_BYTE * bytes))
    {
      g_clear_handle_id (&self->capture_id, g_source_remove);
      compact_launch (self);
    }
  if (self->journal_bytes < self->compact_after)
    return;
  if (self->job != NULL)
    {
      gint64 start = g_get_monotonic_time ();

      sm_store_compact_wait (self);
      g_debug ("The journal outgrew the snapshot being written: waited %" G_GINT64_FORMAT
               " ms for it",
               (g_get_monotonic_time () - start) / 1000);
      if (self->journal_bytes < self->compact_after)
        return;
    }
  sm_store_compact_start (self);
}

/* Writes a new snapshot of every section now and empties the journal, as
 * the background compaction does, but before returning. */
gboolean
sm_store_compact_now (SmStore *self, GError **error)
{
  if (self->dir == NULL)
    return TRUE;
  sm_store_compact_wait (self);
  if (self->journal_fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "%s is not open",
                   self->journal_path);
      return FALSE;
    }
  sm_store_compact_start (self);
  if (self->job == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start a new journal in %s",
                   self->dir);
      return FALSE;
    }
  g_clear_handle_id (&self->capture_id, g_source_remove);
  compact_capture (self, -1, G_MAXSIZE);
  compact_write (self->job);
  if (self->job->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->job->error));
      compact_finish (self);
      return FALSE;
    }
  compact_finish (self);
  return TRUE;
}
