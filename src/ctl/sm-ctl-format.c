/* SPDX-License-Identifier: GPL-3.0-or-later */

/* Parsing and formatting for session-monitorctl: durations, times, errors
 * and JSON. Pure functions, unit-tested in tests/test-ctl-format.c. */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl-format.h"
#include "sm-error.h"
#include "sm-names.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

gint64
sm_ctl_now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* The unit at @p in ms ("ms" before "m", so that the longer unit wins),
 * with @out_end set past it; 0 when there is none. */
static gint64
parse_unit (const char *p, const char **out_end)
{
  static const struct
  {
    const char *unit;
    gint64 ms;
  } units[] = {
    { "ms", 1 },      { "d", 86400000 }, { "h", 3600000 },
    { "min", 60000 }, { "m", 60000 },    { "s", 1000 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_has_prefix (p, units[i].unit))
      {
        *out_end = p + strlen (units[i].unit);
        return units[i].ms;
      }
  return 0;
}

/* "90s", "10m", "1h30m", "2d", "500ms"; a bare number is seconds. */
gboolean
sm_ctl_parse_duration (const char *text, gint64 *out_ms, GError **error)
{
  const char *p = text;
  gint64 total = 0;

  if (text == NULL || *text == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("empty duration (use e.g. 90s, 10m or 1h30m)"));
      return FALSE;
    }

  while (*p != '\0')
    {
      guint64 number;
      char *end;
      gint64 unit_ms;

      if (!g_ascii_isdigit (*p))
        goto bad;
      number = g_ascii_strtoull (p, &end, 10);
      if (p == text && *end == '\0')
        {
          unit_ms = 1000; /* a bare number */
          p = end;
        }
      else if ((unit_ms = parse_unit (end, &p)) == 0)
        goto bad;
      if (number > (guint64) (G_MAXINT64 - total) / (guint64) unit_ms)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _ ("duration “%s” is too large"), text);
          return FALSE;
        }
      total += (gint64) number * unit_ms;
    }
  *out_ms = total;
  return TRUE;

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               _ ("bad duration “%s” (use a number with a unit: 90s, 10m, 1h30m, 2d)"), text);
  return FALSE;
}

/* ISO 8601; a time without a zone is local time. */
gboolean
sm_ctl_parse_time (const char *text, gint64 *out_ms, GError **error)
{
  g_autoptr (GTimeZone) local = g_time_zone_new_local ();
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (text, local);

  if (dt == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _ ("bad time “%s” (use ISO 8601, e.g. 2025-01-31T14:05:00Z)"), text);
      return FALSE;
    }
  *out_ms = g_date_time_to_unix (dt) * 1000 + g_date_time_get_microsecond (dt) / 1000;
  return TRUE;
}

static const struct
{
  const char *name;
  gint64 ms;
} duration_units[] = {
  { "d", 86400000 },
  { "h", 3600000 },
  { "min", 60000 },
  { "s", 1000 },
};

/* The two largest non-zero units: "4 min 10 s", "1 h 30 min", "2 d 3 h",
 * rounded to the nearest of the smaller unit shown (half up), never cut:
 * 2.9 s reads "3 s", 59.5 s "1 min", 1 h 30 min 40 s "1 h 31 min". */
char *
sm_ctl_format_duration (gint64 ms)
{
  GString *out = g_string_new (NULL);
  guint shown = 0;
  gsize i, top;

  if (ms < 0)
    ms = ms == G_MININT64 ? G_MAXINT64 : -ms;
  if (ms < 1000)
    {
      g_string_printf (out, "%" G_GINT64_FORMAT " ms", ms);
      return g_string_free (out, FALSE);
    }
  for (top = 0; top + 1 < G_N_ELEMENTS (duration_units) && ms < duration_units[top].ms; top++)
    ;
  {
    /* Rounding may carry into the next larger unit (59.5 s → 1 min): the
     * result is then a whole number of it, which the loop below shows. */
    gint64 step = duration_units[MIN (top + 1, G_N_ELEMENTS (duration_units) - 1)].ms;

    if (ms <= G_MAXINT64 - step / 2)
      ms = (ms + step / 2) / step * step;
  }
  for (i = 0; i < G_N_ELEMENTS (duration_units) && shown < 2; i++)
    {
      gint64 n = ms / duration_units[i].ms;

      if (n == 0)
        {
          if (shown > 0)
            break;
          continue;
        }
      ms -= n * duration_units[i].ms;
      g_string_append_printf (out, "%s%" G_GINT64_FORMAT " %s", shown > 0 ? " " : "", n,
                              duration_units[i].name);
      shown++;
    }
  return g_string_free (out, FALSE);
}

/* "in 3 s", "1 min ago", "now": to the nearest second (what a countdown
 * shows), so 2.9 s left reads "in 3 s", not "in 2 s"; under half a second
 * either way is "now". */
char *
sm_ctl_format_relative (gint64 when_ms, gint64 now_ms)
{
  g_autofree char *span = NULL;
  gint64 diff = when_ms - now_ms;

  if (ABS (diff) < 500)
    return g_strdup (_ ("now"));
  /* Rounded once, by sm_ctl_format_duration(); half a second and more is
   * "1 s", not "500 ms". */
  span = sm_ctl_format_duration (MAX (ABS (diff), 1000));
  return diff > 0 ? g_strdup_printf (_ ("in %s"), span) : g_strdup_printf (_ ("%s ago"), span);
}

