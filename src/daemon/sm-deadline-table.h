/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-budget.h"
#include "sm-scheduler.h"
#include "sm-storable.h"
#include "sm-vardict-writer.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* What the deadline models (sessions, signing requests) share: entries by id,
 * each with a deadline in the scheduler and bytes in a budget, a cap on their
 * number, the signals "<kind>-registered" (item, replaced), "<kind>-expired"
 * (item) and "<kind>-unregistered" (item, reason), and SmStorable. A subclass
 * says what its entries hold, how they are checked, written and restored,
 * and (for warnings before the expiry) when they are next due. */

#define SM_TYPE_DEADLINE_TABLE (sm_deadline_table_get_type ())
G_DECLARE_DERIVABLE_TYPE (SmDeadlineTable, sm_deadline_table, SM, DEADLINE_TABLE, GObject)

/* The head of a subclass's entry, which holds its public item after it. */
typedef struct
{
  SmDeadlineTable *owner; /* (unowned) */
  gpointer item;          /* (unowned) the subclass's public struct, in the same block */
  const char *id;         /* (unowned) the item's id: the key in the table */
  gint64 expires_at;
  SmDeadline *deadline; /* (nullable) the next warning or the expiry */
  gsize size;           /* what it counts against the budget */
} SmDeadlineTableEntry;

/* How a table speaks of its entries in signals and errors. */
typedef struct
{
  const char *signal_prefix; /* "session": "session-registered", ... */
  const char *id_arg;        /* "session_id" */
  const char *noun;          /* "session" */
  const char *plural;        /* "sessions" */
  const char *verb;          /* "monitor": cannot monitor "x" */
  const char *state;         /* "monitored": no session "x" is monitored */
  guint max;                 /* how many entries at the most */
} SmDeadlineTableKind;

struct _SmDeadlineTableClass
{
  GObjectClass parent_class;

  /* Set by sm_deadline_table_class_set_kind(). */
  const SmDeadlineTableKind *kind;
  guint registered_signal;
  guint expired_signal;
  guint unregistered_signal;

  /* The item's a{sv}, written with sm_vardict_writer_begin() ... _end():
   * a listing's reply, and each entry the store saves. */
  void (*write) (SmDeadlineTableEntry *entry, SmVardictWriter *writer);
  /* Takes back an entry saved by an earlier run (SmStorable). */
  gboolean (*restore) (SmDeadlineTable *self, GVariant *entry, GError **error);
  /* (nullable) The part of restore() that reads nothing of the table:
   * the entry decoded, its own values checked, built and its size counted,
   * for sm_deadline_table_restore_prepared(). Safe on a helper thread
   * while loading (SmStorable's prepare()). */
  SmDeadlineTableEntry *(*prepare) (SmDeadlineTable *self, GVariant *entry, GError **error);
  /* Frees what the item holds and the entry's block. */
  void (*free_entry) (SmDeadlineTableEntry *entry);
  /* Whether @reason may end an entry (InvalidArgs if not). */
  gboolean (*check_reason) (const char *reason, GError **error);
  /* (nullable) When the entry is next due, at its expiry at the latest; NULL:
   * at its expiry. */
  gint64 (*next_due) (SmDeadlineTableEntry *entry);
  /* (nullable) A deadline from next_due() before the expiry was reached. */
  void (*warn) (SmDeadlineTable *self, SmDeadlineTableEntry *entry, gint64 now_ms);
};

void sm_deadline_table_class_set_kind (SmDeadlineTableClass *klass,
                                       const SmDeadlineTableKind *kind);

gint64 sm_deadline_table_now (SmDeadlineTable *self);
void sm_deadline_table_set_budget (SmDeadlineTable *self, SmBudget *budget);
SmBudget *sm_deadline_table_get_budget (SmDeadlineTable *self);

void sm_deadline_table_entry_init (SmDeadlineTable *self,
                                   SmDeadlineTableEntry *entry,
                                   gpointer item,
                                   const char *id,
                                   gint64 expires_at);
gboolean sm_deadline_table_check_room (SmDeadlineTable *self, const char *id, GError **error);
gboolean sm_deadline_table_check_saved (SmDeadlineTable *self,
                                        const char *id,
                                        gint64 registered_at,
                                        gint64 expires_at,
                                        GError **error);
gboolean sm_deadline_table_check_budget (SmDeadlineTable *self,
                                         SmDeadlineTableEntry *entry,
                                         gsize size,
                                         GError **error);
void sm_deadline_table_insert (SmDeadlineTable *self, SmDeadlineTableEntry *entry);
gboolean sm_deadline_table_restore_prepared (SmDeadlineTable *self,
                                             SmDeadlineTableEntry *entry,
                                             GError **error);
void sm_deadline_table_discard (SmDeadlineTableEntry *entry);
gboolean sm_deadline_table_check_unregister (SmDeadlineTable *self,
                                             const char *id,
                                             const char *reason,
                                             GError **error);
gboolean sm_deadline_table_unregister (SmDeadlineTable *self,
                                       const char *id,
                                       const char *reason,
                                       GError **error);

gpointer sm_deadline_table_lookup (SmDeadlineTable *self, const char *id);
guint sm_deadline_table_get_count (SmDeadlineTable *self);
GPtrArray *sm_deadline_table_list (SmDeadlineTable *self);
GVariant *sm_deadline_table_to_variant (SmDeadlineTable *self);

G_END_DECLS
