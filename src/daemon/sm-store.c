/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include "sm-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SM_STATE_FILE "state.json"
#define SM_JOURNAL_FILE "state.journal"
/* The journal a running compaction supersedes (see sm_store_compact). */
#define SM_OLD_JOURNAL_FILE "state.journal.old"
/* Room reserved ahead in the journal at a time: one fallocate(2) covers
 * hundreds of changes. */
#define SM_JOURNAL_RESERVE (256 * 1024)

G_DEFINE_TYPE (SmStore, sm_store, G_TYPE_OBJECT)

/* A reply held until its change is durable, with what takes the change
 * back out of memory if it cannot be made so. */
typedef struct
{
  GDBusMethodInvocation *invocation; /* (owned) */
  SmStoreUndoFunc undo;              /* (nullable) */
  gpointer data;
  GDestroyNotify destroy;
} SmStoreHeld;

static void
held_free (SmStoreHeld *held)
{
  g_object_unref (held->invocation);
  if (held->destroy != NULL)
    held->destroy (held->data);
  g_free (held);
}

static GPtrArray *
held_array_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) held_free);
}

/* Takes the changes of @held back out of memory, newest first, without
 * journaling that (the disk just failed; the models are written whole in
 * the next snapshot, see "behind"). */
static void
revert (SmStore *self, GPtrArray *held)
{
  gboolean was_reverting = self->reverting;

  self->reverting = TRUE;
  for (guint i = held->len; i > 0; i--)
    {
      SmStoreHeld *h = held->pdata[i - 1];

      if (h->undo != NULL)
        h->undo (h->data);
      h->undo = NULL;
    }
  self->reverting = was_reverting;
}

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

  /* Replies still held are answered once their changes are synced. */
  sm_store_commit (self);
  sm_store_compact_stop (self);
  g_clear_pointer (&self->sections, g_ptr_array_unref);
  sm_store_close_journal (self);
  g_clear_pointer (&self->held, g_ptr_array_unref);
  g_clear_error (&self->write_error);
  g_clear_error (&self->sync_error);
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
  self->held = held_array_new ();
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

/* fsync(2) of a directory: the names created, renamed or removed in it
 * are on disk. */
gboolean
sm_store_sync_dir (const char *dir, GError **error)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  int saved_errno;

  if (fd < 0)
    {
      sm_store_set_errno_error (error, errno, dir);
      return FALSE;
    }
  if (fsync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved_errno = errno;
  close (fd);
  /* Some file systems cannot sync a directory; theirs is synchronous. */
  if (saved_errno == EINVAL || saved_errno == ENOTSUP)
    return TRUE;
  sm_store_set_errno_error (error, saved_errno, dir);
  return FALSE;
}

/* Opens the journal if it is not open (again after a failed attempt: the
 * next change retries, writing never stops for good). */
