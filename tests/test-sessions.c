/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "test-sessions"

#include "sm-error.h"
#include "sm-options.h"
#include "sm-sessions.h"
#include "sm-users.h"

#include <string.h>

/* Unit tests of session monitoring (thresholds, the no-burst rule, clock
 * jumps, validation, limits, restore) on a manual scheduler: nothing waits. */

#define T0 ((gint64) 1700000000000)
#define MIN_MS ((gint64) 60000)

typedef enum
{
  EV_REGISTERED,
  EV_EXPIRING,
  EV_EXPIRED,
  EV_UNREGISTERED,
} EventKind;

typedef struct
{
  EventKind kind;
  char *id;
  gint64 at; /* the fake clock when it was emitted */
  guint minutes;
  gint64 threshold;
  gboolean flag; /* notify (expiring) or replaced (registered) */
  char *reason;
} Event;

typedef struct
{
  SmScheduler *scheduler;
  SmSessions *sessions;
  GArray *events; /* Event */
  guint changed;
} Fixture;

static void
event_clear (gpointer data)
{
  Event *ev = data;

  g_free (ev->id);
  g_free (ev->reason);
}

static Event *
push (Fixture *f, EventKind kind, const SmSession *session)
{
  Event ev = { kind, g_strdup (session->id), sm_scheduler_now (f->scheduler), 0, 0, FALSE, NULL };

  g_array_append_val (f->events, ev);
  return &g_array_index (f->events, Event, f->events->len - 1);
}

static void
on_registered (SmSessions *s G_GNUC_UNUSED, const SmSession *session, gboolean replaced, Fixture *f)
{
  push (f, EV_REGISTERED, session)->flag = replaced;
}

static void
on_expiring (SmSessions *s G_GNUC_UNUSED,
             const SmSession *session,
             guint minutes,
             gint64 threshold,
             gboolean notify,
             Fixture *f)
{
  Event *ev = push (f, EV_EXPIRING, session);

  /* A warning is never early and never after the expiry. */
  g_assert_cmpint (ev->at, >=, session->expires_at - threshold);
  g_assert_cmpint (ev->at, <, session->expires_at);
  ev->minutes = minutes;
  ev->threshold = threshold;
  ev->flag = notify;
}

static void
on_expired (SmSessions *s G_GNUC_UNUSED, const SmSession *session, Fixture *f)
{
  g_assert_cmpint (sm_scheduler_now (f->scheduler), >=, session->expires_at);
  push (f, EV_EXPIRED, session);
}

static void
on_unregistered (SmSessions *s G_GNUC_UNUSED,
                 const SmSession *session,
                 const char *reason,
                 Fixture *f)
{
  push (f, EV_UNREGISTERED, session)->reason = g_strdup (reason);
}

static void
on_changed (SmSessions *s G_GNUC_UNUSED, const char *id G_GNUC_UNUSED, Fixture *f)
{
  f->changed++;
}

static void
fixture_set_up (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  f->scheduler = sm_scheduler_new_manual (T0);
  f->sessions = sm_sessions_new (f->scheduler);
  f->events = g_array_new (FALSE, TRUE, sizeof (Event));
  g_array_set_clear_func (f->events, event_clear);
  g_signal_connect (f->sessions, "session-registered", G_CALLBACK (on_registered), f);
  g_signal_connect (f->sessions, "session-expiring", G_CALLBACK (on_expiring), f);
  g_signal_connect (f->sessions, "session-expired", G_CALLBACK (on_expired), f);
  g_signal_connect (f->sessions, "session-unregistered", G_CALLBACK (on_unregistered), f);
  g_signal_connect (f->sessions, "changed", G_CALLBACK (on_changed), f);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_clear_object (&f->sessions);
  /* Every deadline of the sessions went with them. */
  g_assert_cmpuint (sm_scheduler_get_size (f->scheduler), ==, 0);
  g_clear_object (&f->scheduler);
  g_clear_pointer (&f->events, g_array_unref);
}

static Event *
ev_at (Fixture *f, guint i)
{
  g_assert_cmpuint (i, <, f->events->len);
  return &g_array_index (f->events, Event, i);
}

static guint
count_kind (Fixture *f, EventKind kind)
{
  guint n = 0;

  for (guint i = 0; i < f->events->len; i++)
    n += ev_at (f, i)->kind == kind;
  return n;
}

/* Forgets registration events so tests look at what the clock caused. */
static void
clear_events (Fixture *f)
{
  g_array_set_size (f->events, 0);
}

static GVariant *
thresholds_variant (const gint64 *values, gsize n)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, n, sizeof (gint64));
}

static GVariant *
opts_thresholds (const gint64 *values, gsize n)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert_value (&dict, "warn-thresholds", thresholds_variant (values, n));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static GVariant *
opts_empty (void)
{
  return g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
}

static void
register_ok (Fixture *f, const char *id, gint64 expires_at, GVariant *options)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) owned = options != NULL ? options : opts_empty ();

  g_assert_true (sm_sessions_register (f->sessions, id, expires_at, owned, &error));
  g_assert_no_error (error);
}

/* The warnings-sent list as GetSessions would report it. */
static GArray *
warnings_sent (Fixture *f, const char *id)
{
  const SmSession *session = sm_sessions_lookup (f->sessions, id);
  g_autoptr (GVariant) v = NULL;
  g_autoptr (GVariant) sent = NULL;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (gint64));
  gsize n;
  const gint64 *values;

  g_autoptr (GVariant) all = NULL;
  g_autoptr (GVariant) fresh = NULL;

  g_assert_nonnull (session);
  /* Through GetSessions' list, whose entries are kept serialized from one
   * call to the next: it must equal the session's state right now. */
  all = g_variant_ref_sink (sm_sessions_to_variant (f->sessions));
  for (gsize i = 0; v == NULL && i < g_variant_n_children (all); i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (all, i);
      const char *child_id = NULL;

      g_assert_true (g_variant_lookup (child, "session-id", "&s", &child_id));
      if (g_str_equal (child_id, id))
        v = g_steal_pointer (&child);
    }
  g_assert_nonnull (v);
  fresh = g_variant_ref_sink (sm_session_to_variant (session));
  g_assert_true (g_variant_equal (v, fresh));
  sent = g_variant_lookup_value (v, "warnings-sent", G_VARIANT_TYPE ("ax"));
  g_assert_nonnull (sent);
  values = g_variant_get_fixed_array (sent, &n, sizeof (gint64));
  g_array_append_vals (out, values, (guint) n);
  return out;
}

