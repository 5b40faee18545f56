#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* How the store writes text: entries as JSON strings of "base64:" and
 * their serialized GVariant bytes, ids as JSON strings, and the nesting
 * check that bounds the recursive parsers on a hostile file. The public
 * sm_store_entry_to_text() and sm_store_entry_from_text() live here too. */

/* JSON needs 3 levels here; GVariant text at most GLib's own limit for
 * variants. */
#define SM_JSON_MAX_DEPTH 16
#define SM_VARIANT_MAX_DEPTH 128

gboolean sm_store_check_nesting (const char *data, gsize length, guint max_depth, GError **error);
void sm_store_append_entry (GString *out, GVariant *entry, GByteArray *scratch);
void sm_store_append_json_string (GString *out, const char *text);

G_END_DECLS
