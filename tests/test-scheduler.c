/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "test-scheduler"

#include "sm-scheduler.h"

/* Unit tests of the deadline scheduler. All but the last use a manual
 * scheduler, whose wall clock only moves when the test says so. */

#define T0 ((gint64) 1700000000000)

typedef struct
{
  SmScheduler *scheduler; /* (unowned) */
  GArray *fired;          /* gint: the tag of each deadline, in firing order */
  GArray *fired_due;      /* gint64 */
  gboolean saw_early;     /* a callback ran with now < due */
} Recorder;

typedef struct
{
  Recorder *recorder;
  gint tag;
} Tagged;

static void
recorder_init (Recorder *rec, SmScheduler *scheduler)
{
  rec->scheduler = scheduler;
  rec->fired = g_array_new (FALSE, FALSE, sizeof (gint));
  rec->fired_due = g_array_new (FALSE, FALSE, sizeof (gint64));
  rec->saw_early = FALSE;
}

static void
recorder_clear (Recorder *rec)
{
  g_clear_pointer (&rec->fired, g_array_unref);
  g_clear_pointer (&rec->fired_due, g_array_unref);
}

static void
on_tagged (gint64 due_ms, gint64 now_ms, gpointer user_data)
{
  Tagged *t = user_data;

  if (now_ms < due_ms || sm_scheduler_now (t->recorder->scheduler) < due_ms)
    t->recorder->saw_early = TRUE;
  g_array_append_val (t->recorder->fired, t->tag);
  g_array_append_val (t->recorder->fired_due, due_ms);
}

static gint
fired_at (Recorder *rec, guint i)
{
  return g_array_index (rec->fired, gint, i);
}

static void
test_order_by_due (void)
{
  g_autoptr (SmScheduler) s = sm_scheduler_new_manual (T0);
  Recorder rec;
  Tagged tags[4];
  const gint64 dues[] = { T0 + 300, T0 + 100, T0 + 400, T0 + 200 };

  recorder_init (&rec, s);
  for (guint i = 0; i < G_N_ELEMENTS (dues); i++)
    {
      tags[i] = (Tagged){ &rec, (gint) i };
      sm_scheduler_add (s, dues[i], on_tagged, &tags[i]);
    }
  g_assert_cmpint (sm_scheduler_get_next_due (s), ==, T0 + 100);
  g_assert_cmpuint (sm_scheduler_get_size (s), ==, 4);

  /* One ms before the earliest: nothing. */
  sm_scheduler_set_now (s, T0 + 99);
  g_assert_cmpuint (rec.fired->len, ==, 0);

  sm_scheduler_set_now (s, T0 + 250);
  g_assert_cmpuint (rec.fired->len, ==, 2);
  g_assert_cmpint (fired_at (&rec, 0), ==, 1);
  g_assert_cmpint (fired_at (&rec, 1), ==, 3);
  g_assert_cmpint (sm_scheduler_get_next_due (s), ==, T0 + 300);

  sm_scheduler_set_now (s, T0 + 1000);
  g_assert_cmpuint (rec.fired->len, ==, 4);
  g_assert_cmpint (fired_at (&rec, 2), ==, 0);
  g_assert_cmpint (fired_at (&rec, 3), ==, 2);
  g_assert_cmpuint (sm_scheduler_get_size (s), ==, 0);
  g_assert_cmpint (sm_scheduler_get_next_due (s), ==, G_MAXINT64);
  g_assert_false (rec.saw_early);

  /* Nothing left: a dispatch runs nothing. */
  g_assert_cmpuint (sm_scheduler_dispatch (s), ==, 0);
  recorder_clear (&rec);
}

static void
test_fifo_equal_due (void)
{
  g_autoptr (SmScheduler) s = sm_scheduler_new_manual (T0);
  Recorder rec;
  Tagged tags[8];

  recorder_init (&rec, s);
  for (guint i = 0; i < G_N_ELEMENTS (tags); i++)
    {
      tags[i] = (Tagged){ &rec, (gint) i };
      sm_scheduler_add (s, T0 + 50, on_tagged, &tags[i]);
    }
  g_assert_cmpuint (sm_scheduler_dispatch (s), ==, 0);
  sm_scheduler_set_now (s, T0 + 50);
  g_assert_cmpuint (rec.fired->len, ==, G_N_ELEMENTS (tags));
  for (guint i = 0; i < G_N_ELEMENTS (tags); i++)
    g_assert_cmpint (fired_at (&rec, i), ==, (gint) i);
  recorder_clear (&rec);
}