static void
assert_sent (Fixture *f, const char *id, const gint64 *expected, guint n)
{
  g_autoptr (GArray) sent = warnings_sent (f, id);

  g_assert_cmpuint (sent->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (g_array_index (sent, gint64, i), ==, expected[i]);
}

static void
test_default_thresholds (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 11 * MIN_MS;
  const gint64 thresholds[] = { 600000, 300000, 120000, 60000 };
  const guint minutes[] = { 10, 5, 2, 1 };

  register_ok (f, "s1", expires, NULL);
  g_assert_cmpuint (f->events->len, ==, 1);
  g_assert_cmpint (ev_at (f, 0)->kind, ==, EV_REGISTERED);
  g_assert_false (ev_at (f, 0)->flag);
  clear_events (f);

  for (guint i = 0; i < G_N_ELEMENTS (thresholds); i++)
    {
      /* One ms before the threshold: nothing; at it: exactly one warning. */
      sm_scheduler_set_now (f->scheduler, expires - thresholds[i] - 1);
      g_assert_cmpuint (f->events->len, ==, i);
      sm_scheduler_set_now (f->scheduler, expires - thresholds[i]);
      g_assert_cmpuint (f->events->len, ==, i + 1);
      g_assert_cmpint (ev_at (f, i)->kind, ==, EV_EXPIRING);
      g_assert_cmpstr (ev_at (f, i)->id, ==, "s1");
      g_assert_cmpuint (ev_at (f, i)->minutes, ==, minutes[i]);
      g_assert_cmpint (ev_at (f, i)->threshold, ==, thresholds[i]);
      /* Default warn-before-minutes is 5. */
      g_assert_cmpint (ev_at (f, i)->flag, ==, thresholds[i] <= 5 * MIN_MS);
      assert_sent (f, "s1", thresholds, i + 1);
    }

  sm_scheduler_set_now (f->scheduler, expires - 1);
  g_assert_cmpuint (f->events->len, ==, 4);
  sm_scheduler_set_now (f->scheduler, expires);
  g_assert_cmpuint (f->events->len, ==, 5);
  g_assert_cmpint (ev_at (f, 4)->kind, ==, EV_EXPIRED);
  g_assert_null (sm_sessions_lookup (f->sessions, "s1"));
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
  g_assert_cmpuint (sm_scheduler_get_size (f->scheduler), ==, 0);

  /* Forgotten: nothing more, ever. */
  sm_scheduler_set_now (f->scheduler, expires + 3600 * 1000);
  g_assert_cmpuint (f->events->len, ==, 5);
}

static void
test_jump_forward_no_burst (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 20 * MIN_MS;
  const gint64 all[] = { 600000, 300000, 120000, 60000 };

  register_ok (f, "a", expires, NULL);
  register_ok (f, "b", expires + 30000, NULL);
  clear_events (f);

  /* Asleep until 4 min 10 s before "a" expires: its 10- and 5-minute
   * thresholds passed; one warning with the true time left. */
  sm_scheduler_set_now (f->scheduler, expires - 4 * MIN_MS - 10000);
  g_assert_cmpuint (count_kind (f, EV_EXPIRING), ==, 2); /* one per session */
  for (guint i = 0; i < f->events->len; i++)
    {
      Event *ev = ev_at (f, i);
      gint64 exp = g_str_equal (ev->id, "a") ? expires : expires + 30000;

      g_assert_cmpint (ev->kind, ==, EV_EXPIRING);
      g_assert_cmpuint (ev->minutes, ==, (guint) ((exp - ev->at + MIN_MS - 1) / MIN_MS));
      g_assert_cmpint (ev->threshold, ==, 300000);
    }
  g_assert_cmpuint (ev_at (f, 0)->minutes + ev_at (f, 1)->minutes, ==, 5 + 5);
  assert_sent (f, "a", all, 2);
  clear_events (f);

  /* Then to 30 s before "a" expires: 2 and 1 minute passed, again one. */
  sm_scheduler_set_now (f->scheduler, expires - 30000);
  g_assert_cmpuint (f->events->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpint (ev_at (f, i)->kind, ==, EV_EXPIRING);
      g_assert_cmpint (ev_at (f, i)->threshold, ==, 60000);
      g_assert_cmpuint (ev_at (f, i)->minutes, ==, 1);
    }
  assert_sent (f, "a", all, 4);
  assert_sent (f, "b", all, 4);
  clear_events (f);

  /* Skipped thresholds never fire later: only the expiries are left. */
  sm_scheduler_set_now (f->scheduler, expires);
  g_assert_cmpuint (f->events->len, ==, 1);
  g_assert_cmpint (ev_at (f, 0)->kind, ==, EV_EXPIRED);
  g_assert_cmpstr (ev_at (f, 0)->id, ==, "a");
  sm_scheduler_set_now (f->scheduler, expires + 30000);
  g_assert_cmpuint (f->events->len, ==, 2);
  g_assert_cmpint (ev_at (f, 1)->kind, ==, EV_EXPIRED);
  g_assert_cmpstr (ev_at (f, 1)->id, ==, "b");
}

static void
test_minutes_rounding (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 30 * MIN_MS;
  const gint64 th[] = { 25 * MIN_MS };

  register_ok (f, "r", expires, opts_thresholds (th, 1));
  clear_events (f);
  /* 60001 ms left is 2 minutes (ceil), not 1. */
  sm_scheduler_set_now (f->scheduler, expires - MIN_MS - 1);
  g_assert_cmpuint (f->events->len, ==, 1);
  g_assert_cmpuint (ev_at (f, 0)->minutes, ==, 2);
  g_assert_cmpint (ev_at (f, 0)->threshold, ==, 25 * MIN_MS);
}

static void
test_jump_backward (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 11 * MIN_MS;
  const gint64 sent1[] = { 600000 };

  register_ok (f, "s", expires, NULL);
  clear_events (f);
  sm_scheduler_set_now (f->scheduler, expires - 600000);
  g_assert_cmpuint (f->events->len, ==, 1);

  /* The clock is set back a day: nothing fires, nothing is re-sent. */
  sm_scheduler_set_now (f->scheduler, T0 - 24 * 3600 * 1000);
  g_assert_cmpuint (f->events->len, ==, 1);
  sm_scheduler_set_now (f->scheduler, expires - 600000);
  g_assert_cmpuint (f->events->len, ==, 1);
  sm_scheduler_set_now (f->scheduler, expires - 300000 - 1);
  g_assert_cmpuint (f->events->len, ==, 1);
  assert_sent (f, "s", sent1, 1);

  /* Only when the clock reaches the next threshold again. */
  sm_scheduler_set_now (f->scheduler, expires - 300000);
  g_assert_cmpuint (f->events->len, ==, 2);
  g_assert_cmpint (ev_at (f, 1)->kind, ==, EV_EXPIRING);
  g_assert_cmpint (ev_at (f, 1)->threshold, ==, 300000);
  g_assert_cmpuint (ev_at (f, 1)->minutes, ==, 5);
}

static void
test_jump_past_expiry (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 11 * MIN_MS;

  register_ok (f, "s", expires, NULL);
  clear_events (f);
  sm_scheduler_set_now (f->scheduler, expires + 5 * MIN_MS);
  /* Only the expiry: no late warning. */
  g_assert_cmpuint (f->events->len, ==, 1);
  g_assert_cmpint (ev_at (f, 0)->kind, ==, EV_EXPIRED);
  g_assert_cmpstr (ev_at (f, 0)->id, ==, "s");
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
}

static void
test_expired_on_register (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  register_ok (f, "past", T0 - 1000, NULL);
  register_ok (f, "now", T0, NULL);
  clear_events (f);
  /* Registering does not dispatch; the next dispatch (the timer firing at
   * once in the daemon) expires them, with no warning. */
  sm_scheduler_dispatch (f->scheduler);
  g_assert_cmpuint (f->events->len, ==, 2);
  g_assert_cmpint (ev_at (f, 0)->kind, ==, EV_EXPIRED);
  g_assert_cmpstr (ev_at (f, 0)->id, ==, "past");
  g_assert_cmpint (ev_at (f, 1)->kind, ==, EV_EXPIRED);
  g_assert_cmpstr (ev_at (f, 1)->id, ==, "now");
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
}

static void
test_reregister (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 first = T0 + 11 * MIN_MS;
  const gint64 second = T0 + 30 * MIN_MS;
  const SmSession *session;

  register_ok (f, "s", first, NULL);
  sm_scheduler_set_now (f->scheduler, first - 600000);
  g_assert_cmpuint (count_kind (f, EV_EXPIRING), ==, 1);
  clear_events (f);

  register_ok (f, "s", second, NULL);
  g_assert_cmpuint (f->events->len, ==, 1);
  g_assert_cmpint (ev_at (f, 0)->kind, ==, EV_REGISTERED);
  g_assert_true (ev_at (f, 0)->flag); /* replaced */
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 1);
  session = sm_sessions_lookup (f->sessions, "s");
  g_assert_cmpint (session->expires_at, ==, second);
  g_assert_cmpint (session->registered_at, ==, first - 600000);
  assert_sent (f, "s", NULL, 0);
  /* One deadline for the one session, not a leftover of the first. */
  g_assert_cmpuint (sm_scheduler_get_size (f->scheduler), ==, 1);
  clear_events (f);

  /* The old thresholds and expiry do nothing now. */
  sm_scheduler_set_now (f->scheduler, first);
  g_assert_cmpuint (f->events->len, ==, 0);

  /* Re-armed: the 10-minute warning fires again for the new expiry. */
  sm_scheduler_set_now (f->scheduler, second - 600000);
  g_assert_cmpuint (f->events->len, ==, 1);
  g_assert_cmpint (ev_at (f, 0)->threshold, ==, 600000);
  g_assert_cmpuint (ev_at (f, 0)->minutes, ==, 10);
}

