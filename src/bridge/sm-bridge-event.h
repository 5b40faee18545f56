/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's signals as the wallet's event messages, in the design's
 * names (SessionExpiring -> SESSION_EXPIRING with a camelCase payload). */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The event message for the daemon's signal @name, or NULL for a signal the
 * wallet is not told about (or one with unexpected arguments). */
JsonNode *sm_bridge_event_from_signal (const char *name, GVariant *parameters);

G_END_DECLS
