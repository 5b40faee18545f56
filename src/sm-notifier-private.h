#pragma once

#include "sm-notifier.h"
#include "sm-notify-item.h"
#include "sm-notify-server.h"

G_BEGIN_DECLS

/* Shared by sm-notifier.c (layout, clicks, models) and sm-notifier-state.c
 * (the durable ids, what was missed while down). */

struct _SmNotifier
{
  GObject parent_instance;

  SmSessions *sessions;   /* (owned) */
  SmRequests *requests;   /* (owned) */
  SmNotifyServer *server; /* (owned) */
  GHashTable *items;      /* (owned) key → (owned) SmItem */
  SmItem *summary;        /* (owned) the overflow notification */
  guint summary_requests; /* what the summary counts */
  guint summary_sessions;
  GHashTable *adopt;  /* (owned) (nullable) key → id from a previous run */
  GHashTable *missed; /* (owned) session ids the missed notice covers */
  gboolean said_show_failed;
  guint layout_id;
};

void sm_notifier_changed (SmNotifier *self);
void sm_notifier_queue_layout (SmNotifier *self);
void sm_notifier_withdraw (SmNotifier *self, const char *key);
SmItem *sm_notifier_session_item (SmNotifier *self, const SmSession *session);

G_END_DECLS