static void
test_unregister (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GError) error = NULL;
  const gint64 expires = T0 + 11 * MIN_MS;

  register_ok (f, "a", expires, NULL);
  register_ok (f, "b", expires, NULL);
  clear_events (f);

  g_assert_true (sm_sessions_unregister (f->sessions, "a", "completed", &error));
  g_assert_no_error (error);
  g_assert_true (sm_sessions_unregister (f->sessions, "b", "", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->events->len, ==, 2);
  g_assert_cmpint (ev_at (f, 0)->kind, ==, EV_UNREGISTERED);
  g_assert_cmpstr (ev_at (f, 0)->id, ==, "a");
  g_assert_cmpstr (ev_at (f, 0)->reason, ==, "completed");
  g_assert_cmpstr (ev_at (f, 1)->reason, ==, "unregistered");
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
  g_assert_cmpuint (sm_scheduler_get_size (f->scheduler), ==, 0);

  /* Gone: a second unregister is NotFound, and nothing fires later. */
  g_assert_false (sm_sessions_unregister (f->sessions, "a", "", &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "session_id"));
  g_assert_nonnull (strstr (error->message, "\"a\""));
  sm_scheduler_set_now (f->scheduler, expires + 1);
  g_assert_cmpuint (f->events->len, ==, 2);
}

static void
test_warn_before_minutes (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 11 * MIN_MS;
  const gint64 th[] = { 600000, 180000, 120000, 119999 };
  const gboolean expected[] = { FALSE, FALSE, TRUE, TRUE };
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert_value (&dict, "warn-thresholds", thresholds_variant (th, 4));
  g_variant_dict_insert (&dict, "warn-before-minutes", "u", 2);
  register_ok (f, "s", expires, g_variant_ref_sink (g_variant_dict_end (&dict)));
  clear_events (f);

  for (guint i = 0; i < G_N_ELEMENTS (th); i++)
    {
      sm_scheduler_set_now (f->scheduler, expires - th[i]);
      g_assert_cmpuint (f->events->len, ==, i + 1);
      g_assert_cmpint (ev_at (f, i)->threshold, ==, th[i]);
      g_assert_cmpint (ev_at (f, i)->flag, ==, expected[i]);
    }
}

static void
test_thresholds_sorted_dedup (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 given[] = { 1000, 3000, 2000, 3000 };
  const gint64 sorted[] = { 3000, 2000, 1000 };
  const SmSession *session;

  register_ok (f, "s", T0 + 10000, opts_thresholds (given, G_N_ELEMENTS (given)));
  session = sm_sessions_lookup (f->sessions, "s");
  g_assert_cmpuint (session->n_thresholds, ==, 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (session->thresholds[i], ==, sorted[i]);
  clear_events (f);
  sm_scheduler_set_now (f->scheduler, T0 + 7000);
  sm_scheduler_set_now (f->scheduler, T0 + 8000);
  sm_scheduler_set_now (f->scheduler, T0 + 9000);
  g_assert_cmpuint (count_kind (f, EV_EXPIRING), ==, 3);
}

/* Every InvalidArgs row of the contract that applies to sessions. */
typedef struct
{
  const char *what;
  const char *id;
  gint64 expires_at; /* relative to T0 unless absolute */
  gboolean absolute;
  const char *options; /* GVariant text */
  const char *arg;     /* must be named in the message */
} BadCase;

static void
test_invalid_args (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *long_id = g_strnfill (256, 'x');
  g_autofree char *max_id = g_strnfill (255, 'x');
  const BadCase cases[] = {
    { "empty id", "", 60000, FALSE, "@a{sv} {}", "session_id" },
    { "id > 255 bytes", long_id, 60000, FALSE, "@a{sv} {}", "session_id" },
    { "control char in id", "a\nb", 60000, FALSE, "@a{sv} {}", "session_id" },
    { "DEL in id", "a\x7f", 60000, FALSE, "@a{sv} {}", "session_id" },
    { "expires_at 0", "s", 0, TRUE, "@a{sv} {}", "expires_at" },
    { "expires_at < 0", "s", -5, TRUE, "@a{sv} {}", "expires_at" },
    { "expires_at > 30 days", "s", (gint64) 30 * 24 * 3600 * 1000 + 1, FALSE, "@a{sv} {}",
      "expires_at" },
    { "session-type not s", "s", 60000, FALSE, "{'session-type': <uint32 1>}", "session-type" },
    { "session-type empty", "s", 60000, FALSE, "{'session-type': <''>}", "session-type" },
    { "warn-thresholds empty", "s", 60000, FALSE, "{'warn-thresholds': <@ax []>}",
      "warn-thresholds" },
    { "warn-thresholds 17", "s", 60000, FALSE,
      "{'warn-thresholds': <[int64 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]>}",
      "warn-thresholds" },
    { "warn-thresholds 0", "s", 60000, FALSE, "{'warn-thresholds': <[int64 1000, 0]>}",
      "warn-thresholds" },
    { "warn-thresholds < 0", "s", 60000, FALSE, "{'warn-thresholds': <[int64 -1000]>}",
      "warn-thresholds" },
    { "warn-thresholds ai", "s", 60000, FALSE, "{'warn-thresholds': <[1000, 2000]>}",
      "warn-thresholds" },
    { "warn-before-minutes i", "s", 60000, FALSE, "{'warn-before-minutes': <5>}",
      "warn-before-minutes" },
    { "metadata not a{sv}", "s", 60000, FALSE, "{'metadata': <'x'>}", "metadata" },
    { "app-id not s", "s", 60000, FALSE, "{'app-id': <true>}", "app-id" },
    { "url not s", "s", 60000, FALSE, "{'url': <int64 3>}", "url" },
  };

  register_ok (f, "keep", T0 + 11 * MIN_MS, NULL);
  clear_events (f);
  f->changed = 0;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const BadCase *c = &cases[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) parse_error = NULL;
      g_autoptr (GVariant) options =
          g_variant_parse (G_VARIANT_TYPE_VARDICT, c->options, NULL, NULL, &parse_error);
      gint64 expires = c->absolute ? c->expires_at : T0 + c->expires_at;

      g_test_message ("case: %s", c->what);
      g_assert_no_error (parse_error);
      g_assert_false (sm_sessions_register (f->sessions, c->id, expires, options, &error));
      g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      if (strstr (error->message, c->arg) == NULL)
        g_error ("%s: message \"%s\" does not name %s", c->what, error->message, c->arg);
    }

  /* Nothing changed: no signal, the one session as it was. */
  g_assert_cmpuint (f->events->len, ==, 0);
  g_assert_cmpuint (f->changed, ==, 0);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 1);
  g_assert_cmpint (sm_sessions_lookup (f->sessions, "keep")->expires_at, ==, T0 + 11 * MIN_MS);

  /* A failed re-register of an existing id leaves it untouched. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) bad =
        g_variant_parse (G_VARIANT_TYPE_VARDICT, "{'warn-thresholds': <@ax []>}", NULL, NULL, NULL);

    g_assert_false (sm_sessions_register (f->sessions, "keep", T0 + 5000, bad, &error));
    g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
    g_assert_cmpint (sm_sessions_lookup (f->sessions, "keep")->expires_at, ==, T0 + 11 * MIN_MS);
    g_assert_cmpuint (sm_sessions_lookup (f->sessions, "keep")->n_thresholds, ==, 4);
  }

  /* The edges that are still valid. */
  register_ok (f, max_id, T0 + 60000, NULL);
  register_ok (f, "edge-30d", T0 + (gint64) 30 * 24 * 3600 * 1000, NULL);
  {
    g_autoptr (GVariant) unknown =
        g_variant_parse (G_VARIANT_TYPE_VARDICT, "{'no-such-key': <42>}", NULL, NULL, NULL);

    register_ok (f, "unknown-key", T0 + 60000, g_steal_pointer (&unknown));
  }
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 4);
}

