/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The query commands of session-monitorctl: list and status. */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl-commands.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

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
  if (!sm_ctl_get_state (ctl, &sessions, &requests, &presence, &error))
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

/* What status reports about a running daemon. */
typedef struct
{
  const char *bus;
  const char *unique; /* the daemon's unique name */
  guint32 pid;
  guint sessions;
  guint requests;
  gint64 soonest; /* G_MAXINT64: nothing expires */
  gboolean presence;
  char *state_dir; /* (owned) (nullable) */
  char *problem;   /* (owned) (nullable): why the daemon cannot persist */
} Status;

static int
print_not_running (SmCtl *ctl, const char *bus)
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

static void
print_status_json (const Status *status)
{
  sm_ctl_print_json_object (
      "running", g_variant_new_boolean (TRUE), "bus", g_variant_new_string (status->bus),
      "unique-name", g_variant_new_string (status->unique), "pid",
      g_variant_new_uint32 (status->pid), "sessions", g_variant_new_uint32 (status->sessions),
      "signing-requests", g_variant_new_uint32 (status->requests), "next-expiry",
      status->soonest != G_MAXINT64 ? g_variant_new_int64 (status->soonest) : NULL, "presence",
      g_variant_new_boolean (status->presence), "state-dir",
      status->state_dir != NULL ? g_variant_new_string (status->state_dir) : NULL,
      "storage-problem", status->problem != NULL ? g_variant_new_string (status->problem) : NULL,
      NULL);
}

static void
print_status_text (const Status *status)
{
  g_print (_ ("session-monitor is running on the %s bus (%s, pid %u).\n"), status->bus,
           status->unique, status->pid);
  g_print (_ ("Sessions: %u, signing requests: %u.\n"), status->sessions, status->requests);
  if (status->soonest != G_MAXINT64)
    {
      g_autofree char *when = sm_ctl_describe_time (status->soonest, sm_ctl_now_ms ());

      g_print (_ ("Next expiry %s.\n"), when);
    }
  g_print (status->presence ? _ ("Presence: configured.\n") : _ ("Presence: none.\n"));
  if (status->problem != NULL)
    g_print (_ ("Storage: cannot persist changes (%s); they are refused with StorageFailed "
                "until the state directory works again.\n"),
             status->problem);
  else if (status->state_dir != NULL)
    g_print (_ ("Storage: %s.\n"), status->state_dir);
}

int
sm_ctl_cmd_status (SmCtl *ctl, int argc, char **argv)
{
  g_autoptr (GVariant) owner = NULL, pid = NULL;
  g_autoptr (GVariant) sessions = NULL, requests = NULL, presence = NULL;
  g_autoptr (GError) error = NULL;
  Status status = { 0 };
  int code;

  if (!sm_ctl_parse_args (ctl, "status", NULL,
                          _ ("Tells whether the daemon runs, and what it monitors. "
                             "Never starts the daemon."),
                          NULL, &argc, &argv))
    return SM_CTL_EXIT_USAGE;
  if (!sm_ctl_connect (ctl, FALSE, &code))
    return code;
  status.bus = ctl->system_bus ? "system" : "session";
  owner = sm_ctl_call_bus (ctl, "GetNameOwner", g_variant_new ("(s)", SM_BUS_NAME),
                           G_VARIANT_TYPE ("(s)"));
  if (owner == NULL)
    return print_not_running (ctl, status.bus);
  pid = sm_ctl_call_bus (ctl, "GetConnectionUnixProcessID", g_variant_new ("(s)", SM_BUS_NAME),
                         G_VARIANT_TYPE ("(u)"));
  if (!sm_ctl_get_state (ctl, &sessions, &requests, &presence, &error))
    return sm_ctl_fail (ctl, error);

  g_variant_get (owner, "(&s)", &status.unique);
  if (pid != NULL)
    g_variant_get (pid, "(u)", &status.pid);
  status.sessions = (guint) g_variant_n_children (sessions);
  status.requests = (guint) g_variant_n_children (requests);
  status.soonest = MIN (next_expiry (sessions), next_expiry (requests));
  status.presence = g_variant_n_children (presence) > 0;
  status.state_dir = daemon_state_dir (status.pid);
  if (status.state_dir != NULL)
    status.problem = storage_problem (status.state_dir);
  if (ctl->json)
    print_status_json (&status);
  else
    print_status_text (&status);
  g_free (status.state_dir);
  g_free (status.problem);
  return SM_CTL_EXIT_OK;
}
