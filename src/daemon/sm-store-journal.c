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

/* The journal's I/O: opening it (again after a failure), cutting off a torn
 * record, reserving room before a change, appending records and syncing
 * them (when: see the group commit, sm-store-sync.c). */

/* Room reserved ahead in the journal at a time: one fallocate(2) covers
 * hundreds of changes. */
#define SM_JOURNAL_RESERVE (256 * 1024)

/* Opens the journal if it is not open (again after a failed attempt: the
 * next change retries, writing never stops for good). */
gboolean
sm_store_journal_open (SmStore *self, GError **error)
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

/* Renames one journal file to the other (a compaction's rotation and
 * its undoing) and opens state.journal again. */
gboolean
sm_store_journal_rename (SmStore *self, const char *from, const char *to, GError **error)
{
  if (g_rename (from, to) < 0)
    {
      sm_store_set_errno_error (error, errno, from);
      return FALSE;
    }
  sm_store_journal_close (self);
  return sm_store_journal_open (self, error);
}

/* After a failed fdatasync: nothing written since the last good one can
 * be trusted (the kernel may have dropped those pages and report the next
 * sync clean), and every change since is refused and taken back out of
 * memory: its records go too, so that the journal never replays a refused
 * change. Changes the daemon made itself go with them: "behind" writes a
 * snapshot of the models once writing works. */
void
sm_store_journal_cut_unsynced (SmStore *self)
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

/* One fdatasync(2) for every record written since the last one (and those
 * held back); a failure is kept for the replies of the batch. */
void
sm_store_journal_sync (SmStore *self)
{
  sm_store_journal_flush (self);
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
  sm_store_journal_cut_unsynced (self);
  self->unsynced = FALSE;
}

void
sm_store_journal_close (SmStore *self)
{
  if (self->journal_fd >= 0)
    {
      sm_store_journal_sync (self);
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
  if (!sm_store_journal_open (self, error))
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
sm_store_journal_prepare (SmStore *self, gsize size, GError **error)
{
  g_autoptr (GError) cause = NULL;

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

/* Appends records; a short write is cut off at once (or before the next
 * append, if that fails too). */
static gboolean
append_now (SmStore *self, GString *line, GError **error)
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
  return TRUE;
}

/* Holds back the record of a change the daemon made itself (an expiry, a
 * warning sent): the records of one main-loop iteration are written
 * together by sm_store_journal_flush(), with one write(2) instead of a
 * write and an fstat each. Nobody waits for them; their signals are out
 * already, and a record lost in a crash only has its change announced
 * again. */
void
sm_store_journal_append_later (SmStore *self, GString *line)
{
  g_string_append_len (self->pending, line->str, (gssize) line->len);
}

/* Writes the records held back; FALSE (and the store "behind": the models
 * are written whole once writing works again) when that failed. */
gboolean
sm_store_journal_flush (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (self->pending->len == 0)
    return TRUE;
  ok = append_now (self, self->pending, &error);
  g_string_truncate (self->pending, 0);
  if (!ok)
    {
      if (!self->write_failed)
        g_warning ("Cannot write to the journal: %s; a full snapshot is written once writing "
                   "works again",
                   error->message);
      self->write_failed = TRUE;
      self->behind = TRUE;
    }
  return ok;
}

/* Appends one record, after those held back. */
gboolean
sm_store_journal_append (SmStore *self, GString *line, GError **error)
{
  sm_store_journal_flush (self);
  return append_now (self, line, error);
}
