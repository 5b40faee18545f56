/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-sessions.h"
#include "sm-store.h"

G_BEGIN_DECLS

/* Each model as a section of the store: its entries are what GetSessions,
 * GetSigningRequests and GetPresence return, taken back by its restore. */

void sm_store_add_sessions (SmStore *store, const char *name, SmSessions *sessions);
void sm_store_add_requests (SmStore *store, const char *name, SmRequests *requests);
void sm_store_add_presence (SmStore *store, const char *name, SmPresence *presence);

G_END_DECLS
