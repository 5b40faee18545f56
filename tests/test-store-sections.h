/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

/* The three models as sections of a store, named as the daemon names
 * them on the session bus (sm-service-state.c), for the store's tests and
 * its fuzzer. */

#include "sm-presence.h"
#include "sm-requests.h"
#include "sm-sessions.h"
#include "sm-store.h"

static inline void
sm_store_add_sessions (SmStore *store, const char *name, SmSessions *sessions)
{
  sm_store_add_section (store, name, SM_STORABLE (sessions), "session-id");
}

static inline void
sm_store_add_requests (SmStore *store, const char *name, SmRequests *requests)
{
  sm_store_add_section (store, name, SM_STORABLE (requests), "request-id");
}

static inline void
sm_store_add_presence (SmStore *store, const char *name, SmPresence *presence)
{
  sm_store_add_section (store, name, SM_STORABLE (presence), NULL);
}