/* The stored metadata must not be a view into the caller's options (as it is
 * when the options come in a D-Bus message): that would keep the whole call
 * alive for as long as the session. */
static void
test_metadata_detached (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GVariant) options = g_variant_ref_sink (g_variant_new_parsed (
      "{'metadata': <{'wallet': <'w1'>, 'peers': <uint32 3>}>, 'url': <'wallet://x'>}"));
  g_autoptr (GVariant) expected =
      g_variant_ref_sink (g_variant_new_parsed ("{'wallet': <'w1'>, 'peers': <uint32 3>}"));
  const guint8 *start, *end, *meta;
  const SmSession *session;

  /* Serialized, as GDBus hands options over: children share its bytes. */
  g_variant_get_data (options);
  start = g_variant_get_data (options);
  end = start + g_variant_get_size (options);

  g_assert_true (sm_sessions_register (f->sessions, "m", T0 + 60000, options, NULL));
  session = sm_sessions_lookup (f->sessions, "m");
  g_assert_true (g_variant_equal (session->metadata, expected));
  g_assert_true (g_variant_is_normal_form (session->metadata));
  meta = g_variant_get_data (session->metadata);
  g_assert_true (meta < start || meta >= end);
}

static void
test_invalid_metadata_size (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *blob = g_malloc0 (64 * 1024);
  g_auto (GVariantDict) meta = G_VARIANT_DICT_INIT (NULL);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) options = NULL;

  g_variant_dict_insert_value (&meta, "blob",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, 64 * 1024, 1));
  g_variant_dict_insert_value (&dict, "metadata", g_variant_dict_end (&meta));
  options = g_variant_ref_sink (g_variant_dict_end (&dict));

  g_assert_false (sm_sessions_register (f->sessions, "big", T0 + 60000, options, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "metadata"));
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
}

static void
test_invalid_unregister (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autofree char *long_reason = g_strnfill (256, 'r');
  g_autofree char *max_reason = g_strnfill (255, 'r');
  const char *bad_reasons[] = { long_reason, "bad\treason", "esc\x1b" };

  register_ok (f, "s", T0 + 60000, NULL);
  register_ok (f, "t", T0 + 60000, NULL);
  clear_events (f);

  for (guint i = 0; i < G_N_ELEMENTS (bad_reasons); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (sm_sessions_unregister (f->sessions, "s", bad_reasons[i], &error));
      g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      g_assert_nonnull (strstr (error->message, "reason"));
    }
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (sm_sessions_unregister (f->sessions, "", "", &error));
    g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
    g_assert_nonnull (strstr (error->message, "session_id"));
  }
  g_assert_cmpuint (f->events->len, ==, 0);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 2);

  /* Free text up to 255 bytes is fine, UTF-8 included. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_true (sm_sessions_unregister (f->sessions, "s", max_reason, &error));
    g_assert_no_error (error);
    g_assert_true (sm_sessions_unregister (f->sessions, "t", "abgebrochen – ok", &error));
    g_assert_no_error (error);
  }
  g_assert_cmpstr (ev_at (f, 0)->reason, ==, max_reason);
  g_assert_cmpstr (ev_at (f, 1)->reason, ==, "abgebrochen – ok");
}

static void
test_limit (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GVariant) options = opts_empty ();
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < SM_SESSIONS_MAX; i++)
    {
      char id[32];

      g_snprintf (id, sizeof id, "s%05u", i);
      g_assert_true (
          sm_sessions_register (f->sessions, id, T0 + 60000 + (gint64) i, options, NULL));
    }
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 10000);
  clear_events (f);

  g_assert_false (sm_sessions_register (f->sessions, "one-more", T0 + 60000, options, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "session_id"));
  g_clear_error (&error);
  g_assert_cmpuint (f->events->len, ==, 0);

  /* Re-registering one that exists always works. */
  g_assert_true (sm_sessions_register (f->sessions, "s00042", T0 + 99999, options, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sm_sessions_lookup (f->sessions, "s00042")->expires_at, ==, T0 + 99999);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 10000);

  /* Room again after one leaves. */
  g_assert_true (sm_sessions_unregister (f->sessions, "s00000", "", &error));
  g_assert_true (sm_sessions_register (f->sessions, "one-more", T0 + 60000, options, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 10000);

  /* Every one expires exactly once. */
  clear_events (f);
  sm_scheduler_set_now (f->scheduler, T0 + 200000);
  g_assert_cmpuint (count_kind (f, EV_EXPIRED), ==, 10000);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
}

static GVariant *
rich_metadata (void)
{
  const guint8 bytes[] = { 0, 1, 2, 255 };
  g_auto (GVariantDict) nested = G_VARIANT_DICT_INIT (NULL);
  g_auto (GVariantDict) meta = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&nested, "depth", "q", (guint16) 2);
  g_variant_dict_insert (&nested, "label", "s", "inner");
  g_variant_dict_insert (&meta, "u", "u", (guint32) 7);
  g_variant_dict_insert (&meta, "i", "i", (gint32) -7);
  g_variant_dict_insert (&meta, "x", "x", (gint64) G_MININT64);
  g_variant_dict_insert (&meta, "t", "t", (guint64) G_MAXUINT64);
  g_variant_dict_insert (&meta, "d", "d", 0.5);
  g_variant_dict_insert (&meta, "b", "b", TRUE);
  g_variant_dict_insert (&meta, "y", "y", (guint8) 200);
  g_variant_dict_insert (&meta, "s", "s", "O'Brien & Sons <Ltd>");
  g_variant_dict_insert (&meta, "o", "o", "/org/example/Obj");
  g_variant_dict_insert_value (&meta, "ay",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, 4, 1));
  g_variant_dict_insert (&meta, "as", "^as", (const char *const[]){ "a", "b", NULL });
  g_variant_dict_insert_value (&meta, "nested", g_variant_dict_end (&nested));
  g_variant_dict_insert (&meta, "v", "v", g_variant_new_uint32 (9));
  return g_variant_dict_end (&meta);
}

