/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The bridge's input: frames read from the browser on stdin, each parsed,
 * checked, made into a call of the daemon and answered. */
#pragma once

#include "sm-bridge.h"

G_BEGIN_DECLS

/* A g_unix_fd_add() callback for stdin; @user_data is the SmBridge. It quits
 * the bridge's loop when the port closes or a frame is too large. */
gboolean sm_bridge_input_on_stdin (int fd, GIOCondition condition, gpointer user_data);

G_END_DECLS
