/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-ctl-format.h"
#include "sm-dbus-generated.h"
#include "sm-names.h"

G_BEGIN_DECLS

/* What every command gets: the global options and, once connected, the bus. */
typedef struct
{
  gboolean json;
  gboolean system_bus;
  GDBusConnection *connection;  /* (owned) (nullable) */
  SmDBusSessionMonitor1 *proxy; /* (owned) (nullable) */
} SmCtl;

gboolean sm_ctl_connect (SmCtl *ctl, gboolean auto_start, int *out_exit);
int sm_ctl_fail (SmCtl *ctl, const GError *error);

int sm_ctl_cmd_list (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_status (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_watch (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_presence (SmCtl *ctl, int argc, char **argv);

gboolean sm_ctl_parse_args (SmCtl *ctl,
                            const char *command,
                            const char *parameters,
                            const char *summary,
                            const GOptionEntry *entries,
                            int *argc,
                            char ***argv);

void sm_ctl_print_json_object (const char *first_key, ...) G_GNUC_NULL_TERMINATED;
char *sm_ctl_describe_time (gint64 when_ms, gint64 now_ms);

G_END_DECLS
