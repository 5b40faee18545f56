/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-notifier.h"
#include "sm-notifier-item.h"
#include "sm-notifier-calls.h"
#include "sm-notifier-server.h"

G_BEGIN_DECLS

/* The notifier's parts, each a file, calling only downwards:
 *   sm-notifier.c         the object, its public API, the models' signals
 *                         (what wants room) and the clicks;
 *   sm-notifier-state.c   the durable ids and what was missed while down;
 *   sm-notifier-layout.c  what is on screen, the Notify calls that put it
 *                         there, taking over what a previous run left up;
 *   sm-notifier-calls.c   the calls in flight, bounded;
 *   sm-notifier-item.c    one notification's content;
 *   sm-notifier-server.c  the notification server;
 *   sm-notifier-text.c    the texts.
 * A click's app is opened by sm-app-launcher.c. */

struct _SmNotifier
{
  GObject parent_instance;

  SmSessions *sessions;     /* (owned) */
  SmRequests *requests;     /* (owned) */
  SmNotifierServer *server; /* (owned) */
  SmNotifierCalls *calls;   /* (owned) to the server */
  GHashTable *items;        /* (owned) key → (owned) SmNotifierItem */
  SmNotifierItem *summary;  /* (owned) the overflow notification */
  guint summary_requests;   /* what the summary counts */
  guint summary_sessions;
  GHashTable *adopt;  /* (owned) (nullable) key → id from a previous run */
  GHashTable *missed; /* (owned) session ids the missed notice covers */
  gboolean said_show_failed;
  guint layout_id;
  guint summary_id;         /* the summary's counts wait for their turn */
  gint64 summary_posted_us; /* monotonic time of its last Notify */

  /* What cannot be sent now (a Notify of the item in flight, or as many in
   * flight as the server may hold) waits in the items, coalesced, never
   * queued: held says the next answer lays out again. */
  guint serial;        /* of the last Notify sent */
  guint new_in_flight; /* Notify calls without an id to replace, unanswered */
  gboolean held;       /* a post waits for a call to be answered */
  guint retry_id;      /* a Notify failed: laid out again later */
};

/* sm-notifier-layout.c */
void sm_notifier_changed (SmNotifier *self);
void sm_notifier_queue_layout (SmNotifier *self);
void sm_notifier_close (SmNotifier *self, SmNotifierItem *item);
/* Withdraws the item prefix + id (SM_NOTIFIER_ITEM_*_PREFIX) if there is one. */
void sm_notifier_withdraw (SmNotifier *self, const char *prefix, const char *id);
SmNotifierItem *sm_notifier_session_item (SmNotifier *self, const SmSession *session);
void sm_notifier_unpost_all (SmNotifier *self);

/* sm-notifier-state.c: sm_notifier_save(), sm_notifier_restore() and
 * sm_notifier_announce_missed(), @self checked by the caller. */
GVariant *sm_notifier_state_save (SmNotifier *self);
gboolean sm_notifier_state_restore (SmNotifier *self, GVariant *saved, GError **error);
void sm_notifier_state_announce_missed (SmNotifier *self, gint64 now);

G_END_DECLS
