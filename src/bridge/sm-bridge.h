/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SmBridge: one bridge between a browser port (native-messaging frames on
 * stdin/stdout) and the daemon's D-Bus API, and the messages it sends to the
 * browser: answers, errors and events in the wallet's {type, payload, id}
 * form. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "sm-bridge-frame.h"
#include "sm-dbus-generated.h"

G_BEGIN_DECLS

typedef struct
{
  GMainLoop *loop;              /* (owned) */
  SmDBusSessionMonitor1 *proxy; /* (owned) */
  SmBridgeFrameReader *reader;  /* (owned) */
  guint stdin_watch;
  guint sigterm_watch;
  guint sigint_watch;
  int exit_code;
} SmBridge;

void sm_bridge_quit (SmBridge *bridge, int exit_code);

/* A message {type, id?, payload?}; @out_payload (nullable) gets a new
 * empty payload object it owns. */
JsonNode *sm_bridge_new_message (const char *type, JsonNode *id, JsonObject **out_payload);

/* Sends @message (consumed) as one frame. */
void sm_bridge_send (SmBridge *bridge, JsonNode *message);
void sm_bridge_send_error (SmBridge *bridge, JsonNode *id, const char *code, const char *message);
/* An ERROR message named after @error's D-Bus name (its prefix is stripped). */
void sm_bridge_send_gerror (SmBridge *bridge, JsonNode *id, GError *error);

G_END_DECLS
