/* SPDX-License-Identifier: GPL-3.0-or-later */

/* session-monitorctl: a thin command-line client of the public D-Bus API,
 * for scripts and for people (see session-monitorctl(1)). main() and the
 * command table; each command lives in its sm-ctl-*.c file. */
#define G_LOG_DOMAIN "session-monitorctl"

#include "config.h"

#include "sm-ctl-commands.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>

typedef struct
{
  const char *name;
  int (*run) (SmCtl *ctl, int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "list", sm_ctl_cmd_list, N_ ("List sessions, signing requests and presence") },
  { "register", sm_ctl_cmd_register, N_ ("Monitor a session: register ID --expires-in 10m") },
  { "unregister", sm_ctl_cmd_unregister, N_ ("Stop monitoring a session") },
  { "request", sm_ctl_cmd_request, N_ ("Track a signing request") },
  { "unregister-request", sm_ctl_cmd_unregister_request, N_ ("Stop tracking a signing request") },
  { "presence", sm_ctl_cmd_presence, N_ ("Own the presence and refresh it until interrupted") },
  { "stop-presence", sm_ctl_cmd_stop_presence, N_ ("Stop presence management") },
  { "watch", sm_ctl_cmd_watch, N_ ("Print every signal until interrupted") },
  { "status", sm_ctl_cmd_status, N_ ("Tell whether the daemon runs and what it monitors") },
};

static void
print_usage (FILE *out)
{
  gsize i;

  fprintf (out, "%s",
           _ ("Usage:\n  session-monitorctl [--system] [--json] COMMAND [ARGS...]\n\n"
              "Commands:\n"));
  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-20s %s\n", commands[i].name, _ (commands[i].summary));
  fprintf (out, "%s",
           _ ("\nOptions:\n  --system    talk to the daemon on the system bus\n"
              "  --json      print JSON\n  --version   print the version\n\n"
              "“session-monitorctl COMMAND --help” describes a command.\n"));
}

/* The global options, which may come before the command (the command parses
 * the rest); FALSE with *out_exit when there is nothing more to do. */
static gboolean
parse_global_options (SmCtl *ctl, int argc, char **argv, int *out_first, int *out_exit)
{
  int first;

  for (first = 1; first < argc && argv[first][0] == '-'; first++)
    {
      if (g_str_equal (argv[first], "--json") || g_str_equal (argv[first], "-j"))
        ctl->json = TRUE;
      else if (g_str_equal (argv[first], "--system"))
        ctl->system_bus = TRUE;
      else if (g_str_equal (argv[first], "--version"))
        {
          g_print ("session-monitorctl %s\n", PACKAGE_VERSION);
          *out_exit = SM_CTL_EXIT_OK;
          return FALSE;
        }
      else if (g_str_equal (argv[first], "--help") || g_str_equal (argv[first], "-h"))
        {
          print_usage (stdout);
          *out_exit = SM_CTL_EXIT_OK;
          return FALSE;
        }
      else
        {
          g_printerr (_ ("session-monitorctl: unknown option “%s”\n"), argv[first]);
          print_usage (stderr);
          *out_exit = SM_CTL_EXIT_USAGE;
          return FALSE;
        }
    }
  *out_first = first;
  return TRUE;
}

static const Command *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (name, commands[i].name))
      return &commands[i];
  return NULL;
}

int
main (int argc, char **argv)
{
  SmCtl ctl = { 0 };
  const Command *command;
  int first, code;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  if (!parse_global_options (&ctl, argc, argv, &first, &code))
    return code;
  if (first >= argc)
    {
      print_usage (stderr);
      return SM_CTL_EXIT_USAGE;
    }
  command = find_command (argv[first]);
  if (command == NULL)
    {
      g_printerr (_ ("session-monitorctl: unknown command “%s”\n"), argv[first]);
      print_usage (stderr);
      return SM_CTL_EXIT_USAGE;
    }

  /* The command parses its own options and sees its name as argv[0]. */
  code = command->run (&ctl, argc - first, argv + first);
  sm_ctl_clear (&ctl);
  return code;
}