/* What the store saves of @id is sm_session_to_variant(), byte for byte. */
static void
assert_stored_form (Fixture *f, const char *id)
{
  g_autoptr (GVariant) tree =
      g_variant_ref_sink (sm_session_to_variant (sm_sessions_lookup (f->sessions, id)));
  GVariant *stored = sm_storable_serialize (SM_STORABLE (f->sessions), id);

  /* Floating, as the store takes it. */
  g_assert_true (g_variant_is_floating (stored));
  g_variant_ref_sink (stored);
  g_assert_cmpstr (g_variant_get_type_string (stored), ==, "a{sv}");
  g_assert_cmpmem (g_variant_get_data (stored), g_variant_get_size (stored),
                   g_variant_get_data (tree), g_variant_get_size (tree));
  g_assert_true (g_variant_is_normal_form (stored));
  g_variant_unref (stored);
}

static void
test_stored_form (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 11 * MIN_MS;
  const gint64 th[] = { 600000, 300000, 60000 };
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert_value (&dict, "warn-thresholds", thresholds_variant (th, 3));
  g_variant_dict_insert (&dict, "session-type", "s", "nonce");
  g_variant_dict_insert (&dict, "app-id", "s", "org.example.Wallet");
  g_variant_dict_insert (&dict, "url", "s", "wallet://session/1");
  g_variant_dict_insert_value (&dict, "metadata", rich_metadata ());
  register_ok (f, "full", expires, g_variant_ref_sink (g_variant_dict_end (&dict)));
  register_ok (f, "bare", expires, NULL);
  assert_stored_form (f, "full");
  assert_stored_form (f, "bare");
  /* With warnings sent. */
  sm_scheduler_set_now (f->scheduler, expires - 300000);
  assert_stored_form (f, "full");
  assert_stored_form (f, "bare");
  /* Gone: nothing to save. */
  sm_scheduler_set_now (f->scheduler, expires);
  g_assert_null (sm_storable_serialize (SM_STORABLE (f->sessions), "full"));
}

static void
test_restore_round_trip (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const gint64 expires = T0 + 11 * MIN_MS;
  const gint64 th[] = { 600000, 300000, 60000 };
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) saved = NULL;
  g_autoptr (GVariant) restored = NULL;
  g_autoptr (GVariant) meta = NULL;
  g_autoptr (GVariant) u = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SmScheduler) scheduler2 = NULL;
  g_autoptr (SmSessions) sessions2 = NULL;
  const gint64 sent1[] = { 600000 };
  guint expiring = 0;

  g_variant_dict_insert_value (&dict, "warn-thresholds", thresholds_variant (th, 3));
  g_variant_dict_insert (&dict, "warn-before-minutes", "u", 3);
  g_variant_dict_insert (&dict, "session-type", "s", "nonce");
  g_variant_dict_insert (&dict, "app-id", "s", "org.example.Wallet");
  g_variant_dict_insert (&dict, "url", "s", "wallet://session/1");
  g_variant_dict_insert_value (&dict, "metadata", rich_metadata ());
  register_ok (f, "rt", expires, g_variant_ref_sink (g_variant_dict_end (&dict)));
  sm_scheduler_set_now (f->scheduler, expires - 600000);
  assert_sent (f, "rt", sent1, 1);

  saved = g_variant_ref_sink (sm_session_to_variant (sm_sessions_lookup (f->sessions, "rt")));

  /* A fresh model, as after a restart, a little later. */
  scheduler2 = sm_scheduler_new_manual (expires - 400000);
  sessions2 = sm_sessions_new (scheduler2);
  g_assert_true (sm_sessions_restore (sessions2, saved, &error));
  g_assert_no_error (error);
  restored = g_variant_ref_sink (sm_session_to_variant (sm_sessions_lookup (sessions2, "rt")));
  if (!g_variant_equal (saved, restored))
    {
      g_autofree char *a = g_variant_print (saved, TRUE);
      g_autofree char *b = g_variant_print (restored, TRUE);

      g_error ("restore changed the session:\n%s\n%s", a, b);
    }

  /* Types preserved exactly: a 'u' stays a 'u', not an 'x'. */
  meta = g_variant_lookup_value (restored, "metadata", G_VARIANT_TYPE_VARDICT);
  u = g_variant_lookup_value (meta, "u", NULL);
  g_assert_cmpstr (g_variant_get_type_string (u), ==, "u");
  g_assert_cmpuint (g_variant_get_uint32 (u), ==, 7);

  /* The sent 10-minute warning is not re-sent; the 5-minute one comes. */
  {
    Fixture f2 = { scheduler2, sessions2, g_array_new (FALSE, TRUE, sizeof (Event)), 0 };

    g_array_set_clear_func (f2.events, event_clear);
    g_signal_connect (sessions2, "session-expiring", G_CALLBACK (on_expiring), &f2);
    sm_scheduler_set_now (scheduler2, expires - 300000);
    expiring = count_kind (&f2, EV_EXPIRING);
    g_assert_cmpuint (expiring, ==, 1);
    g_assert_cmpint (ev_at (&f2, 0)->threshold, ==, 300000);
    g_signal_handlers_disconnect_by_data (sessions2, &f2);
    g_array_unref (f2.events);
  }
}

static void
test_restore_clamps (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) entry = g_variant_parse (
      G_VARIANT_TYPE_VARDICT,
      "{'session-id': <'future'>, 'expires-at': <int64 1700000600000>,"
      " 'registered-at': <int64 1700000500000>, 'metadata': <@a{sv} {'k': <uint32 1>}>}",
      NULL, NULL, NULL);
  g_autoptr (GVariant) broken =
      g_variant_parse (G_VARIANT_TYPE_VARDICT, "{'expires-at': <int64 1>}", NULL, NULL, NULL);

  g_assert_true (sm_sessions_restore (f->sessions, entry, &error));
  g_assert_no_error (error);
  /* Registered "in the future": the clock was set back, clamp to now. */
  g_assert_cmpint (sm_sessions_lookup (f->sessions, "future")->registered_at, ==, T0);

  g_assert_false (sm_sessions_restore (f->sessions, broken, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 1);
}

/* Options carrying a byte string of @n bytes under an unknown key. */
static GVariant *
padded_options (gsize n)
{
  g_autofree guint8 *blob = g_malloc0 (MAX (n, 1));
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert_value (&dict, "pad",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, n, 1));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* Options of exactly @size bytes serialized. */
static GVariant *
options_of_size (gsize size)
{
  g_autoptr (GVariant) probe = padded_options (size);
  gsize n = size - (g_variant_get_size (probe) - size);
  GVariant *options = padded_options (n);

  g_assert_cmpuint (g_variant_get_size (options), ==, size);
  return options;
}

