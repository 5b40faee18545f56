/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The query commands of session-monitorctl: list and status. */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Prints {"key": value} built from alternating key/variant pairs (floating
 * variants are consumed); a NULL variant is JSON null. */
void
sm_ctl_print_json_object (const char *first_key, ...)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  const char *key;
  va_list args;

  json_builder_begin_object (builder);
  va_start (args, first_key);
  for (key = first_key; key != NULL; key = va_arg (args, const char *))
    {
      GVariant *value = va_arg (args, GVariant *);

      json_builder_set_member_name (builder, key);
      if (value == NULL)
        {
          json_builder_add_null_value (builder);
          continue;
        }
      json_builder_add_value (builder, json_gvariant_serialize (value));
      g_variant_unref (g_variant_ref_sink (value));
    }
  va_end (args);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  sm_ctl_print_json (root, FALSE);
}

char *
sm_ctl_describe_time (gint64 when_ms, gint64 now_ms)
{
  g_autofree char *relative = sm_ctl_format_relative (when_ms, now_ms);
  g_autofree char *absolute = sm_ctl_format_absolute (when_ms);

  return g_strdup_printf ("%s (%s)", relative, absolute);
}

/* list ------------------------------------------------------------------- */

static gint64
dict_int64 (GVariant *dict, const char *key)
{
  gint64 value = 0;

  g_variant_lookup (dict, key, "x", &value);
  return value;
}

static const char *
dict_string (GVariant *dict, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (dict, key, "&s", &value))
    return "-";
  return value;
}

static char *
format_thresholds (GVariant *dict, const char *key)
{
  g_autoptr (GVariant) list = g_variant_lookup_value (dict, key, G_VARIANT_TYPE ("ax"));
  GString *out = g_string_new (NULL);
  gsize i, n = list != NULL ? g_variant_n_children (list) : 0;

  for (i = 0; i < n; i++)
    {
      gint64 ms;
      g_autofree char *text = NULL;

      g_variant_get_child (list, i, "x", &ms);
      text = sm_ctl_format_duration (ms);
      g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", text);
    }
  if (out->len == 0)
    g_string_append (out, "-");
  return g_string_free (out, FALSE);
}

static void
print_sessions (GVariant *sessions, gint64 now)
{
  GVariantIter iter;
  GVariant *entry;
  int width = (int) strlen ("SESSION");

  if (g_variant_n_children (sessions) == 0)
    {
      g_print (_ ("No sessions monitored.\n"));
      return;
    }
  g_variant_iter_init (&iter, sessions);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      width = MAX (width, (int) g_utf8_strlen (dict_string (entry, "session-id"), -1));
      g_variant_unref (entry);
    }
  g_print ("%-*s  %-10s  %-44s  %s\n", width, _ ("SESSION"), _ ("TYPE"), _ ("EXPIRES"),
           _ ("WARNINGS SENT"));
  g_variant_iter_init (&iter, sessions);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *expires = sm_ctl_describe_time (dict_int64 (entry, "expires-at"), now);
      g_autofree char *sent = format_thresholds (entry, "warnings-sent");

      g_print ("%-*s  %-10s  %-44s  %s\n", width, dict_string (entry, "session-id"),
               dict_string (entry, "session-type"), expires, sent);
      g_variant_unref (entry);
    }
}

