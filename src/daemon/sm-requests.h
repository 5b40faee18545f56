/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-deadline-table.h"

#include <gio/gio.h>

G_BEGIN_DECLS

#define SM_REQUESTS_MAX 10000

/* A pending signing request. Read-only outside sm-requests.c. */
typedef struct
{
  char *id;
  char *session_id;
  char *from_peer_id;
  gint64 expires_at;
  gint64 registered_at;
  char *from_nickname; /* (nullable) */
  char *amount;        /* (nullable) */
  char *purpose;       /* (nullable) */
  char *app_id;        /* (nullable) */
  char *url;           /* (nullable) */
} SmRequest;

#define SM_TYPE_REQUESTS (sm_requests_get_type ())
G_DECLARE_FINAL_TYPE (SmRequests, sm_requests, SM, REQUESTS, SmDeadlineTable)

SmRequests *sm_requests_new (SmScheduler *scheduler);
void sm_requests_set_budget (SmRequests *self, SmBudget *budget);

gboolean sm_requests_register (SmRequests *self,
                               const char *request_id,
                               const char *session_id,
                               const char *from_peer_id,
                               gint64 expires_at,
                               GVariant *options,
                               GError **error);
/* A registration checked, not yet made (see sm_requests_check_register). */
typedef struct _SmRequestEntry SmRequestEntry;

SmRequestEntry *sm_requests_check_register (SmRequests *self,
                                            const char *request_id,
                                            const char *session_id,
                                            const char *from_peer_id,
                                            gint64 expires_at,
                                            GVariant *options,
                                            GError **error);
void sm_requests_apply (SmRequests *self, SmRequestEntry *entry);
void sm_requests_discard (SmRequestEntry *entry);
gboolean sm_requests_check_unregister (SmRequests *self,
                                       const char *request_id,
                                       const char *reason,
                                       GError **error);
gboolean sm_requests_unregister (SmRequests *self,
                                 const char *request_id,
                                 const char *reason,
                                 GError **error);
gboolean sm_requests_restore (SmRequests *self, GVariant *entry, GError **error);

const SmRequest *sm_requests_lookup (SmRequests *self, const char *request_id);
guint sm_requests_get_count (SmRequests *self);
GPtrArray *sm_requests_list (SmRequests *self);
GVariant *sm_request_to_variant (const SmRequest *request);
GVariant *sm_requests_to_variant (SmRequests *self);

G_END_DECLS
