/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON checks and conversions between the web wallet's messages and the
 * D-Bus API's types. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "sm-names.h"

G_BEGIN_DECLS

/* How deep arrays and objects may nest in one message: json-glib's parser
 * recurses per level, so 1 MiB of '[' must be refused before parsing. */
#define SM_BRIDGE_JSON_MAX_DEPTH 64

/* Error names of the bridge's own refusals (the daemon's are
 * org.musig2.SessionMonitor1.Error.*). */
#define SM_BRIDGE_ERROR_INVALID_JSON SM_INTERFACE ".Bridge.InvalidJson"
#define SM_BRIDGE_ERROR_INVALID_MESSAGE SM_INTERFACE ".Bridge.InvalidMessage"
#define SM_BRIDGE_ERROR_UNKNOWN_TYPE SM_INTERFACE ".Bridge.UnknownType"
#define SM_BRIDGE_ERROR_TOO_LARGE SM_INTERFACE ".Bridge.TooLarge"
#define SM_BRIDGE_ERROR_INVALID_ARGS SM_ERROR_PREFIX "InvalidArgs"

/* Checks raw JSON text before it is parsed: valid UTF-8, nesting at most
 * SM_BRIDGE_JSON_MAX_DEPTH, and every integer literal within int64 (json-glib
 * silently wraps larger ones; @out_id_overflow says the top-level id is one
 * of them, so it is not echoed wrapped). On failure @error carries a bridge
 * error. */
gboolean sm_bridge_json_precheck (const char *text,
                                  gsize len,
                                  gboolean *out_overflow,
                                  gboolean *out_id_overflow,
                                  GError **error);

GError *sm_bridge_error_new (const char *name, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Field readers: a missing or null optional field leaves *out_present FALSE. */
gboolean sm_bridge_json_get_string (JsonObject *object,
                                    const char *field,
                                    gboolean required,
                                    const char **out,
                                    GError **error);
gboolean sm_bridge_json_get_int64 (JsonObject *object,
                                   const char *field,
                                   gboolean required,
                                   gboolean *out_present,
                                   gint64 *out,
                                   GError **error);

/* An optional field holding an array or object (@type, called @type_name in
 * the error); a missing or null field leaves *out NULL. */
gboolean sm_bridge_json_get_node (JsonObject *object,
                                  const char *field,
                                  JsonNodeType type,
                                  const char *type_name,
                                  JsonNode **out,
                                  GError **error);

/* JSON value -> GVariant: string s, integer x, other number d, boolean b,
 * array av, object a{sv}. D-Bus has no null: a null member of an object is
 * left out (as JavaScript's undefined), a null in an array is InvalidArgs. */
GVariant *sm_bridge_json_to_variant (JsonNode *node, GError **error);

/* GVariant -> JSON, any type (dictionaries keyed by strings become objects,
 * other containers arrays, maybe-nothing null). */
JsonNode *sm_bridge_variant_to_json (GVariant *value);

/* An a{sv} entry of the daemon as a JSON object in the design's field names:
 * each top-level "kebab-case" key becomes "camelCase". */
JsonNode *sm_bridge_entry_to_json (GVariant *dict);
/* An aa{sv} list of entries as an array of such objects. */
JsonNode *sm_bridge_entries_to_json (GVariant *entries);

/* "session-id" -> "sessionId". */
char *sm_bridge_camel_case (const char *key);

G_END_DECLS
