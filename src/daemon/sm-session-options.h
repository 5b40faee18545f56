/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-options.h"
#include "sm-sessions.h"

G_BEGIN_DECLS

/* The options of RegisterSession, then the keys only a saved session has
 * (sm_session_to_variant()), which a registration ignores as unknown. */
enum
{
  SM_SESSION_OPT_SESSION_TYPE,
  SM_SESSION_OPT_WARN_THRESHOLDS,
  SM_SESSION_OPT_WARN_BEFORE_MINUTES,
  SM_SESSION_OPT_METADATA,
  SM_SESSION_OPT_APP_ID,
  SM_SESSION_OPT_URL,
  SM_SESSION_N_REGISTER_OPTIONS,
  SM_SESSION_OPT_SESSION_ID = SM_SESSION_N_REGISTER_OPTIONS,
  SM_SESSION_OPT_EXPIRES_AT,
  SM_SESSION_OPT_REGISTERED_AT,
  SM_SESSION_OPT_WARNINGS_SENT,
  SM_SESSION_N_RESTORE_OPTIONS
};

extern const SmOptionSpec sm_session_options[SM_SESSION_N_RESTORE_OPTIONS];

void sm_session_apply_options (SmSession *session, GVariant **values);
void sm_session_apply_saved (SmSession *session, const SmSavedVardictEntry *values);

G_END_DECLS
