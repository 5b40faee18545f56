/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Peer-supplied text (nickname, amount, purpose) is shown to a user about to
 * sign: it must not be able to forge markup, links, reordered text or a
 * different amount. Caps are in characters, not bytes. */

#define SM_NICKNAME_MAX_CHARS 64
#define SM_AMOUNT_MAX_CHARS 64
#define SM_PURPOSE_MAX_CHARS 200

char *sm_sanitize_text (const char *text, gsize max_chars, gboolean markup);

G_END_DECLS
