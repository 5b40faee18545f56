/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Launches or raises @app_id (a desktop-file id without ".desktop") with the
 * click's activation token (nullable), in a worker thread: returns at once. */
void sm_app_launcher_launch (const char *app_id, const char *token);

G_END_DECLS
