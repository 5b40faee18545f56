/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Unit tests of session-monitorctl's parsing and formatting helpers. */
#include "sm-ctl-format.h"

#include <glib.h>
#include <string.h>

static void
test_duration_parse (void)
{
  static const struct
  {
    const char *text;
    gint64 ms;
  } good[] = {
    { "90s", 90000 },      { "10m", 600000 }, { "1h30m", 5400000 }, { "2d", 172800000 },
    { "500ms", 500 },      { "45", 45000 },   { "5min", 300000 },   { "1m30s", 90000 },
    { "1h0m1s", 3601000 }, { "0s", 0 },
  };
  static const char *bad[] = { "",     "m",   "10x",
                               "1h30", "-5s", "1.5h",
                               "10 m", "s10", "99999999999999999999d" };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 ms = -1;

      g_assert_true (sm_ctl_parse_duration (good[i].text, &ms, &error));
      g_assert_no_error (error);
      g_assert_cmpint (ms, ==, good[i].ms);
    }
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      gint64 ms = -1;

      g_assert_false (sm_ctl_parse_duration (bad[i], &ms, &error));
      g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
      g_assert_cmpint (ms, ==, -1);
    }
}

static void
test_time_parse (void)
{
  g_autoptr (GError) error = NULL;
  gint64 ms = 0;

  g_assert_true (sm_ctl_parse_time ("2025-01-31T14:05:00.250Z", &ms, &error));
  g_assert_no_error (error);
  g_assert_cmpint (ms, ==, G_GINT64_CONSTANT (1738332300250));
  g_assert_true (sm_ctl_parse_time ("2025-01-31T15:05:00+01:00", &ms, &error));
  g_assert_cmpint (ms, ==, G_GINT64_CONSTANT (1738332300000));
  g_assert_false (sm_ctl_parse_time ("tomorrow", &ms, &error));
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
}

static void
test_relative (void)
{
  static const struct
  {
    gint64 delta;
    const char *text;
  } cases[] = {
    { 250000, "in 4 min 10 s" }, { -250000, "4 min 10 s ago" }, { 5400000, "in 1 h 30 min" },
    { 3600500, "in 1 h" },       { 90061000, "in 1 d 1 h" },    { 400, "now" },
    { 59000, "in 59 s" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text =
          sm_ctl_format_relative (1000000000000 + cases[i].delta, 1000000000000);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* Countdowns round to the nearest second (half up) instead of cutting:
 * 2.9 s left reads "in 3 s", not "in 2 s". */
static void
test_relative_rounds (void)
{
  static const struct
  {
    gint64 delta;
    const char *text;
  } cases[] = {
    { 2999, "in 3 s" },
    { 2500, "in 3 s" },
    { 2499, "in 2 s" },
    { 1999, "in 2 s" },
    { 1000, "in 1 s" },
    { 600, "in 1 s" },
    { 500, "in 1 s" },
    { 499, "now" },
    { -499, "now" },
    { -2500, "3 s ago" },
    { 59499, "in 59 s" },
    { 59500, "in 1 min" },
    { 60000, "in 1 min" },
    { 60499, "in 1 min" },
    { 60500, "in 1 min 1 s" },
    { 61999, "in 1 min 2 s" },
    { 5430000, "in 1 h 31 min" },
    { 5429999, "in 1 h 30 min" },
    { 86399500, "in 1 d" },
    { -86399500, "1 d ago" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text =
          sm_ctl_format_relative (1000000000000 + cases[i].delta, 1000000000000);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_duration_format (void)
{
  static const struct
  {
    gint64 ms;
    const char *text;
  } cases[] = {
    { 0, "0 ms" },          { 999, "999 ms" },
    { 1000, "1 s" },        { 2500, "3 s" },
    { 2499, "2 s" },        { 59500, "1 min" },
    { 60500, "1 min 1 s" }, { 600000, "10 min" },
    { 3599999, "1 h" },     { 5400000, "1 h 30 min" },
    { -2500, "3 s" },       { G_MAXINT64, "106751991167 d 7 h" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = sm_ctl_format_duration (cases[i].ms);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

/* Peer text reaches a terminal only with its controls and bidi characters
 * shown as escapes. */
static void
test_untrusted (void)
{
  static const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "Bob", "Bob" },
    { "Zoë 😀", "Zoë 😀" },
    { "a\nb\tc\rd", "a\\nb\\tc\\rd" },
    { "\x1b[31mred\x07", "\\x1b[31mred\\x07" },
    { "\x7f\xc2\x85", "\\x7f\\u0085" },
    { "\xe2\x80\xae"
      "txe\xe2\x81\xa6"
      "x",
      "\\u202etxe\\u2066x" },
    { "back\\slash", "back\\\\slash" },
    { "", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = sm_ctl_format_untrusted (cases[i].in);
      g_assert_cmpstr (text, ==, cases[i].out);
    }
}

static void
test_errors (void)
{
  static const struct
  {
    const char *name;
    SmCtlExit code;
    const char *contains;
  } cases[] = {
    { "org.musig2.SessionMonitor1.Error.NotFound", SM_CTL_EXIT_NOT_FOUND, "not found: " },
    { "org.musig2.SessionMonitor1.Error.InvalidArgs", SM_CTL_EXIT_INVALID, "invalid argument: " },
    { "org.musig2.SessionMonitor1.Error.LimitExceeded", SM_CTL_EXIT_LIMIT, "limit reached: " },
    { "org.freedesktop.DBus.Error.ServiceUnknown", SM_CTL_EXIT_NOT_RUNNING,
      "systemctl --user start session-monitor" },
    { "org.freedesktop.DBus.Error.AccessDenied", SM_CTL_EXIT_DENIED, "access denied" },
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = g_dbus_error_new_for_dbus_error (cases[i].name, "the detail");
      g_autofree char *message = NULL;

      g_assert_cmpint (sm_ctl_describe_error (error, FALSE, &message), ==, cases[i].code);
      g_assert_nonnull (strstr (message, cases[i].contains));
      g_assert_nonnull (strstr (message, "the detail"));
      /* The raw D-Bus error name is translated, not shown. */
      g_assert_null (strstr (message, "GDBus.Error"));
    }
}

int
main (int argc, char **argv)
{
  g_setenv ("TZ", "UTC", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ctl/duration/parse", test_duration_parse);
  g_test_add_func ("/ctl/time/parse", test_time_parse);
  g_test_add_func ("/ctl/time/relative", test_relative);
  g_test_add_func ("/ctl/time/relative-rounds", test_relative_rounds);
  g_test_add_func ("/ctl/duration/format", test_duration_format);
  g_test_add_func ("/ctl/text/untrusted", test_untrusted);
  g_test_add_func ("/ctl/errors", test_errors);
  return g_test_run ();
}
