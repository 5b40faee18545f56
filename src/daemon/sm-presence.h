/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-storable.h"
#include "sm-budget.h"
#include "sm-scheduler.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SM_PRESENCE_TTL_MIN_MS ((gint64) 10 * 1000)
#define SM_PRESENCE_TTL_MAX_MS ((gint64) 7 * 24 * 60 * 60 * 1000)

/* The P2P presence refresh of one wallet: a tick every 40 % of its ttl on the
 * shared scheduler. The model never talks to the bus: the service tells it
 * whether the owner (the caller that configured it) is still connected. */

#define SM_TYPE_PRESENCE (sm_presence_get_type ())
G_DECLARE_FINAL_TYPE (SmPresence, sm_presence, SM, PRESENCE, GObject)

SmPresence *sm_presence_new (SmScheduler *scheduler);
void sm_presence_set_budget (SmPresence *self, SmBudget *budget);

gboolean sm_presence_check_update (SmPresence *self,
                                   const char *owner,
                                   const char *wallet_address,
                                   gint64 ttl,
                                   GVariant *options,
                                   GError **error);
gboolean sm_presence_update (SmPresence *self,
                             const char *owner,
                             const char *wallet_address,
                             gint64 ttl,
                             GVariant *options,
                             GError **error);
void sm_presence_stop (SmPresence *self);
void sm_presence_set_owner_connected (SmPresence *self, const char *owner, gboolean connected);
gboolean sm_presence_restore (SmPresence *self, GVariant *entry, GError **error);

gboolean sm_presence_is_configured (SmPresence *self);
const char *sm_presence_get_owner (SmPresence *self);
GVariant *sm_presence_to_variant (SmPresence *self);

G_END_DECLS