/* The whole options dict is capped, whatever its keys (unknown ones too). */
static void
test_options_size_cap (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GVariant) at_cap = options_of_size (SM_OPTIONS_MAX_BYTES);
  g_autoptr (GVariant) over_cap = options_of_size (SM_OPTIONS_MAX_BYTES + 1);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (SM_OPTIONS_MAX_BYTES, ==, 128 * 1024);
  g_assert_true (sm_sessions_register (f->sessions, "at-cap", T0 + 60000, at_cap, &error));
  g_assert_no_error (error);

  g_assert_false (sm_sessions_register (f->sessions, "over-cap", T0 + 60000, over_cap, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
  g_assert_nonnull (strstr (error->message, "options"));
  g_assert_nonnull (strstr (error->message, "131072"));
  g_assert_null (sm_sessions_lookup (f->sessions, "over-cap"));
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 1);
}

/* @inner wrapped in @n variants. */
static GVariant *
wrap_variants (GVariant *inner, guint n)
{
  GVariant *v = inner;

  for (guint i = 0; i < n; i++)
    v = g_variant_new_variant (v);
  return v;
}

static GVariant *
deep_options (guint levels, gboolean in_metadata)
{
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  if (in_metadata)
    {
      /* "metadata" is at level 1, its values at level 2. */
      g_auto (GVariantDict) meta = G_VARIANT_DICT_INIT (NULL);

      g_variant_dict_insert_value (&meta, "deep",
                                   wrap_variants (g_variant_new_string ("x"), levels - 2));
      g_variant_dict_insert_value (&dict, "metadata", g_variant_dict_end (&meta));
    }
  else
    g_variant_dict_insert_value (&dict, "deep",
                                 wrap_variants (g_variant_new_uint32 (7), levels - 1));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* Variants nest at most 16 deep (a value of the dict is level 1), in
 * metadata as in any other key; anything deeper changes nothing. */
static void
test_options_nesting_cap (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  for (guint in_metadata = 0; in_metadata < 2; in_metadata++)
    {
      g_autoptr (GVariant) ok = deep_options (SM_OPTIONS_MAX_VARIANT_DEPTH, in_metadata);
      g_autoptr (GVariant) too_deep = deep_options (SM_OPTIONS_MAX_VARIANT_DEPTH + 1, in_metadata);
      g_autoptr (GVariant) broke_replies = deep_options (58, in_metadata);
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (SM_OPTIONS_MAX_VARIANT_DEPTH, ==, 16);
      g_assert_true (sm_sessions_register (f->sessions, "ok", T0 + 60000, ok, &error));
      g_assert_no_error (error);
      if (in_metadata)
        {
          g_autoptr (GVariant) saved =
              g_variant_ref_sink (sm_session_to_variant (sm_sessions_lookup (f->sessions, "ok")));

          /* What is stored also comes back in through a restart. */
          g_assert_true (sm_sessions_unregister (f->sessions, "ok", "", NULL));
          g_assert_true (sm_sessions_restore (f->sessions, saved, &error));
          g_assert_no_error (error);
        }

      g_assert_false (sm_sessions_register (f->sessions, "deep", T0 + 60000, too_deep, &error));
      g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      g_assert_nonnull (strstr (error->message, "variants are nested more than 16"));
      g_clear_error (&error);
      g_assert_false (
          sm_sessions_register (f->sessions, "deep", T0 + 60000, broke_replies, &error));
      g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      g_clear_error (&error);
      g_assert_null (sm_sessions_lookup (f->sessions, "deep"));
      g_assert_true (sm_sessions_unregister (f->sessions, "ok", "", NULL));
    }
}

/* Maybe types and the empty tuple are GVariant values that D-Bus cannot
 * carry: never accepted (a saved state could otherwise hold one, and no
 * GetSessions reply could then be sent). Found by fuzz-options. */
static void
test_options_not_for_dbus (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  const char *const texts[] = {
    "{'metadata': <{'x': <()>}>}",
    "{'metadata': <{'x': <@mi 5>}>}",
    "{'metadata': <{'x': <[(1, ())]>}>}",
    "{'unknown': <@ms nothing>}",
    "{'metadata': <{'x': <<<@m(ii) nothing>>>}>}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GVariant) options = g_variant_ref_sink (g_variant_new_parsed (texts[i]));
      g_autoptr (GError) error = NULL;

      g_assert_false (sm_sessions_register (f->sessions, "s", T0 + 60000, options, &error));
      g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
      g_assert_nonnull (strstr (error->message, "cannot be sent over D-Bus"));
      g_assert_null (sm_sessions_lookup (f->sessions, "s"));
    }
}

/* Containers of any kind nest at most 62 deep with the dict at level 1, so
 * that GetSessions (one level deeper) stays within D-Bus's 64. */
static void
test_options_container_depth (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  /* The dict, its entry and the value's variant are three levels. */
  for (guint arrays = SM_OPTIONS_MAX_DEPTH - 4; arrays <= SM_OPTIONS_MAX_DEPTH - 2; arrays++)
    {
      g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
      g_auto (GVariantDict) meta = G_VARIANT_DICT_INIT (NULL);
      g_autoptr (GVariant) plain = NULL;
      g_autoptr (GVariant) options = NULL;
      g_autoptr (GVariant) options_meta = NULL;
      GVariant *v = g_variant_new_byte (1);
      gboolean fits = 3 + arrays <= SM_OPTIONS_MAX_DEPTH;
      g_autoptr (GError) error = NULL;

      for (guint i = 0; i < arrays; i++)
        v = g_variant_new_array (NULL, &v, 1);
      plain = g_variant_ref_sink (v);
      g_variant_dict_insert_value (&dict, "nest", plain);
      options = g_variant_ref_sink (g_variant_dict_end (&dict));
      g_assert_cmpint (sm_sessions_register (f->sessions, "nest", T0 + 60000, options, &error), ==,
                       fits);
      if (!fits)
        {
          g_assert_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS);
          g_assert_nonnull (strstr (error->message, "containers are nested more than 62"));
          g_clear_error (&error);
        }

      /* The same inside metadata: the array is three levels deeper. */
      if (arrays >= 3)
        {
          g_autoptr (GVariant) inner1 = g_variant_get_child_value (plain, 0);
          g_autoptr (GVariant) inner2 = g_variant_get_child_value (inner1, 0);
          g_autoptr (GVariant) inner3 = g_variant_get_child_value (inner2, 0);

          g_variant_dict_insert_value (&meta, "nest", inner3);
          g_variant_dict_init (&dict, NULL);
          g_variant_dict_insert_value (&dict, "metadata", g_variant_dict_end (&meta));
          options_meta = g_variant_ref_sink (g_variant_dict_end (&dict));
          g_assert_cmpint (
              sm_sessions_register (f->sessions, "meta", T0 + 60000, options_meta, &error), ==,
              fits);
          g_clear_error (&error);
        }
    }
}

/* A budget of @limit bytes for @f's sessions alone. */
static void
set_budget (Fixture *f, gsize limit)
{
  g_autoptr (SmBudget) budget = sm_budget_new ("the test's byte budget", limit, NULL);

  sm_sessions_set_budget (f->sessions, budget);
}

