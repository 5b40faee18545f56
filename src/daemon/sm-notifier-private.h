/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-notifier.h"
#include "sm-notifier-item.h"
#include "sm-notifier-server.h"

G_BEGIN_DECLS

/* Shared by sm-notifier.c (layout, clicks, models) and sm-notifier-state.c
 * (the durable ids, what was missed while down). */

struct _SmNotifier
{
  GObject parent_instance;

  SmSessions *sessions;     /* (owned) */
  SmRequests *requests;     /* (owned) */
  SmNotifierServer *server; /* (owned) */
  GHashTable *items;        /* (owned) key → (owned) SmNotifierItem */
  SmNotifierItem *summary;  /* (owned) the overflow notification */
  guint summary_requests;   /* what the summary counts */
  guint summary_sessions;
  GHashTable *adopt;  /* (owned) (nullable) key → id from a previous run */
  GHashTable *missed; /* (owned) session ids the missed notice covers */
  gboolean said_show_failed;
  guint layout_id;

  /* Calls to the server in flight (this server's): it may never answer, so
   * they are counted and bounded, and what cannot be sent now waits in the
   * items (held), coalesced, never queued. */
  guint serial;             /* of the last Notify sent */
  guint notifies_in_flight; /* at most SM_NOTIFIER_MAX_NOTIFIES */
  guint closes_in_flight;   /* at most SM_NOTIFIER_MAX_CLOSES */
  gboolean held;            /* a post waits for a call to be answered */
  guint stall_id;           /* no answer for a while: logged */
  gboolean said_stalled;
  gboolean said_close_dropped;
  guint retry_id; /* a Notify failed: laid out again later */
};

void sm_notifier_changed (SmNotifier *self);
void sm_notifier_queue_layout (SmNotifier *self);
void sm_notifier_withdraw (SmNotifier *self, const char *key);
SmNotifierItem *sm_notifier_session_item (SmNotifier *self, const SmSession *session);

G_END_DECLS
