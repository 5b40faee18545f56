/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SmBridgeCall: how each request message of the wallet ({type, payload})
 * becomes a call of the daemon's D-Bus API: the payload's fields checked and
 * turned into the method's arguments, the reply into a result payload. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "sm-dbus-generated.h"

G_BEGIN_DECLS

/* Calls the daemon for one message; *out_result is the answer's payload
 * (NULL: none). A refused payload is an InvalidArgs error, as the daemon's. */
typedef gboolean (*SmBridgeCallFunc) (SmDBusSessionMonitor1 *proxy,
                                      JsonObject *payload,
                                      JsonNode **out_result,
                                      GError **error);

typedef struct
{
  const char *type;
  SmBridgeCallFunc func;
  gboolean needs_payload;
} SmBridgeCall;

/* The call for a message type; NULL for a type the bridge does not know. */
const SmBridgeCall *sm_bridge_call_find (const char *type);

G_END_DECLS