static void
test_remove (void)
{
  g_autoptr (SmScheduler) s = sm_scheduler_new_manual (T0);
  Recorder rec;
  Tagged tags[3];
  SmDeadline *d[3];

  recorder_init (&rec, s);
  for (guint i = 0; i < G_N_ELEMENTS (tags); i++)
    {
      tags[i] = (Tagged){ &rec, (gint) i };
      d[i] = sm_scheduler_add (s, T0 + 100 * (gint64) (i + 1), on_tagged, &tags[i]);
      g_assert_cmpint (sm_deadline_get_due (d[i]), ==, T0 + 100 * (gint64) (i + 1));
    }

  /* Removing the head moves the next due time to the second one. */
  sm_scheduler_remove (s, d[0]);
  g_assert_cmpint (sm_scheduler_get_next_due (s), ==, T0 + 200);
  g_assert_cmpuint (sm_scheduler_get_size (s), ==, 2);

  /* Removing one in the middle of the queue leaves the head alone. */
  sm_scheduler_remove (s, d[2]);
  g_assert_cmpint (sm_scheduler_get_next_due (s), ==, T0 + 200);
  g_assert_cmpuint (sm_scheduler_get_size (s), ==, 1);

  /* NULL is accepted, as owners may hold none. */
  sm_scheduler_remove (s, NULL);

  sm_scheduler_set_now (s, T0 + 10000);
  g_assert_cmpuint (rec.fired->len, ==, 1);
  g_assert_cmpint (fired_at (&rec, 0), ==, 1);
  recorder_clear (&rec);
}

/* A callback that schedules more work, as a session arming its next
 * warning does. */
typedef struct
{
  Recorder rec;
  Tagged past, future;
  SmDeadline *running; /* removing the running deadline must be harmless */
} AddCtx;

static void
on_add_more (gint64 due_ms, gint64 now_ms, gpointer user_data)
{
  AddCtx *ctx = user_data;
  gint tag = -1;

  g_array_append_val (ctx->rec.fired, tag);
  g_array_append_val (ctx->rec.fired_due, due_ms);
  /* Removing the deadline that is running is a no-op by contract. */
  sm_scheduler_remove (ctx->rec.scheduler, ctx->running);
  sm_scheduler_add (ctx->rec.scheduler, now_ms - 10, on_tagged, &ctx->past);
  sm_scheduler_add (ctx->rec.scheduler, now_ms + 10, on_tagged, &ctx->future);
}

static void
test_add_during_dispatch (void)
{
  g_autoptr (SmScheduler) s = sm_scheduler_new_manual (T0);
  AddCtx ctx;

  recorder_init (&ctx.rec, s);
  ctx.past = (Tagged){ &ctx.rec, 1 };
  ctx.future = (Tagged){ &ctx.rec, 2 };
  ctx.running = sm_scheduler_add (s, T0 + 100, on_add_more, &ctx);

  sm_scheduler_set_now (s, T0 + 150);
  /* The one added for the past ran in the same dispatch, the future one not. */
  g_assert_cmpuint (ctx.rec.fired->len, ==, 2);
  g_assert_cmpint (fired_at (&ctx.rec, 0), ==, -1);
  g_assert_cmpint (fired_at (&ctx.rec, 1), ==, 1);
  g_assert_cmpuint (sm_scheduler_get_size (s), ==, 1);
  g_assert_cmpint (sm_scheduler_get_next_due (s), ==, T0 + 160);

  sm_scheduler_set_now (s, T0 + 159);
  g_assert_cmpuint (ctx.rec.fired->len, ==, 2);
  sm_scheduler_set_now (s, T0 + 160);
  g_assert_cmpuint (ctx.rec.fired->len, ==, 3);
  g_assert_cmpint (fired_at (&ctx.rec, 2), ==, 2);
  g_assert_false (ctx.rec.saw_early);
  recorder_clear (&ctx.rec);
}

static void
test_clock_backward (void)
{
  g_autoptr (SmScheduler) s = sm_scheduler_new_manual (T0);
  Recorder rec;
  Tagged a, b;

  recorder_init (&rec, s);
  a = (Tagged){ &rec, 0 };
  b = (Tagged){ &rec, 1 };
  sm_scheduler_add (s, T0 + 1000, on_tagged, &a);
  sm_scheduler_add (s, T0 + 2000, on_tagged, &b);

  sm_scheduler_set_now (s, T0 + 1000);
  g_assert_cmpuint (rec.fired->len, ==, 1);

  /* The clock is set back an hour: nothing fires, however often we look. */
  sm_scheduler_set_now (s, T0 - 3600 * 1000);
  g_assert_cmpuint (sm_scheduler_dispatch (s), ==, 0);
  sm_scheduler_set_now (s, T0 + 1999);
  g_assert_cmpuint (rec.fired->len, ==, 1);

  sm_scheduler_set_now (s, T0 + 2000);
  g_assert_cmpuint (rec.fired->len, ==, 2);
  g_assert_cmpint (fired_at (&rec, 1), ==, 1);
  g_assert_false (rec.saw_early);
  recorder_clear (&rec);
}

