/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-scheduler"

#include "sm-scheduler.h"

#include <errno.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct _SmDeadline
{
  gint64 due_ms;
  guint64 serial; /* keeps equal due times in insertion order */
  SmDeadlineFunc func;
  gpointer user_data;
  GSequenceIter *iter; /* NULL while its callback runs */
};

struct _SmScheduler
{
  GObject parent_instance;

  GSequence *deadlines; /* (owned) SmDeadline, ordered by due time */
  guint64 next_serial;
  guint64 wakeups;

  gboolean manual;
  gint64 manual_now_ms;

  int timer_fd;
  guint timer_source_id;
  gint64 armed_ms; /* G_MAXINT64 when disarmed */
};

G_DEFINE_TYPE (SmScheduler, sm_scheduler, G_TYPE_OBJECT)

static void sm_scheduler_rearm (SmScheduler *self);

static gint
deadline_compare (gconstpointer a, gconstpointer b, gpointer user_data G_GNUC_UNUSED)
{
  const SmDeadline *da = a;
  const SmDeadline *db = b;

  if (da->due_ms != db->due_ms)
    return da->due_ms < db->due_ms ? -1 : 1;
  if (da->serial != db->serial)
    return da->serial < db->serial ? -1 : 1;
  return 0;
}

static void
sm_scheduler_finalize (GObject *object)
{
  SmScheduler *self = SM_SCHEDULER (object);

  g_clear_handle_id (&self->timer_source_id, g_source_remove);
  if (self->timer_fd >= 0)
    close (self->timer_fd);
  for (GSequenceIter *it = g_sequence_get_begin_iter (self->deadlines);
       !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
    g_free (g_sequence_get (it));
  g_clear_pointer (&self->deadlines, g_sequence_free);

  G_OBJECT_CLASS (sm_scheduler_parent_class)->finalize (object);
}

static void
sm_scheduler_class_init (SmSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = sm_scheduler_finalize;
}

static void
sm_scheduler_init (SmScheduler *self)
{
  /* No destroy func: the dispatcher frees a deadline after its callback. */
  self->deadlines = g_sequence_new (NULL);
  self->timer_fd = -1;
  self->armed_ms = G_MAXINT64;
}

static gboolean
on_timer_ready (gint fd, GIOCondition condition G_GNUC_UNUSED, gpointer user_data)
{
  SmScheduler *self = SM_SCHEDULER (user_data);
  guint64 expirations;

  self->wakeups++;
  if (read (fd, &expirations, sizeof expirations) < 0)
    {
      /* ECANCELED: the wall clock was set (or resumed from a sleep the
       * kernel could not account for). The timer is disarmed by that;
       * re-evaluating everything below is exactly what is needed. */
      if (errno == ECANCELED)
        g_debug ("Wall clock changed; re-evaluating %u deadlines",
                 g_sequence_get_length (self->deadlines));
      else if (errno != EAGAIN && errno != EINTR)
        g_warning ("Reading the scheduler timer failed: %s", g_strerror (errno));
    }

  self->armed_ms = G_MAXINT64;
  sm_scheduler_dispatch (self);
  return G_SOURCE_CONTINUE;
}

SmScheduler *
sm_scheduler_new (GError **error)
{
  g_autoptr (SmScheduler) self = g_object_new (SM_TYPE_SCHEDULER, NULL);

  self->timer_fd = timerfd_create (CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);
  if (self->timer_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot create the wall-clock timer: %s", g_strerror (saved_errno));
      return NULL;
    }
  self->timer_source_id = g_unix_fd_add (self->timer_fd, G_IO_IN, on_timer_ready, self);
  return g_steal_pointer (&self);
}

SmScheduler *
sm_scheduler_new_manual (gint64 now_ms)
{
  SmScheduler *self = g_object_new (SM_TYPE_SCHEDULER, NULL);

  self->manual = TRUE;
  self->manual_now_ms = now_ms;
  return self;
}

gint64
sm_scheduler_now (SmScheduler *self)
{
  g_return_val_if_fail (SM_IS_SCHEDULER (self), 0);

  if (self->manual)
    return self->manual_now_ms;
  return g_get_real_time () / 1000;
}

/* Manual schedulers only: move the fake wall clock (either way, by any
 * amount, as a clock change or a resume would) and run what fell due. */
void
sm_scheduler_set_now (SmScheduler *self, gint64 now_ms)
{
  g_return_if_fail (SM_IS_SCHEDULER (self));
  g_return_if_fail (self->manual);

  self->manual_now_ms = now_ms;
  sm_scheduler_dispatch (self);
}

static void
sm_scheduler_rearm (SmScheduler *self)
{
  struct itimerspec spec = { 0 };
  gint64 next_ms = sm_scheduler_get_next_due (self);

  if (self->manual || next_ms == self->armed_ms)
    return;

  if (next_ms != G_MAXINT64)
    {
      /* An absolute CLOCK_REALTIME expiry in the past fires at once; one
       * in the future fires on time even across suspend, and
       * CANCEL_ON_SET tells us about clock changes so we can re-check. */
      gint64 clamped = MAX (next_ms, 1);

      spec.it_value.tv_sec = clamped / 1000;
      spec.it_value.tv_nsec = (clamped % 1000) * 1000000;
    }

  if (timerfd_settime (self->timer_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &spec, NULL)
      < 0)
    {
      /* Only possible on a clock change racing us: ECANCELED means the
       * fd is readable and on_timer_ready() re-arms. */
      if (errno != ECANCELED)
        g_warning ("Arming the scheduler timer failed: %s", g_strerror (errno));
      self->armed_ms = G_MAXINT64;
      return;
    }
  self->armed_ms = next_ms;
}

SmDeadline *
sm_scheduler_add (SmScheduler *self, gint64 due_ms, SmDeadlineFunc func, gpointer user_data)
{
  SmDeadline *deadline;

  g_return_val_if_fail (SM_IS_SCHEDULER (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  deadline = g_new0 (SmDeadline, 1);
  deadline->due_ms = due_ms;
  deadline->serial = self->next_serial++;
  deadline->func = func;
  deadline->user_data = user_data;
  deadline->iter = g_sequence_insert_sorted (self->deadlines, deadline, deadline_compare, NULL);

  if (g_sequence_iter_is_begin (deadline->iter))
    sm_scheduler_rearm (self);
  return deadline;
}

void
sm_scheduler_remove (SmScheduler *self, SmDeadline *deadline)
{
  gboolean was_first;

  g_return_if_fail (SM_IS_SCHEDULER (self));

  /* A deadline whose callback is running is freed by the dispatcher. */
  if (deadline == NULL || deadline->iter == NULL)
    return;

  was_first = g_sequence_iter_is_begin (deadline->iter);
  g_sequence_remove (deadline->iter);
  g_free (deadline);
  /* Leaving the timer armed for a removed head only costs one spurious
   * wakeup, but a daemon that must not wake needlessly re-arms. */
  if (was_first)
    sm_scheduler_rearm (self);
}

gint64
sm_deadline_get_due (SmDeadline *deadline)
{
  return deadline->due_ms;
}

gint64
sm_scheduler_get_next_due (SmScheduler *self)
{
  GSequenceIter *first = g_sequence_get_begin_iter (self->deadlines);

  if (g_sequence_iter_is_end (first))
    return G_MAXINT64;
  return ((SmDeadline *) g_sequence_get (first))->due_ms;
}

guint
sm_scheduler_get_size (SmScheduler *self)
{
  return (guint) g_sequence_get_length (self->deadlines);
}

guint64
sm_scheduler_get_wakeups (SmScheduler *self)
{
  return self->wakeups;
}

/* Runs every deadline whose due time has come, in due order, including ones
 * the callbacks add for the past. Returns how many ran. */
guint
sm_scheduler_dispatch (SmScheduler *self)
{
  guint count = 0;

  g_return_val_if_fail (SM_IS_SCHEDULER (self), 0);

  for (;;)
    {
      GSequenceIter *first = g_sequence_get_begin_iter (self->deadlines);
      SmDeadline *deadline;
      gint64 now_ms;

      if (g_sequence_iter_is_end (first))
        break;
      deadline = g_sequence_get (first);
      now_ms = sm_scheduler_now (self);
      if (deadline->due_ms > now_ms)
        break;

      /* Unlink without freeing so the callback may still name it. */
      g_sequence_remove (first);
      deadline->iter = NULL;
      deadline->func (deadline->due_ms, now_ms, deadline->user_data);
      g_free (deadline);
      count++;
    }

  sm_scheduler_rearm (self);
  return count;
}
