/* SPDX-License-Identifier: GPL-3.0-or-later */

/* SmCtl: what every command of session-monitorctl shares (the global
 * options, the bus, the proxy) and the helpers the command files call:
 * option parsing, connecting, error reporting and printing. The command
 * files call only into sm-ctl.c and sm-ctl-format.c, never into each other
 * or into session-monitorctl.c. */
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

void sm_ctl_clear (SmCtl *ctl);

gboolean sm_ctl_parse_args (SmCtl *ctl,
                            const char *command,
                            const char *parameters,
                            const char *summary,
                            const GOptionEntry *entries,
                            int *argc,
                            char ***argv);
gboolean sm_ctl_need_one_arg (int argc, const char *what, const char *command, int *out_exit);
gboolean sm_ctl_parse_expiry (const char *expires_in,
                              const char *expires_at,
                              gint64 *out_ms,
                              int *out_exit);
void sm_ctl_add_string_option (GVariantBuilder *builder, const char *key, const char *value);

gboolean sm_ctl_connect (SmCtl *ctl, gboolean auto_start, int *out_exit);
int sm_ctl_fail (SmCtl *ctl, const GError *error);
gboolean sm_ctl_get_state (SmCtl *ctl,
                           GVariant **out_sessions,
                           GVariant **out_requests,
                           GVariant **out_presence,
                           GError **error);
GVariant *sm_ctl_call_bus (SmCtl *ctl,
                           const char *method,
                           GVariant *parameters,
                           const GVariantType *reply_type);

void sm_ctl_print_json_object (const char *first_key, ...) G_GNUC_NULL_TERMINATED;
char *sm_ctl_describe_time (gint64 when_ms, gint64 now_ms);

G_END_DECLS