gboolean
sm_store_open_journal (SmStore *self, GError **error)
{
  struct stat st = { 0 };

  if (self->journal_fd >= 0)
    return TRUE;
  if (self->dir == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "no state directory");
      return FALSE;
    }
  if (g_mkdir_with_parents (self->dir, S_IRWXU) < 0)
    {
      sm_store_set_errno_error (error, errno, self->dir);
      return FALSE;
    }
  /* Read too: to see whether the last record is complete. Never through a
   * symlink, never blocking on a FIFO (checked below). */
  self->journal_fd =
      g_open (self->journal_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
              S_IRUSR | S_IWUSR);
  if (self->journal_fd < 0)
    {
      sm_store_set_errno_error (error, errno, self->journal_path);
      return FALSE;
    }
  if (fstat (self->journal_fd, &st) < 0)
    sm_store_set_errno_error (error, errno, self->journal_path);
  else if (!S_ISREG (st.st_mode))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: not a regular file",
                 self->journal_path);
  if (!S_ISREG (st.st_mode))
    {
      close (self->journal_fd);
      self->journal_fd = -1;
      return FALSE;
    }
  /* The journal's name must survive a power cut too (it may be new, or
   * renamed by a rotation): sync the directory once per open. */
  if (!sm_store_sync_dir (self->dir, error))
    {
      close (self->journal_fd);
      self->journal_fd = -1;
      return FALSE;
    }
  self->journal_end = self->reserved_end = self->synced_end = st.st_size;
  self->journal_generation++;
  self->torn = FALSE;
  /* A torn last record from an earlier run (cut short by a crash): the
   * next record starts on a line of its own, the fragment stays a damaged
   * line the loader skips. */
  self->need_newline = FALSE;
  if (st.st_size > 0)
    {
      char last = '\n';

      if (pread (self->journal_fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
        self->need_newline = TRUE;
    }
  return TRUE;
}

/* After a failed fdatasync: nothing written since the last good one can
 * be trusted (the kernel may have dropped those pages and report the next
 * sync clean), and every change since is refused and taken back out of
 * memory: its records go too, so that the journal never replays a refused
 * change. Changes the daemon made itself go with them: "behind" writes a
 * snapshot of the models once writing works. */
static void
cut_unsynced (SmStore *self)
{
  if (self->journal_fd < 0 || self->journal_end <= self->synced_end)
    return;
  if (ftruncate (self->journal_fd, (off_t) self->synced_end) < 0)
    {
      g_warning ("Cannot cut the unsynced records off %s: %s", self->journal_path,
                 g_strerror (errno));
      /* Tried again before the next append. */
      self->torn = TRUE;
    }
  self->journal_end = self->synced_end;
  self->reserved_end = MIN (self->reserved_end, self->journal_end);
  /* The truncation itself is synced with the next batch. */
  self->unsynced = TRUE;
}

/* One fdatasync(2) for every record written since the last one; a failure
 * is kept for the replies of the batch. */
static void
sync_journal (SmStore *self)
{
  if (!self->unsynced)
    return;
  self->unsynced = FALSE;
  if (self->journal_fd >= 0 && fdatasync (self->journal_fd) == 0)
    {
      self->synced_end = self->journal_end;
      return;
    }
  if (self->sync_error == NULL)
    {
      sm_store_set_errno_error (&self->sync_error, self->journal_fd >= 0 ? errno : EBADF,
                                self->journal_path);
      g_prefix_error (&self->sync_error, "cannot sync: ");
    }
  g_warning ("%s; the changes of this moment are refused, a full snapshot follows once "
             "writing works",
             self->sync_error->message);
  /* What was written may or may not be on disk: the snapshot settles it. */
  self->behind = TRUE;
  cut_unsynced (self);
  self->unsynced = FALSE;
}

void
sm_store_close_journal (SmStore *self)
{
  if (self->journal_fd >= 0)
    {
      sync_journal (self);
      close (self->journal_fd);
    }
  self->journal_fd = -1;
}

/* The journal's current size: a compaction may have emptied it. */
static gboolean
journal_size (SmStore *self, GError **error)
{
  struct stat st;

  if (fstat (self->journal_fd, &st) < 0)
    {
      sm_store_set_errno_error (error, errno, self->journal_path);
      return FALSE;
    }
  if (st.st_size != self->journal_end)
    {
      /* Truncated behind our back: what was reserved went with it. */
      self->journal_end = st.st_size;
      self->reserved_end = MIN (self->reserved_end, st.st_size);
      self->synced_end = MIN (self->synced_end, st.st_size);
    }
  return TRUE;
}

/* The journal is open and ends with an intact record: a short write is cut
 * off before anything is appended after it. */
static gboolean
ensure_journal (SmStore *self, GError **error)
{
  if (!sm_store_open_journal (self, error))
    return FALSE;
  if (self->torn)
    {
      if (ftruncate (self->journal_fd, (off_t) self->journal_end) < 0)
        {
          sm_store_set_errno_error (error, errno, self->journal_path);
          g_prefix_error (error, "cannot cut off a torn record: ");
          return FALSE;
        }
      self->torn = FALSE;
      self->reserved_end = MIN (self->reserved_end, self->journal_end);
    }
  return journal_size (self, error);
}

/* Allocates room for @size more bytes of journal, so that the record's
 * write(2) cannot fail for want of space: a full disk refuses the change
 * before it is made. File systems without fallocate(2) are written to
 * directly (a failure is then known only at the write). */
static gboolean
reserve (SmStore *self, gsize size, GError **error)
{
  gint64 need = self->journal_end + (gint64) size;
  struct rlimit limit;

  /* A file-size limit fails the write with EFBIG, whatever is reserved. */
  if (getrlimit (RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
      && (guint64) need > (guint64) limit.rlim_cur)
    {
      sm_store_set_errno_error (error, EFBIG, self->journal_path);
      return FALSE;
    }
  if (self->no_fallocate || need <= self->reserved_end)
    return TRUE;
  for (gint64 length = MAX ((gint64) size, SM_JOURNAL_RESERVE);; length = (gint64) size)
    {
      if (fallocate (self->journal_fd, FALLOC_FL_KEEP_SIZE, (off_t) self->journal_end,
                     (off_t) length)
          == 0)
        {
          self->reserved_end = self->journal_end + length;
          return TRUE;
        }
      if (errno == EOPNOTSUPP || errno == ENOSYS)
        {
          self->no_fallocate = TRUE;
          return TRUE;
        }
      if (errno != ENOSPC || length == (gint64) size)
        break;
    }
  sm_store_set_errno_error (error, errno, self->journal_path);
  return FALSE;
}

static void
set_storage_error (SmStore *self, GError **error, const GError *cause)
{
  g_set_error (error, SM_ERROR, SM_ERROR_STORAGE_FAILED,
               "the change cannot be made durable in %s: %s; nothing was changed", self->dir,
               cause->message);
}

/* Before a change a caller is waiting for: TRUE when its record (at most
 * @size bytes) can be written, else StorageFailed naming the cause, and the
 * caller changes nothing. Without a state directory (--no-persist) always
 * TRUE. */
gboolean
sm_store_prepare (SmStore *self, gsize size, GError **error)
{
  g_autoptr (GError) cause = NULL;

  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  g_clear_error (&self->write_error);
  self->in_change = FALSE;
  if (self->dir == NULL)
    return TRUE;
  if (!ensure_journal (self, &cause) || !reserve (self, size, &cause))
    {
      if (!self->write_failed)
        g_warning ("Refusing changes: %s", cause->message);
      self->write_failed = TRUE;
      set_storage_error (self, error, cause);
      return FALSE;
    }
  self->in_change = TRUE;
  return TRUE;
}

/* One group commit: the fdatasync(2) of a batch runs in a worker thread,
 * so that the main loop goes on taking (and writing) the next calls while
 * the disk works; their replies wait for the next sync. */
struct _SmStoreSync
{
  gatomicrefcount ref;
  SmStore *store;     /* (unowned) (nullable): main thread only; NULL once it is gone */
  int fd;             /* (owned) a dup of the journal's: rotation may close that */
  GPtrArray *held;    /* (owned) the batch's SmStoreHeld */
  GError *sync_error; /* (owned) (nullable) a failure known before this sync */
  guint generation;   /* the journal file synced (see journal_generation) */
  gint64 end;         /* its size when the sync started */
  int sync_errno;
  gboolean done;
  GMutex mutex;
  GCond cond;
};

static void
sync_unref (SmStoreSync *sync)
{
  if (!g_atomic_ref_count_dec (&sync->ref))
    return;
  g_assert (sync->done && sync->held->len == 0);
  g_ptr_array_unref (sync->held);
  g_clear_error (&sync->sync_error);
  g_mutex_clear (&sync->mutex);
  g_cond_clear (&sync->cond);
  g_free (sync);
}

/* Answers the replies of @held; when @sync_error is set, after taking
 * their changes back (if not done yet). */
static void
answer (SmStore *self, GPtrArray *held, const GError *sync_error)
{
  if (sync_error != NULL)
    revert (self, held);
  for (guint i = 0; i < held->len; i++)
    {
      GDBusMethodInvocation *invocation =
          g_object_ref (((SmStoreHeld *) held->pdata[i])->invocation);

      if (sync_error == NULL)
        g_dbus_method_invocation_return_value (invocation, NULL);
      else
        g_dbus_method_invocation_return_error (invocation, SM_ERROR, SM_ERROR_STORAGE_FAILED,
                                               "the change cannot be made durable in %s: %s",
                                               self->dir, sync_error->message);
    }
  g_ptr_array_set_size (held, 0);
}

static void
sync_thread (GTask *task G_GNUC_UNUSED,
             gpointer source G_GNUC_UNUSED,
             gpointer task_data,
             GCancellable *cancellable G_GNUC_UNUSED)
{
  SmStoreSync *sync = task_data;
  int saved_errno = 0;

  if (sync->fd >= 0 && fdatasync (sync->fd) < 0)
    saved_errno = errno;
  g_mutex_lock (&sync->mutex);
  sync->sync_errno = saved_errno;
  sync->done = TRUE;
  g_cond_broadcast (&sync->cond);
  g_mutex_unlock (&sync->mutex);
}

static void schedule_commit (SmStore *self);

/* On the main thread: the batch is durable (or not); answer it. */
static void
sync_finish (SmStore *self, SmStoreSync *sync)
{
  g_mutex_lock (&sync->mutex);
  while (!sync->done)
    g_cond_wait (&sync->cond, &sync->mutex);
  g_mutex_unlock (&sync->mutex);
  if (sync->fd >= 0)
    close (sync->fd);
  sync->fd = -1;
  sync->store = NULL;
  self->syncing = NULL;
  if (sync->sync_errno != 0 && sync->sync_error == NULL)
    {
      sm_store_set_errno_error (&sync->sync_error, sync->sync_errno, self->journal_path);
      g_prefix_error (&sync->sync_error, "cannot sync: ");
      g_warning ("%s; the changes of this moment are refused, a full snapshot follows once "
                 "writing works",
                 sync->sync_error->message);
      self->behind = TRUE;
    }
  if (sync->sync_error != NULL)
    {
      /* The changes made since are refused too (see cut_unsynced()):
       * newest first, each is taken back out of memory. */
      if (sync->generation == self->journal_generation)
        cut_unsynced (self);
      revert (self, self->held);
      revert (self, sync->held);
      answer (self, sync->held, sync->sync_error);
      answer (self, self->held, sync->sync_error);
      return;
    }
  if (sync->generation == self->journal_generation)
    self->synced_end = MAX (self->synced_end, sync->end);
  answer (self, sync->held, NULL);
}

static void
on_sync_done (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  SmStoreSync *sync = g_task_get_task_data (G_TASK (result));
  SmStore *self = sync->store;

  (void) user_data;
  if (self == NULL)
    return;
  sync_finish (self, sync);
  if (self->unsynced || self->held->len > 0)
    schedule_commit (self);
}

/* Starts syncing what was written, for the replies held until now. */
static void
commit_start (SmStore *self)
{
  g_autoptr (GTask) task = NULL;
  SmStoreSync *sync;

  /* The iteration's changes are over. */
  self->in_change = FALSE;
  if (self->syncing != NULL || (self->held->len == 0 && !self->unsynced))
    return;
  if (!self->unsynced || self->journal_fd < 0)
    {
      /* Nothing left to sync (a rotation synced it): answer at once. */
      g_autoptr (GError) sync_error = g_steal_pointer (&self->sync_error);

      self->unsynced = FALSE;
      answer (self, self->held, sync_error);
      return;
    }
  sync = g_new0 (SmStoreSync, 1);
  g_atomic_ref_count_init (&sync->ref);
  g_mutex_init (&sync->mutex);
  g_cond_init (&sync->cond);
  sync->store = self;
  sync->fd = dup (self->journal_fd);
  sync->held = g_steal_pointer (&self->held);
  self->held = held_array_new ();
  sync->sync_error = g_steal_pointer (&self->sync_error);
  sync->generation = self->journal_generation;
  sync->end = self->journal_end;
  self->unsynced = FALSE;
  self->syncing = sync;
  if (sync->fd < 0)
    {
      sync->sync_errno = errno;
      sync->done = TRUE;
      sync_finish (self, sync);
      sync_unref (sync);
      return;
    }
  task = g_task_new (NULL, NULL, on_sync_done, NULL);
  g_task_set_name (task, "[sm-store] sync");
  g_task_set_task_data (task, sync, (GDestroyNotify) sync_unref);
  g_task_run_in_thread (task, sync_thread);
}

static gboolean
on_commit (gpointer user_data)
{
  SmStore *self = SM_STORE (user_data);

  self->commit_id = 0;
  commit_start (self);
  return G_SOURCE_REMOVE;
}

/* Syncs what was written and answers every reply held, before returning
 * (at finalization, and in tests). The daemon's commits run from a source
 * at default priority once per main-loop iteration, so that under load
 * they run between the method calls and cannot be starved. */
void
sm_store_commit (SmStore *self)
{
  g_autoptr (GError) sync_error = NULL;

  g_return_if_fail (SM_IS_STORE (self));

  g_clear_handle_id (&self->commit_id, g_source_remove);
  if (self->syncing != NULL)
    sync_finish (self, self->syncing);
  sync_journal (self);
  sync_error = g_steal_pointer (&self->sync_error);
  answer (self, self->held, sync_error);
}

static void
schedule_commit (SmStore *self)
{
  if (self->commit_id == 0)
    {
      self->commit_id = g_idle_add_full (G_PRIORITY_DEFAULT, on_commit, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->commit_id),
                                "[sm-store] commit");
    }
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
  SmStoreHeld *held;

  g_return_if_fail (SM_IS_STORE (self));

  held = g_new0 (SmStoreHeld, 1);
  held->invocation = invocation;
  held->undo = undo;
  held->data = data;
  held->destroy = destroy;
  self->in_change = FALSE;
  if (self->write_error != NULL)
    {
      g_autoptr (GPtrArray) failed = held_array_new ();
      g_autoptr (GError) cause = g_steal_pointer (&self->write_error);

      g_ptr_array_add (failed, held);
      answer (self, failed, cause);
      return;
    }
  if (!self->unsynced && self->commit_id == 0)
    {
      g_dbus_method_invocation_return_value (g_object_ref (invocation), NULL);
      held_free (held);
      return;
    }
  g_ptr_array_add (self->held, held);
  schedule_commit (self);
}

void
sm_store_complete (SmStore *self, GDBusMethodInvocation *invocation)
{
  sm_store_complete_full (self, invocation, NULL, NULL, NULL);
}

/* Appends one record; a short write is cut off at once (or before the next
 * append, if that fails too). */
static gboolean
append_record (SmStore *self, GString *line, GError **error)
{
  if (!ensure_journal (self, error))
    return FALSE;
  if (self->need_newline)
    {
      if (!sm_store_write_all (self->journal_fd, "\n", 1, error))
        {
          g_prefix_error (error, "%s: ", self->journal_path);
          return FALSE;
        }
      self->need_newline = FALSE;
      self->journal_end++;
    }
  if (!sm_store_write_all (self->journal_fd, line->str, line->len, error))
    {
      g_prefix_error (error, "%s: ", self->journal_path);
      self->torn = TRUE;
      ensure_journal (self, NULL);
      return FALSE;
    }
  self->journal_end += (gint64) line->len;
  self->unsynced = TRUE;
  schedule_commit (self);
  return TRUE;
}

/* Writes the entry's new state (or its removal) to the journal when the
 * model changed; it is synced before the change's caller is answered. */
static void
on_model_changed (GObject *model, const char *id, SmStoreSection *section)
{
  SmStore *self = section->store;
  g_autoptr (GVariant) entry = NULL;
  g_autoptr (GError) error = NULL;
  GString *line = self->line;
  gsize json_start;

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

  /* A refused change taken back: not journaled (see revert()). */
  if (self->dir == NULL || self->reverting)
    return;

  g_string_truncate (line, 0);
  json_start = line->len;
  g_string_append (line, "{\"section\":");
  sm_store_append_json_string (line, section->name);
  g_string_append (line, ",\"id\":");
  sm_store_append_json_string (line, id);
  g_string_append (line, ",\"entry\":");
  if (entry != NULL)
    sm_store_append_entry (line, entry, self->scratch);
  else
    g_string_append (line, "null");
  g_string_append (line, "}");
  sm_store_frame_record (line, json_start);

  if (!append_record (self, line, &error))
    {
      if (!self->write_failed)
        g_warning ("Cannot write to the journal: %s; %s", error->message,
                   self->in_change ? "the change is refused"
                                   : "a full snapshot is written once writing works again");
      self->write_failed = TRUE;
      /* The model holds what the file does not: a snapshot catches up. */
      self->behind = TRUE;
      if (self->in_change && self->write_error == NULL)
        self->write_error = g_steal_pointer (&error);
      return;
    }
  if (self->write_failed)
    g_message ("Writing to %s works again", self->journal_path);
  self->write_failed = FALSE;

  sm_store_compact_note_append (self, line->len);
  /* The file is behind the models (a change could not be written): a
   * snapshot of them catches it up. */
  if (self->behind && self->job == NULL)
    {
      sm_store_compact_start (self);
      if (self->job != NULL)
        self->behind = FALSE;
    }
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
