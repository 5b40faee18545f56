/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include "sm-error.h"

#include <errno.h>
#include <unistd.h>

/* The group commit: the replies of the changes of one main-loop iteration
 * are held until one fdatasync(2) of the journal, in a worker thread, has
 * made their records durable; when it fails, the changes are taken back
 * out of memory and refused. */

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

GPtrArray *
sm_store_held_array_new (void)
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

static void commit_start (SmStore *self);

/* On the main thread: the batch is durable (or not); answer it. With
 * @pipeline, the next batch's sync is started first, so that the disk
 * works on it while this one's replies are sent. */
static void
sync_finish (SmStore *self, SmStoreSync *sync, gboolean pipeline)
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
      /* The changes made since are refused too (see sm_store_journal_cut_unsynced()):
       * newest first, each is taken back out of memory. */
      if (sync->generation == self->journal_generation)
        sm_store_journal_cut_unsynced (self);
      revert (self, self->held);
      revert (self, sync->held);
      answer (self, sync->held, sync->sync_error);
      answer (self, self->held, sync->sync_error);
      return;
    }
  if (sync->generation == self->journal_generation)
    self->synced_end = MAX (self->synced_end, sync->end);
  /* Only a real sync goes first: replies that need none would overtake
   * this batch's. */
  if (pipeline && self->unsynced && self->journal_fd >= 0)
    commit_start (self);
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
  sync_finish (self, sync, TRUE);
  if (self->syncing == NULL && (self->unsynced || self->held->len > 0))
    sm_store_sync_schedule (self);
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
  self->held = sm_store_held_array_new ();
  sync->sync_error = g_steal_pointer (&self->sync_error);
  sync->generation = self->journal_generation;
  sync->end = self->journal_end;
  self->unsynced = FALSE;
  self->syncing = sync;
  if (sync->fd < 0)
    {
      sync->sync_errno = errno;
      sync->done = TRUE;
      sync_finish (self, sync, FALSE);
      sync_unref (sync);
      return;
    }
  task = g_task_new (NULL, NULL, on_sync_done, NULL);
  g_task_set_name (task, "[sm-store] sync");
  /* Its end comes before the calls waiting to be dispatched: the next
   * batch's sync starts, and this one's replies leave, without waiting
   * for them. */
  g_task_set_priority (task, G_PRIORITY_HIGH);
  g_task_set_task_data (task, sync, (GDestroyNotify) sync_unref);
  g_task_run_in_thread (task, sync_thread);
}

static gboolean
on_commit (gpointer user_data)
{
  SmStore *self = user_data;

  self->commit_id = 0;
  commit_start (self);
  return G_SOURCE_REMOVE;
}

/* Syncs what was written and answers every reply held, before returning
 * (at finalization, and in tests). The daemon's commits run from a source
 * at default priority once per main-loop iteration, so that under load
 * they run between the method calls and cannot be starved. */
void
sm_store_sync_commit (SmStore *self)
{
  g_autoptr (GError) sync_error = NULL;

  g_clear_handle_id (&self->commit_id, g_source_remove);
  if (self->syncing != NULL)
    sync_finish (self, self->syncing, FALSE);
  sm_store_journal_sync (self);
  sync_error = g_steal_pointer (&self->sync_error);
  answer (self, self->held, sync_error);
}

/* Records were written: they are synced at the end of this main-loop
 * iteration. */
void
sm_store_sync_schedule (SmStore *self)
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
sm_store_sync_hold (SmStore *self,
                    GDBusMethodInvocation *invocation,
                    SmStoreUndoFunc undo,
                    gpointer data,
                    GDestroyNotify destroy)
{
  SmStoreHeld *held = g_new0 (SmStoreHeld, 1);

  held->invocation = invocation;
  held->undo = undo;
  held->data = data;
  held->destroy = destroy;
  self->in_change = FALSE;
  if (self->write_error != NULL)
    {
      g_autoptr (GPtrArray) failed = sm_store_held_array_new ();
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
  sm_store_sync_schedule (self);
}
