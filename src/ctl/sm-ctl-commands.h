/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The commands of session-monitorctl, one function each, as the command
 * table of session-monitorctl.c runs them: argv[0] is the command's name. */
#pragma once

#include "sm-ctl.h"

G_BEGIN_DECLS

/* sm-ctl-query.c */
int sm_ctl_cmd_list (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_status (SmCtl *ctl, int argc, char **argv);

/* sm-ctl-register.c */
int sm_ctl_cmd_register (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_unregister (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_request (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_unregister_request (SmCtl *ctl, int argc, char **argv);

/* sm-ctl-follow.c */
int sm_ctl_cmd_watch (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_presence (SmCtl *ctl, int argc, char **argv);
int sm_ctl_cmd_stop_presence (SmCtl *ctl, int argc, char **argv);

G_END_DECLS