static GVariant *
metadata_options (gsize n)
{
  g_autofree guint8 *blob = g_malloc0 (MAX (n, 1));
  g_auto (GVariantDict) meta = G_VARIANT_DICT_INIT (NULL);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert_value (&meta, "blob",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, n, 1));
  g_variant_dict_insert_value (&dict, "metadata", g_variant_dict_end (&meta));
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* What one session with @options counts against a budget. */
static gsize
session_size (Fixture *f, GVariant *options)
{
  gsize before = sm_budget_get_used (sm_sessions_get_budget (f->sessions));
  gsize size;

  const SmSession *session;
  g_autoptr (GVariant) saved = NULL;

  g_assert_true (sm_sessions_register (f->sessions, "probe", T0 + 60000, options, NULL));
  size = sm_budget_get_used (sm_sessions_get_budget (f->sessions)) - before;
  /* Exactly its D-Bus form once its warnings are sent, and its offset in
   * GetSessions' array. */
  session = sm_sessions_lookup (f->sessions, "probe");
  saved = g_variant_ref_sink (sm_session_to_variant (session));
  g_assert_cmpuint (size, ==, sm_variant_dbus_size (saved) + 8 * session->n_thresholds + 8);
  g_assert_true (sm_sessions_unregister (f->sessions, "probe", "", NULL));
  g_assert_cmpuint (sm_budget_get_used (sm_sessions_get_budget (f->sessions)), ==, before);
  return size;
}

/* The byte budget: reached exactly, one byte past it LimitExceeded naming
 * it; a smaller re-registration still fits, unregistering and expiring
 * give the bytes back, and a restore cannot pass it either. */
