/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Exit codes of session-monitorctl (documented in session-monitorctl(1)). */
typedef enum
{
  SM_CTL_EXIT_OK = 0,
  SM_CTL_EXIT_FAILURE = 1,
  SM_CTL_EXIT_USAGE = 2,
  SM_CTL_EXIT_NOT_RUNNING = 3,
  SM_CTL_EXIT_NOT_FOUND = 4,
  SM_CTL_EXIT_INVALID = 5,
  SM_CTL_EXIT_LIMIT = 6,
  SM_CTL_EXIT_DENIED = 7,
} SmCtlExit;

gboolean sm_ctl_parse_duration (const char *text, gint64 *out_ms, GError **error);
gboolean sm_ctl_parse_time (const char *text, gint64 *out_ms, GError **error);
char *sm_ctl_format_duration (gint64 ms);
char *sm_ctl_format_relative (gint64 when_ms, gint64 now_ms);
char *sm_ctl_format_absolute (gint64 when_ms);
char *sm_ctl_format_untrusted (const char *text);

SmCtlExit sm_ctl_describe_error (const GError *error, gboolean system_bus, char **out_message);

JsonNode *sm_ctl_variant_to_json (GVariant *value);
void sm_ctl_print_json (JsonNode *node, gboolean pretty);

gint64 sm_ctl_now_ms (void);

G_END_DECLS