static void
print_requests (GVariant *requests, gint64 now)
{
  GVariantIter iter;
  GVariant *entry;

  if (g_variant_n_children (requests) == 0)
    {
      g_print (_ ("No signing requests pending.\n"));
      return;
    }
  g_print ("%-16s  %-16s  %-16s  %s\n", _ ("REQUEST"), _ ("SESSION"), _ ("FROM"), _ ("EXPIRES"));
  g_variant_iter_init (&iter, requests);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autofree char *expires = sm_ctl_describe_time (dict_int64 (entry, "expires-at"), now);
      const char *nickname = NULL;
      g_autofree char *from = NULL;

      if (g_variant_lookup (entry, "from-nickname", "&s", &nickname))
        {
          /* Peer text: never printed raw to a terminal. */
          g_autofree char *shown = sm_ctl_format_untrusted (nickname);

          from = g_strdup_printf ("%s (%s)", shown, dict_string (entry, "from-peer-id"));
        }
      else
        from = g_strdup (dict_string (entry, "from-peer-id"));
      g_print ("%-16s  %-16s  %-16s  %s\n", dict_string (entry, "request-id"),
               dict_string (entry, "session-id"), from, expires);
      g_variant_unref (entry);
    }
}

static void
print_presence (GVariant *presence, gint64 now)
{
  g_autofree char *ttl = NULL, *interval = NULL, *last = NULL, *next = NULL;
  gboolean connected = FALSE;
  gint64 next_at;

  if (g_variant_n_children (presence) == 0)
    {
      g_print (_ ("No presence configured.\n"));
      return;
    }
  g_variant_lookup (presence, "owner-connected", "b", &connected);
  ttl = sm_ctl_format_duration (dict_int64 (presence, "ttl"));
  interval = sm_ctl_format_duration (dict_int64 (presence, "refresh-interval"));
  last = sm_ctl_describe_time (dict_int64 (presence, "last-refresh"), now);
  next_at = dict_int64 (presence, "next-refresh-at");
  next = next_at > 0 ? sm_ctl_describe_time (next_at, now) : g_strdup (_ ("stopped"));
  g_print (_ ("Presence of %s: ttl %s, refreshed every %s\n"),
           dict_string (presence, "wallet-address"), ttl, interval);
  g_print (_ ("  last refresh %s\n  next refresh %s\n  owner %s (%s)\n"), last, next,
           dict_string (presence, "owner"), connected ? _ ("connected") : _ ("gone"));
}

int
sm_ctl_cmd_list (SmCtl *ctl, int argc, char **argv)
{
  g_autoptr (GVariant) sessions = NULL, requests = NULL, presence = NULL;
  g_autoptr (GError) error = NULL;
  int code;

  if (!sm_ctl_parse_args (
          ctl, "list", NULL,
          _ ("Lists the monitored sessions, pending signing requests and presence."), NULL, &argc,
          &argv))
    return SM_CTL_EXIT_USAGE;
  if (argc > 1)
    {
      g_printerr (_ ("session-monitorctl list: unexpected argument “%s”\n"), argv[1]);
      return SM_CTL_EXIT_USAGE;
    }
  if (!sm_ctl_connect (ctl, TRUE, &code))
    return code;
  if (!sm_dbus_session_monitor1_call_get_sessions_sync (ctl->proxy, &sessions, NULL, &error)
      || !sm_dbus_session_monitor1_call_get_signing_requests_sync (ctl->proxy, &requests, NULL,
                                                                   &error)
      || !sm_dbus_session_monitor1_call_get_presence_sync (ctl->proxy, &presence, NULL, &error))
    return sm_ctl_fail (ctl, error);

  if (ctl->json)
    {
      sm_ctl_print_json_object (
          "sessions", g_steal_pointer (&sessions), "signing-requests", g_steal_pointer (&requests),
          "presence", g_variant_n_children (presence) > 0 ? g_steal_pointer (&presence) : NULL,
          NULL);
      return SM_CTL_EXIT_OK;
    }
  print_sessions (sessions, sm_ctl_now_ms ());
  g_print ("\n");
  print_requests (requests, sm_ctl_now_ms ());
  g_print ("\n");
  print_presence (presence, sm_ctl_now_ms ());
  return SM_CTL_EXIT_OK;
}

