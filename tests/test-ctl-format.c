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
  g_test_add_func ("/ctl/errors", test_errors);
  return g_test_run ();
}