/* Text a peer wrote, for a terminal: every control character and every
 * bidi override or isolate is shown as an escape ("\n", "\x1b", "\u202e"),
 * so it can neither move the cursor, ring, recolour nor reorder the line;
 * a backslash is doubled so that the escapes read unambiguously. */
char *
sm_ctl_format_untrusted (const char *text)
{
  /* D-Bus strings are valid UTF-8; this is only a guard. */
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c == '\\')
        g_string_append (out, "\\\\");
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c < 0x80 && g_unichar_iscntrl (c))
        g_string_append_printf (out, "\\x%02x", c);
      else if (g_unichar_iscntrl (c) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)
               || (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x061C
               || c == 0xFEFF)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

char *
sm_ctl_format_absolute (gint64 when_ms)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (when_ms / 1000);

  if (dt == NULL)
    return g_strdup ("?");
  return g_date_time_format (dt, "%Y-%m-%d %H:%M:%S");
}

/* A copy of @error (whose D-Bus error name is @remote, if it came from the
 * bus) without the "GDBus.Error:" prefix; one of the daemon's errors is in
 * the SM_ERROR domain even when @error was made before sm_error_quark()
 * registered the domain with GDBus. */
static GError *
copy_error (const GError *error, const char *remote)
{
  GError *copy;

  (void) sm_error_quark ();
  if (remote != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_DBUS_ERROR))
    {
      g_autoptr (GError) stripped = g_error_copy (error);

      g_dbus_error_strip_remote_error (stripped);
      copy = g_dbus_error_new_for_dbus_error (remote, stripped->message);
    }
  else
    copy = g_error_copy (error);
  g_dbus_error_strip_remote_error (copy);
  return copy;
}

/* One of the daemon's own errors (org.musig2.SessionMonitor1.Error.*). */
static SmCtlExit
describe_daemon_error (const GError *copy, const char *name, char **out_message)
{
  if (g_error_matches (copy, SM_ERROR, SM_ERROR_NOT_FOUND))
    {
      *out_message = g_strdup_printf (_ ("not found: %s"), copy->message);
      return SM_CTL_EXIT_NOT_FOUND;
    }
  if (g_error_matches (copy, SM_ERROR, SM_ERROR_INVALID_ARGS))
    {
      *out_message = g_strdup_printf (_ ("invalid argument: %s"), copy->message);
      return SM_CTL_EXIT_INVALID;
    }
  if (g_error_matches (copy, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED))
    {
      *out_message = g_strdup_printf (_ ("limit reached: %s"), copy->message);
      return SM_CTL_EXIT_LIMIT;
    }
  *out_message = g_strdup_printf ("%s: %s", name + strlen (SM_ERROR_PREFIX), copy->message);
  return SM_CTL_EXIT_FAILURE;
}

/* The bus could not reach or start the daemon. */
static gboolean
is_not_running (const GError *error, const char *name)
{
  return g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN)
         || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)
         || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED)
         || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED)
         || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED)
         || g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND)
         || g_str_equal (name, "org.freedesktop.systemd1.LoadFailed");
}

/* Turns a failed call into one readable sentence and an exit code. */
SmCtlExit
sm_ctl_describe_error (const GError *error, gboolean system_bus, char **out_message)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);
  g_autoptr (GError) copy = copy_error (error, remote);
  /* For an error made here rather than received, the name its domain maps to. */
  g_autofree char *name = remote != NULL ? g_strdup (remote) : g_dbus_error_encode_gerror (copy);
  const char *bus = system_bus ? _ ("system bus") : _ ("session bus");

  if (g_str_has_prefix (name, SM_ERROR_PREFIX))
    return describe_daemon_error (copy, name, out_message);
  if (is_not_running (copy, name))
    {
      *out_message = g_strdup_printf (
          _ ("session-monitor is not running on the %s and D-Bus could not start it (%s).\n"
             "Start it with “%s” or run “%s/session-monitor%s”."),
          bus, copy->message,
          system_bus ? "systemctl start session-monitor" : "systemctl --user start session-monitor",
          LIBEXECDIR, system_bus ? " --system" : "");
      return SM_CTL_EXIT_NOT_RUNNING;
    }
  if (g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
    {
      *out_message = g_strdup_printf (
          _ ("access denied by the %s: %s%s"), bus, copy->message,
          system_bus ? _ ("\n(on the system bus only root and members of the configured group "
                          "may call session-monitor)")
                     : "");
      return SM_CTL_EXIT_DENIED;
    }
  if (g_error_matches (copy, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY)
      || g_error_matches (copy, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      *out_message =
          g_strdup_printf (_ ("session-monitor did not answer in time: %s"), copy->message);
      return SM_CTL_EXIT_FAILURE;
    }
  *out_message = g_strdup (copy->message);
  return SM_CTL_EXIT_FAILURE;
}

JsonNode *
sm_ctl_variant_to_json (GVariant *value)
{
  return json_gvariant_serialize (value);
}

void
sm_ctl_print_json (JsonNode *node, gboolean pretty)
{
  g_autofree char *text = json_to_string (node, pretty);

  g_print ("%s\n", text);
  fflush (stdout);
}