static gint64
next_expiry (GVariant *entries)
{
  GVariantIter iter;
  GVariant *entry;
  gint64 soonest = G_MAXINT64;

  g_variant_iter_init (&iter, entries);
  while ((entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      gint64 at = dict_int64 (entry, "expires-at");

      if (at < soonest)
        soonest = at;
      g_variant_unref (entry);
    }
  return soonest;
}

/* The daemon's state directory, from its command line (--state-dir) or its
 * environment (XDG_STATE_HOME), as /proc shows them to the same user; NULL
 * when they cannot be read (another user's daemon). */
static char *
daemon_state_dir (guint32 pid)
{
  g_autofree char *cmdline_path = g_strdup_printf ("/proc/%u/cmdline", pid);
  g_autofree char *environ_path = g_strdup_printf ("/proc/%u/environ", pid);
  g_autofree char *data = NULL;
  gsize length = 0;
  const char *state_home = NULL;

  if (pid == 0 || !g_file_get_contents (cmdline_path, &data, &length, NULL))
    return NULL;
  for (const char *p = data; p < data + length; p += strlen (p) + 1)
    {
      if (g_str_has_prefix (p, "--state-dir="))
        return g_strdup (p + strlen ("--state-dir="));
      if (strcmp (p, "--state-dir") == 0 && p + strlen (p) + 1 < data + length)
        return g_strdup (p + strlen (p) + 1);
    }
  g_clear_pointer (&data, g_free);
  if (!g_file_get_contents (environ_path, &data, &length, NULL))
    return NULL;
  for (const char *p = data; p < data + length; p += strlen (p) + 1)
    if (g_str_has_prefix (p, "XDG_STATE_HOME=") && p[strlen ("XDG_STATE_HOME=")] == '/')
      state_home = p + strlen ("XDG_STATE_HOME=");
  if (state_home != NULL)
    return g_build_filename (state_home, "session-monitor", NULL);
  {
    g_autofree char *home = NULL;

    /* As GLib decides it: $HOME/.local/state. */
    for (const char *p = data; p < data + length; p += strlen (p) + 1)
      if (g_str_has_prefix (p, "HOME="))
        home = g_strdup (p + strlen ("HOME="));
    return home != NULL ? g_build_filename (home, ".local", "state", "session-monitor", NULL)
                        : NULL;
  }
}

/* Why the daemon cannot persist changes in @dir (it refuses them with
 * StorageFailed then), or NULL when it can: the contract has no property
 * for it, and on the session bus the same user can look for themselves. */
static char *
storage_problem (const char *dir)
{
  g_autofree char *journal = g_build_filename (dir, "state.journal", NULL);
  struct statvfs fs;
  struct stat st;

  if (stat (dir, &st) < 0)
    return g_strdup_printf ("%s: %s", dir, g_strerror (errno));
  if (!S_ISDIR (st.st_mode))
    return g_strdup_printf (_ ("%s: not a directory"), dir);
  if (access (dir, W_OK | X_OK) < 0)
    return g_strdup_printf ("%s: %s", dir, g_strerror (errno));
  if (lstat (journal, &st) == 0)
    {
      if (!S_ISREG (st.st_mode))
        return g_strdup_printf (_ ("%s: not a regular file"), journal);
      if (access (journal, W_OK) < 0)
        return g_strdup_printf ("%s: %s", journal, g_strerror (errno));
    }
  if (statvfs (dir, &fs) == 0 && (fs.f_bavail == 0 || (fs.f_files > 0 && fs.f_favail == 0)))
    return g_strdup_printf ("%s: %s", dir, g_strerror (ENOSPC));
  return NULL;
}

int
sm_ctl_cmd_status (SmCtl *ctl, int argc, char **argv)
{
  g_autoptr (GVariant) owner = NULL, pid = NULL;
  g_autoptr (GVariant) sessions = NULL, requests = NULL, presence = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *problem = NULL;
  guint32 pid_value = 0;
  const char *bus;
  gint64 soonest;
  int code;

  if (!sm_ctl_parse_args (ctl, "status", NULL,
                          _ ("Tells whether the daemon runs, and what it monitors. "
                             "Never starts the daemon."),
                          NULL, &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_connect (ctl, FALSE, &code))
    return code;
  bus = ctl->system_bus ? "system" : "session";

  owner = g_dbus_connection_call_sync (
      ctl->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetNameOwner", g_variant_new ("(s)", SM_BUS_NAME), G_VARIANT_TYPE ("(s)"),
      G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (owner == NULL)
    {
      if (ctl->json)
        sm_ctl_print_json_object ("running", g_variant_new_boolean (FALSE), "bus",
                                  g_variant_new_string (bus), NULL);
      else
        g_print (_ ("session-monitor is not running on the %s bus.\n"
                    "Start it with “%s” (or any call to %s starts it by D-Bus activation).\n"),
                 bus,
                 ctl->system_bus ? "systemctl start session-monitor"
                                 : "systemctl --user start session-monitor",
                 SM_BUS_NAME);
      return SM_CTL_EXIT_NOT_RUNNING;
    }
  pid = g_dbus_connection_call_sync (
      ctl->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetConnectionUnixProcessID", g_variant_new ("(s)", SM_BUS_NAME), G_VARIANT_TYPE ("(u)"),
      G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (!sm_dbus_session_monitor1_call_get_sessions_sync (ctl->proxy, &sessions, NULL, &error)
      || !sm_dbus_session_monitor1_call_get_signing_requests_sync (ctl->proxy, &requests, NULL,
                                                                   &error)
      || !sm_dbus_session_monitor1_call_get_presence_sync (ctl->proxy, &presence, NULL, &error))
    return sm_ctl_fail (ctl, error);
  soonest = MIN (next_expiry (sessions), next_expiry (requests));
  if (pid != NULL)
    g_variant_get (pid, "(u)", &pid_value);
  state_dir = daemon_state_dir (pid_value);
  if (state_dir != NULL)
    problem = storage_problem (state_dir);

  if (ctl->json)
    {
      const char *unique;

      g_variant_get (owner, "(&s)", &unique);
      sm_ctl_print_json_object (
          "running", g_variant_new_boolean (TRUE), "bus", g_variant_new_string (bus), "unique-name",
          g_variant_new_string (unique), "pid", g_variant_new_uint32 (pid_value), "sessions",
          g_variant_new_uint32 ((guint32) g_variant_n_children (sessions)), "signing-requests",
          g_variant_new_uint32 ((guint32) g_variant_n_children (requests)), "next-expiry",
          soonest != G_MAXINT64 ? g_variant_new_int64 (soonest) : NULL, "presence",
          g_variant_new_boolean (g_variant_n_children (presence) > 0), "state-dir",
          state_dir != NULL ? g_variant_new_string (state_dir) : NULL, "storage-problem",
          problem != NULL ? g_variant_new_string (problem) : NULL, NULL);
      return SM_CTL_EXIT_OK;
    }

  {
    const char *unique;

    g_variant_get (owner, "(&s)", &unique);
    g_print (_ ("session-monitor is running on the %s bus (%s, pid %u).\n"), bus, unique,
             pid_value);
    g_print (_ ("Sessions: %u, signing requests: %u.\n"), (guint) g_variant_n_children (sessions),
             (guint) g_variant_n_children (requests));
    if (soonest != G_MAXINT64)
      {
        g_autofree char *when = sm_ctl_describe_time (soonest, sm_ctl_now_ms ());

        g_print (_ ("Next expiry %s.\n"), when);
      }
    g_print (g_variant_n_children (presence) > 0 ? _ ("Presence: configured.\n")
                                                 : _ ("Presence: none.\n"));
    if (problem != NULL)
      g_print (_ ("Storage: cannot persist changes (%s); they are refused with StorageFailed "
                  "until the state directory works again.\n"),
               problem);
    else if (state_dir != NULL)
      g_print (_ ("Storage: %s.\n"), state_dir);
  }
  return SM_CTL_EXIT_OK;
}