static void
test_budget (Fixture *f, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GVariant) big = metadata_options (40000);
  g_autoptr (GVariant) small = metadata_options (10);
  g_autoptr (GVariant) saved = NULL;
  gsize big_size = session_size (f, big);
  gsize small_size = session_size (f, small);
  g_autoptr (GError) error = NULL;
  SmBudget *budget;

  /* Counted as serialized: the metadata and the rest of the entry. */
  g_assert_cmpuint (big_size, >, 40000);
  g_assert_cmpuint (big_size, <, 41000);
  g_assert_cmpuint (small_size, <, 1000);

  /* One byte short of two big ones: the second does not fit. */
  set_budget (f, 2 * big_size - 1);
  g_assert_true (sm_sessions_register (f->sessions, "a", T0 + 60000, big, &error));
  g_assert_false (sm_sessions_register (f->sessions, "b", T0 + 120000, big, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_true (sm_sessions_unregister (f->sessions, "a", "", &error));

  /* Exactly two big ones fit. */
  set_budget (f, 2 * big_size);
  budget = sm_sessions_get_budget (f->sessions);
  g_assert_true (sm_sessions_register (f->sessions, "a", T0 + 60000, big, &error));
  g_assert_true (sm_sessions_register (f->sessions, "b", T0 + 120000, big, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sm_budget_get_used (budget), ==, 2 * big_size);
  clear_events (f);

  g_assert_false (sm_sessions_register (f->sessions, "c", T0 + 60000, small, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "the test's byte budget"));
  g_assert_nonnull (strstr (error->message, "\"c\""));
  g_clear_error (&error);
  g_assert_cmpuint (f->events->len, ==, 0);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 2);

  /* Re-registering with a smaller entry works, and frees the difference;
   * growing back to the old size fits again, one byte more would not. */
  g_assert_true (sm_sessions_register (f->sessions, "a", T0 + 90000, small, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sm_budget_get_used (budget), ==, big_size + small_size);
  g_assert_true (sm_sessions_register (f->sessions, "c", T0 + 60000, small, &error));
  g_assert_no_error (error);
  g_assert_false (sm_sessions_register (f->sessions, "a", T0 + 90000, big, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_cmpint (sm_sessions_lookup (f->sessions, "a")->expires_at, ==, T0 + 90000);
  g_assert_true (sm_sessions_unregister (f->sessions, "c", "", &error));
  g_assert_true (sm_sessions_register (f->sessions, "a", T0 + 90000, big, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (sm_budget_get_used (budget), ==, 2 * big_size);

  /* Unregistering gives the bytes back. */
  saved = g_variant_ref_sink (sm_session_to_variant (sm_sessions_lookup (f->sessions, "b")));
  g_assert_true (sm_sessions_unregister (f->sessions, "b", "", &error));
  g_assert_cmpuint (sm_budget_get_used (budget), ==, big_size);
  g_assert_true (sm_sessions_register (f->sessions, "c", T0 + 60000, small, &error));
  g_assert_no_error (error);

  /* A saved entry that no longer fits is refused on restore too. */
  g_assert_false (sm_sessions_restore (f->sessions, saved, &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_null (sm_sessions_lookup (f->sessions, "b"));

  /* Expiring gives them back as well; warnings never grow an entry. */
  sm_scheduler_set_now (f->scheduler, T0 + 30000);
  g_assert_cmpuint (sm_budget_get_used (budget), ==, big_size + small_size);
  sm_scheduler_set_now (f->scheduler, T0 + 100000);
  g_assert_cmpuint (sm_sessions_get_count (f->sessions), ==, 0);
  g_assert_cmpuint (sm_budget_get_used (budget), ==, 0);
  g_assert_true (sm_sessions_restore (f->sessions, saved, &error));
  g_assert_no_error (error);
}

/* A budget with a parent (system mode: all users together) is refused by
 * whichever is exceeded, naming it, and gives back to both. */
static void
test_budget_parent (void)
{
  g_autoptr (SmBudget) all = sm_budget_new ("the byte budget of all users together", 150, NULL);
  g_autoptr (SmBudget) alice = sm_budget_new ("the caller's byte budget", 100, all);
  g_autoptr (SmBudget) bob = sm_budget_new ("the caller's byte budget", 100, all);
  g_autoptr (GError) error = NULL;

  g_assert_true (sm_budget_check (alice, 0, 100, "id", "a1", &error));
  sm_budget_charge (alice, 0, 100);
  g_assert_false (sm_budget_check (alice, 0, 1, "id", "a2", &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "the caller's byte budget (100 bytes"));
  g_clear_error (&error);

  g_assert_true (sm_budget_check (bob, 0, 50, "id", "b1", &error));
  g_assert_false (sm_budget_check (bob, 0, 51, "id", "b1", &error));
  g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "all users together (150 bytes"));
  g_clear_error (&error);
  sm_budget_charge (bob, 0, 50);
  g_assert_cmpuint (sm_budget_get_used (all), ==, 150);

  /* Shrinking always fits; a user's budget gone gives all of it back. */
  g_assert_true (sm_budget_check (alice, 100, 60, "id", "a1", &error));
  sm_budget_charge (alice, 100, 60);
  g_assert_cmpuint (sm_budget_get_used (all), ==, 110);
  g_clear_pointer (&alice, sm_budget_unref);
  g_assert_cmpuint (sm_budget_get_used (all), ==, 50);
}

/* System mode: each user has a budget of their own, and all users together
 * one of 4 times that, so the daemon's memory does not grow with the number
 * of users. An a(y) counts 8 times its GVariant size (its D-Bus size). */
static void
test_budget_users (void)
{
  g_autoptr (SmScheduler) scheduler = sm_scheduler_new_manual (T0);
  g_autoptr (SmUsers) users = sm_users_new (scheduler);
  g_autofree guint8 *bytes = g_malloc0 (8000);
  g_auto (GVariantDict) meta = G_VARIANT_DICT_INIT (NULL);
  g_auto (GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  g_autoptr (GVariant) options = NULL;
  SmBudget *all = sm_users_get_budget (users);
  gsize total = 0;

  g_variant_dict_insert_value (&meta, "y",
                               g_variant_new_fixed_array (G_VARIANT_TYPE ("(y)"), bytes, 8000, 1));
  g_variant_dict_insert_value (&dict, "metadata", g_variant_dict_end (&meta));
  options = g_variant_ref_sink (g_variant_dict_end (&dict));
  g_assert_cmpuint (sm_budget_get_limit (all), ==, SM_USERS_MAX_FACTOR * SM_BUDGET_USER_BYTES);

  for (guint32 uid = 1000; uid < 1000 + SM_USERS_MAX_FACTOR + 1; uid++)
    {
      SmUser *user = sm_users_get (users, uid);
      SmBudget *own = sm_sessions_get_budget (user->sessions);
      g_autoptr (GError) error = NULL;
      guint n = 0;

      g_assert_true (own != all);
      while (TRUE)
        {
          char id[32];

          g_snprintf (id, sizeof id, "s%u", n);
          if (!sm_sessions_register (user->sessions, id, T0 + 60000, options, &error))
            break;
          n++;
        }
      g_assert_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED);
      total += sm_budget_get_used (own);
      g_assert_cmpuint (sm_budget_get_used (all), ==, total);
      if (uid < 1000 + SM_USERS_MAX_FACTOR)
        {
          /* 64 000 bytes on the bus each: 8 times the GVariant size. */
          g_assert_cmpuint (n, <=, SM_BUDGET_USER_BYTES / 64000);
          g_assert_cmpuint (n, >=, SM_BUDGET_USER_BYTES / 64600);
          g_assert_nonnull (strstr (error->message, "the caller's byte budget"));
        }
      else
        {
          g_assert_cmpuint (n, <, SM_USERS_MAX_FACTOR);
          g_assert_nonnull (strstr (error->message, "all users together"));
        }
    }

  /* Sessions gone give their bytes back to all users. */
  sm_scheduler_set_now (scheduler, T0 + 60000);
  g_assert_cmpuint (sm_users_count_sessions (users), ==, 0);
  g_assert_cmpuint (sm_budget_get_used (all), ==, 0);
}

/* The D-Bus size sm_budget_entry_size() counts is exact: as GDBus marshals
 * the value, also where it is up to 8 times the GVariant size. */
static void
test_dbus_size (void)
{
  const char *texts[] = {
    "@a(y) [(1,), (2,), (3,)]",
    "@ab [true, false, true, true, false]",
    "@aay [[], [], [1]]",
    "@a(ay) [([],), ([2],)]",
    "{'s': <'text'>, 'u': <uint32 1>, 'x': <int64 2>, 'd': <2.5>, 'b': <true>}",
    "{'nested': <{'a': <[<byte 1>, <'two'>, <(uint16 3, int64 4)>]>}>}",
    "@a{sv} {'o': <objectpath '/a/b'>, 'g': <signature 'a{sv}'>, 'n': <int16 -1>}",
    "@aa{sv} [{'k': <@ay []>}, {}]",
    "(byte 1, int64 2, 'x', [uint32 3, 4], @a{yd} {1: 0.5, 2: 1.5})",
    "@as ['', 'a', 'bb', 'ccc']",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GVariant) value = g_variant_parse (NULL, texts[i], NULL, NULL, &error);
      g_autoptr (GDBusMessage) message = g_dbus_message_new_signal ("/a", "a.b", "c");
      g_autofree guchar *blob = NULL;
      gsize length = 0;
      guint32 body_length;

      g_assert_no_error (error);
      g_dbus_message_set_body (message, g_variant_new_tuple (&value, 1));
      blob = g_dbus_message_to_blob (message, &length, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
      g_assert_no_error (error);
      memcpy (&body_length, blob + 4, sizeof body_length);
      body_length = blob[0] == 'l' ? GUINT32_FROM_LE (body_length) : GUINT32_FROM_BE (body_length);
      g_test_message ("%s: D-Bus %u bytes, GVariant %" G_GSIZE_FORMAT, texts[i], body_length,
                      g_variant_get_size (value));
      g_assert_cmpuint (sm_variant_dbus_size (value), ==, body_length);
    }
}

/* The same at every width of GVariant's framing offsets (an a{sv} is
 * walked in its bytes), with values of every kind inside. */
static void
test_dbus_size_wide (void)
{
  const gsize lengths[] = { 0, 1, 200, 300, 70000 };

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autofree char *text = g_strnfill (lengths[i], 'x');
      g_autoptr (GVariant) value = g_variant_ref_sink (g_variant_new_parsed (
          "{'text': <%s>, 'y': <byte 1>, 'x': <int64 2>, 'o': <objectpath '/a'>, "
          "'g': <signature 'as'>, 'ay': <@ay []>, 'as': <['a', %s]>, 'v': <<%s>>, "
          "'t': <(byte 1, %s, int64 3)>, '': <@a{sv} {'in': <%s>}>}",
          text, text, text, text, text));
      g_autoptr (GVariant) copy =
          g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, g_variant_get_data (value),
                                   g_variant_get_size (value), FALSE, NULL, NULL);
      g_autoptr (GDBusMessage) message = g_dbus_message_new_signal ("/a", "a.b", "c");
      g_autoptr (GError) error = NULL;
      g_autofree guchar *blob = NULL;
      gsize length = 0;
      guint32 body_length;

      g_dbus_message_set_body (message, g_variant_new_tuple (&value, 1));
      blob = g_dbus_message_to_blob (message, &length, G_DBUS_CAPABILITY_FLAGS_NONE, &error);
      g_assert_no_error (error);
      memcpy (&body_length, blob + 4, sizeof body_length);
      body_length = blob[0] == 'l' ? GUINT32_FROM_LE (body_length) : GUINT32_FROM_BE (body_length);
      g_assert_cmpuint (sm_variant_dbus_size (value), ==, body_length);
      /* Untrusted bytes are checked before they are walked. */
      g_variant_ref_sink (copy);
      g_assert_cmpuint (sm_variant_dbus_size (copy), ==, body_length);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/sessions/default-thresholds", test_default_thresholds);
  ADD ("/sessions/jump-forward-no-burst", test_jump_forward_no_burst);
  ADD ("/sessions/minutes-rounding", test_minutes_rounding);
  ADD ("/sessions/jump-backward", test_jump_backward);
  ADD ("/sessions/jump-past-expiry", test_jump_past_expiry);
  ADD ("/sessions/expired-on-register", test_expired_on_register);
  ADD ("/sessions/reregister", test_reregister);
  ADD ("/sessions/unregister", test_unregister);
  ADD ("/sessions/warn-before-minutes", test_warn_before_minutes);
  ADD ("/sessions/thresholds-sorted", test_thresholds_sorted_dedup);
  ADD ("/sessions/invalid-args", test_invalid_args);
  ADD ("/sessions/invalid-metadata-size", test_invalid_metadata_size);
  ADD ("/sessions/metadata-detached", test_metadata_detached);
  ADD ("/sessions/invalid-unregister", test_invalid_unregister);
  ADD ("/sessions/limit", test_limit);
  ADD ("/sessions/stored-form", test_stored_form);
  ADD ("/sessions/restore-round-trip", test_restore_round_trip);
  ADD ("/sessions/restore-clamps", test_restore_clamps);
  ADD ("/sessions/options-size-cap", test_options_size_cap);
  ADD ("/sessions/options-nesting-cap", test_options_nesting_cap);
  ADD ("/sessions/options-not-for-dbus", test_options_not_for_dbus);
  ADD ("/sessions/options-container-depth", test_options_container_depth);
  ADD ("/sessions/budget", test_budget);
#undef ADD
  g_test_add_func ("/budget/parent", test_budget_parent);
  g_test_add_func ("/budget/dbus-size", test_dbus_size);
  g_test_add_func ("/budget/dbus-size-wide", test_dbus_size_wide);
  g_test_add_func ("/budget/users", test_budget_users);

  return g_test_run ();
}