static void
test_many_random (void)
{
  const guint n = 10000;
  g_autoptr (SmScheduler) s = sm_scheduler_new_manual (T0);
  g_autofree Tagged *tags = g_new (Tagged, n);
  g_autofree guint8 *count = g_new0 (guint8, n);
  g_autofree SmDeadline **handles = g_new (SmDeadline *, n);
  Recorder rec;
  gint64 now = T0;
  guint removed = 0;

  recorder_init (&rec, s);
  for (guint i = 0; i < n; i++)
    {
      tags[i] = (Tagged){ &rec, (gint) i };
      handles[i] =
          sm_scheduler_add (s, T0 + g_test_rand_int_range (0, 3600 * 1000), on_tagged, &tags[i]);
    }
  g_assert_cmpuint (sm_scheduler_get_size (s), ==, n);

  /* Forget every 97th before anything fires: those must never run. */
  for (guint i = 0; i < n; i += 97)
    {
      sm_scheduler_remove (s, handles[i]);
      count[i] = 100;
      removed++;
    }

  while (sm_scheduler_get_size (s) > 0)
    {
      now += g_test_rand_int_range (1, 5000);
      sm_scheduler_set_now (s, now);
      g_assert_true (sm_scheduler_get_next_due (s) > now);
    }

  g_assert_cmpuint (rec.fired->len, ==, n - removed);
  for (guint i = 0; i < rec.fired->len; i++)
    {
      gint tag = fired_at (&rec, i);

      g_assert_cmpuint (count[tag], ==, 0);
      count[tag]++;
      if (i > 0)
        g_assert_cmpint (g_array_index (rec.fired_due, gint64, i - 1), <=,
                         g_array_index (rec.fired_due, gint64, i));
    }
  g_assert_false (rec.saw_early);
  recorder_clear (&rec);
}

/* The real scheduler: a CLOCK_REALTIME timerfd in a GMainLoop. */
typedef struct
{
  GMainLoop *loop;
  guint remaining;
  GArray *fired; /* gint64 due */
  gboolean early;
  gint64 max_late_ms;
} RealCtx;

static void
on_real (gint64 due_ms, gint64 now_ms G_GNUC_UNUSED, gpointer user_data)
{
  RealCtx *ctx = user_data;
  gint64 measured = g_get_real_time () / 1000;

  if (measured < due_ms)
    ctx->early = TRUE;
  ctx->max_late_ms = MAX (ctx->max_late_ms, measured - due_ms);
  g_array_append_val (ctx->fired, due_ms);
  if (--ctx->remaining == 0)
    g_main_loop_quit (ctx->loop);
}

static gboolean
on_real_timeout (gpointer user_data G_GNUC_UNUSED)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

static void
test_real_clock (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SmScheduler) s = sm_scheduler_new (&error);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  const gint64 offsets[] = { 200, 50, 120, 80, 80, 160 };
  RealCtx ctx = { loop, G_N_ELEMENTS (offsets), g_array_new (FALSE, FALSE, sizeof (gint64)), FALSE,
                  0 };
  gint64 start = g_get_real_time () / 1000;
  guint timeout_id;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (offsets); i++)
    sm_scheduler_add (s, start + offsets[i], on_real, &ctx);
  timeout_id = g_timeout_add_seconds (10, on_real_timeout, NULL);
  g_main_loop_run (loop);
  g_source_remove (timeout_id);

  g_assert_false (ctx.early);
  g_assert_cmpuint (ctx.fired->len, ==, G_N_ELEMENTS (offsets));
  for (guint i = 1; i < ctx.fired->len; i++)
    g_assert_cmpint (g_array_index (ctx.fired, gint64, i - 1), <=,
                     g_array_index (ctx.fired, gint64, i));
  /* Generous: the machine is shared and may run under valgrind. */
  g_assert_cmpint (ctx.max_late_ms, <, 2000);
  /* One timer for everything: at most one wakeup per distinct due time
   * (plus one for a clock change racing us), no polling. */
  g_assert_cmpuint (sm_scheduler_get_wakeups (s), >=, 1);
  g_assert_cmpuint (sm_scheduler_get_wakeups (s), <=, 5 + 1);
  g_array_unref (ctx.fired);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/scheduler/order-by-due", test_order_by_due);
  g_test_add_func ("/scheduler/fifo-equal-due", test_fifo_equal_due);
  g_test_add_func ("/scheduler/remove", test_remove);
  g_test_add_func ("/scheduler/add-during-dispatch", test_add_during_dispatch);
  g_test_add_func ("/scheduler/clock-backward", test_clock_backward);
  g_test_add_func ("/scheduler/many-random", test_many_random);
  g_test_add_func ("/scheduler/real-clock", test_real_clock);

  return g_test_run ();
}
