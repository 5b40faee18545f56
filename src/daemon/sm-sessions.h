/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-deadline-table.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SM_SESSIONS_MAX 10000
#define SM_THRESHOLDS_MAX 16

/* A monitored MuSig2 session. Read-only outside sm-sessions.c. */
typedef struct
{
  char *id;
  gint64 expires_at;
  gint64 registered_at;
  char *session_type;
  GVariant *metadata;                   /* (owned) a{sv} */
  gint64 thresholds[SM_THRESHOLDS_MAX]; /* ms before expiry, largest first */
  guint n_thresholds;
  guint32 sent_mask; /* bit i: thresholds[i] was sent */
  guint warn_before_minutes;
  char *app_id; /* (nullable) */
  char *url;    /* (nullable) */
} SmSession;

#define SM_TYPE_SESSIONS (sm_sessions_get_type ())
G_DECLARE_FINAL_TYPE (SmSessions, sm_sessions, SM, SESSIONS, SmDeadlineTable)

SmSessions *sm_sessions_new (SmScheduler *scheduler);
void sm_sessions_set_budget (SmSessions *self, SmBudget *budget);
SmBudget *sm_sessions_get_budget (SmSessions *self);

gboolean sm_sessions_register (SmSessions *self,
                               const char *session_id,
                               gint64 expires_at,
                               GVariant *options,
                               GError **error);
/* A registration checked, not yet made (see sm_sessions_check_register). */
typedef struct _SmSessionEntry SmSessionEntry;

SmSessionEntry *sm_sessions_check_register (SmSessions *self,
                                            const char *session_id,
                                            gint64 expires_at,
                                            GVariant *options,
                                            GError **error);
void sm_sessions_apply (SmSessions *self, SmSessionEntry *entry);
void sm_sessions_discard (SmSessionEntry *entry);
gboolean sm_sessions_check_unregister (SmSessions *self,
                                       const char *session_id,
                                       const char *reason,
                                       GError **error);
gboolean sm_sessions_unregister (SmSessions *self,
                                 const char *session_id,
                                 const char *reason,
                                 GError **error);
gboolean sm_sessions_restore (SmSessions *self, GVariant *entry, GError **error);

const SmSession *sm_sessions_lookup (SmSessions *self, const char *session_id);
guint sm_sessions_get_count (SmSessions *self);
GPtrArray *sm_sessions_list (SmSessions *self);
GVariant *sm_session_to_variant (const SmSession *session);
GVariant *sm_sessions_to_variant (SmSessions *self);

G_END_DECLS
