/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-saved-vardict.h"

#include <glib.h>

G_BEGIN_DECLS

/* The checks on ids, texts and times the contract lists, shared by every
 * method and by what is read back from the state file. Every failure is
 * SM_ERROR_INVALID_ARGS with a message naming the argument. The
 * sm_check_*_option() ones are SmOptionCheck functions for option tables
 * (sm-options.h). */

#define SM_ID_MAX_BYTES 255
#define SM_TEXT_OPTION_MAX_BYTES 4096
#define SM_MAX_AHEAD_MS ((gint64) 30 * 24 * 60 * 60 * 1000)

gboolean sm_check_text (const char *arg_name,
                        const char *value,
                        gsize min_bytes,
                        gsize max_bytes,
                        GError **error);
gboolean sm_check_text_option (const char *key, GVariant *value, GError **error);
gboolean sm_check_text_option_view (const char *key,
                                    const SmSavedVardictEntry *value,
                                    GError **error);
gboolean sm_check_peer_text_option (const char *key, GVariant *value, GError **error);
gboolean sm_check_id (const char *arg_name, const char *value, GError **error);
gboolean sm_check_expires_at (const char *arg_name,
                              gint64 expires_at,
                              gint64 now_ms,
                              GError **error);
gboolean sm_check_saved_time (const char *arg_name, gint64 time_ms, gint64 now_ms, GError **error);

G_END_DECLS
