/* SPDX-License-Identifier: GPL-3.0-or-later */

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

/* An entry is kept as this prefix and its serialized GVariant bytes in
 * base64; such text always decodes (to the bytes' normal form). */
#define SM_BINARY_PREFIX "base64:"

gboolean sm_store_check_nesting (const char *data, gsize length, guint max_depth, GError **error);
void sm_store_append_entry (GString *out, GVariant *entry, GByteArray *scratch);
void sm_store_append_json_string (GString *out, const char *text);
guchar *sm_store_binary_decode (const char *text, gsize *length, gboolean *normal);
GVariant *sm_store_entry_from_binary (guchar *data, gsize length, gboolean normal);

/* A journal record is one line: "<crc32c, 8 hex digits> <length> <json>\n",
 * the CRC-32C (Castagnoli) and the decimal length both of the JSON text, so
 * that a torn or damaged record is recognized and skipped while every
 * intact one after it is still read. */
guint32 sm_store_crc32c (guint32 crc, const void *data, gsize length);
void sm_store_frame_record (GString *out, gsize json_start);
const char *sm_store_unframe_record (const char *line, gsize length, GError **error);

G_END_DECLS
