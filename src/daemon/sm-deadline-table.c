/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-deadline-table"

#include "sm-deadline-table.h"

#include "sm-checks.h"
#include "sm-error.h"

#include <string.h>

typedef struct
{
  SmScheduler *scheduler; /* (owned) */
  GHashTable *entries;    /* (owned) id → (owned) SmDeadlineTableEntry */
  SmBudget *budget;       /* (owned) shared with the user's other models */
} SmDeadlineTablePrivate;

enum
{
  PROP_0,
  PROP_SCHEDULER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void sm_deadline_table_storable_init (SmStorableInterface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (SmDeadlineTable,
                                  sm_deadline_table,
                                  G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (SmDeadlineTable)
                                      G_IMPLEMENT_INTERFACE (SM_TYPE_STORABLE,
                                                             sm_deadline_table_storable_init))

#define PRIV(self) ((SmDeadlineTablePrivate *) sm_deadline_table_get_instance_private (self))

static void
sm_deadline_table_entry_free (SmDeadlineTableEntry *entry)
{
  SmDeadlineTablePrivate *priv = PRIV (entry->owner);

  if (entry->deadline != NULL)
    sm_scheduler_remove (priv->scheduler, entry->deadline);
  sm_budget_charge (priv->budget, entry->size, 0);
  SM_DEADLINE_TABLE_GET_CLASS (entry->owner)->free_entry (entry);
}

static void
sm_deadline_table_set_property (GObject *object,
                                guint prop_id,
                                const GValue *value,
                                GParamSpec *pspec)
{
  SmDeadlineTablePrivate *priv = PRIV (SM_DEADLINE_TABLE (object));

  switch (prop_id)
    {
    case PROP_SCHEDULER:
      priv->scheduler = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
sm_deadline_table_dispose (GObject *object)
{
  SmDeadlineTablePrivate *priv = PRIV (SM_DEADLINE_TABLE (object));

  /* The entries first: they give their bytes back to the budget and their
   * deadlines back to the scheduler. */
  g_clear_pointer (&priv->entries, g_hash_table_unref);
  g_clear_pointer (&priv->budget, sm_budget_unref);
  g_clear_object (&priv->scheduler);

  G_OBJECT_CLASS (sm_deadline_table_parent_class)->dispose (object);
}

static void
sm_deadline_table_class_init (SmDeadlineTableClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = sm_deadline_table_set_property;
  object_class->dispose = sm_deadline_table_dispose;

  properties[PROP_SCHEDULER] =
      g_param_spec_object ("scheduler", NULL, NULL, SM_TYPE_SCHEDULER,
                           G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
sm_deadline_table_init (SmDeadlineTable *self)
{
  SmDeadlineTablePrivate *priv = PRIV (self);

  priv->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) sm_deadline_table_entry_free);
  priv->budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, NULL);
}

/* For a subclass's class_init: the words of its errors, and its signals
 * "<prefix>-registered" (item, replaced): a new or re-registered entry;
 * "<prefix>-expired" (item) and "<prefix>-unregistered" (item, reason):
 * emitted just before the entry is forgotten. */
void
sm_deadline_table_class_set_kind (SmDeadlineTableClass *klass, const SmDeadlineTableKind *kind)
{
  GType type = G_TYPE_FROM_CLASS (klass);
  g_autofree char *registered = g_strconcat (kind->signal_prefix, "-registered", NULL);
  g_autofree char *expired = g_strconcat (kind->signal_prefix, "-expired", NULL);
  g_autofree char *unregistered = g_strconcat (kind->signal_prefix, "-unregistered", NULL);

  klass->kind = kind;
  klass->registered_signal = g_signal_new (registered, type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_BOOLEAN);
  klass->expired_signal = g_signal_new (expired, type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_POINTER);
  klass->unregistered_signal = g_signal_new (unregistered, type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                             NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_STRING);
}

/* The scheduler's clock. */
gint64
sm_deadline_table_now (SmDeadlineTable *self)
{
  return sm_scheduler_now (PRIV (self)->scheduler);
}

/* Shares @budget with the user's other models; before any entry. */
void
sm_deadline_table_set_budget (SmDeadlineTable *self, SmBudget *budget)
{
  SmDeadlineTablePrivate *priv;

  g_return_if_fail (SM_IS_DEADLINE_TABLE (self));
  g_return_if_fail (budget != NULL);
  priv = PRIV (self);
  g_return_if_fail (g_hash_table_size (priv->entries) == 0);

  sm_budget_ref (budget);
  g_clear_pointer (&priv->budget, sm_budget_unref);
  priv->budget = budget;
}

SmBudget *
sm_deadline_table_get_budget (SmDeadlineTable *self)
{
  g_return_val_if_fail (SM_IS_DEADLINE_TABLE (self), NULL);

  return PRIV (self)->budget;
}

/* @entry is zeroed, @item in the same block; @id is the item's own. */
void
sm_deadline_table_entry_init (SmDeadlineTable *self,
                              SmDeadlineTableEntry *entry,
                              gpointer item,
                              const char *id,
                              gint64 expires_at)
{
  entry->owner = self;
  entry->item = item;
  entry->id = id;
  entry->expires_at = expires_at;
}

static void on_deadline (gint64 due_ms, gint64 now_ms, gpointer user_data);

static void
sm_deadline_table_arm (SmDeadlineTable *self, SmDeadlineTableEntry *entry)
{
  SmDeadlineTableClass *klass = SM_DEADLINE_TABLE_GET_CLASS (self);
  SmScheduler *scheduler = PRIV (self)->scheduler;
  gint64 due = klass->next_due != NULL ? klass->next_due (entry) : entry->expires_at;

  if (entry->deadline != NULL)
    sm_scheduler_remove (scheduler, entry->deadline);
  entry->deadline = sm_scheduler_add (scheduler, due, on_deadline, entry);
}

/* Expiry wins over any warning still pending: no late warnings. */
static void
on_deadline (gint64 due_ms G_GNUC_UNUSED, gint64 now_ms, gpointer user_data)
{
  SmDeadlineTableEntry *entry = user_data;
  SmDeadlineTable *self = entry->owner;
  SmDeadlineTableClass *klass = SM_DEADLINE_TABLE_GET_CLASS (self);

  entry->deadline = NULL;

  if (now_ms >= entry->expires_at)
    {
      g_autofree char *id = g_strdup (entry->id);

      g_signal_emit (self, klass->expired_signal, 0, entry->item);
      g_hash_table_remove (PRIV (self)->entries, id);
      sm_storable_changed (SM_STORABLE (self), id);
      return;
    }

  if (klass->warn != NULL)
    klass->warn (self, entry, now_ms);
  sm_deadline_table_arm (self, entry);
  sm_storable_changed (SM_STORABLE (self), entry->id);
}

gboolean
sm_deadline_table_check_room (SmDeadlineTable *self, const char *id, GError **error)
{
  const SmDeadlineTableKind *kind = SM_DEADLINE_TABLE_GET_CLASS (self)->kind;
  GHashTable *entries = PRIV (self)->entries;

  if (g_hash_table_size (entries) >= kind->max && !g_hash_table_contains (entries, id))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
                   "%s: cannot %s \"%s\", %u %s are already %s", kind->id_arg, kind->verb, id,
                   kind->max, kind->plural, kind->state);
      return FALSE;
    }
  return TRUE;
}

/* The checks on the times of an entry read back from the state file, made
 * at its registration time (or now, if later: see sm_check_saved_time()),
 * and whether there is room for it. */
gboolean
sm_deadline_table_check_saved (SmDeadlineTable *self,
                               const char *id,
                               gint64 registered_at,
                               gint64 expires_at,
                               GError **error)
{
  gint64 now = sm_deadline_table_now (self);

  return sm_check_saved_time ("registered-at", registered_at, now, error)
         && sm_check_expires_at ("expires-at", expires_at, MAX (now, registered_at), error)
         && sm_deadline_table_check_room (self, id, error);
}

/* Whether @entry, of @size bytes, fits the byte budget in place of any
 * entry of its id; else frees it. */
gboolean
sm_deadline_table_check_budget (SmDeadlineTable *self,
                                SmDeadlineTableEntry *entry,
                                gsize size,
                                GError **error)
{
  SmDeadlineTablePrivate *priv = PRIV (self);
  SmDeadlineTableEntry *old = g_hash_table_lookup (priv->entries, entry->id);

  entry->size = size;
  if (sm_budget_check (priv->budget, old != NULL ? old->size : 0, entry->size,
                       SM_DEADLINE_TABLE_GET_CLASS (self)->kind->id_arg, entry->id, error))
    return TRUE;
  sm_deadline_table_discard (entry);
  return FALSE;
}

/* Finishes restoring @entry from the class's prepare(): the checks that
 * read the table (room, budget), then in it goes; else it is freed. */
gboolean
sm_deadline_table_restore_prepared (SmDeadlineTable *self,
                                    SmDeadlineTableEntry *entry,
                                    GError **error)
{
  g_return_val_if_fail (entry->owner == self, FALSE);

  if (!sm_deadline_table_check_room (self, entry->id, error))
    {
      sm_deadline_table_discard (entry);
      return FALSE;
    }
  if (!sm_deadline_table_check_budget (self, entry, entry->size, error))
    return FALSE;
  sm_deadline_table_insert (self, entry);
  return TRUE;
}

/* Takes @entry in (replacing any entry of the same id) and arms it. */
void
sm_deadline_table_insert (SmDeadlineTable *self, SmDeadlineTableEntry *entry)
{
  SmDeadlineTablePrivate *priv = PRIV (self);
  gboolean replaced;

  g_return_if_fail (entry->owner == self);

  replaced = g_hash_table_contains (priv->entries, entry->id);
  sm_budget_charge (priv->budget, 0, entry->size);
  g_hash_table_replace (priv->entries, (gpointer) entry->id, entry);
  sm_deadline_table_arm (self, entry);
  g_signal_emit (self, SM_DEADLINE_TABLE_GET_CLASS (self)->registered_signal, 0, entry->item,
                 replaced);
  sm_storable_changed (SM_STORABLE (self), entry->id);
}

/* An entry checked, never charged to the budget, that is not taken in. */
void
sm_deadline_table_discard (SmDeadlineTableEntry *entry)
{
  entry->size = 0;
  sm_deadline_table_entry_free (entry);
}

/* The checks of an unregistration (InvalidArgs, NotFound), nothing changed. */
gboolean
sm_deadline_table_check_unregister (SmDeadlineTable *self,
                                    const char *id,
                                    const char *reason,
                                    GError **error)
{
  SmDeadlineTableClass *klass = SM_DEADLINE_TABLE_GET_CLASS (self);
  const SmDeadlineTableKind *kind = klass->kind;

  if (!sm_check_id (kind->id_arg, id, error) || !klass->check_reason (reason, error))
    return FALSE;
  if (!g_hash_table_contains (PRIV (self)->entries, id))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_NOT_FOUND, "%s: no %s \"%s\" is %s", kind->id_arg,
                   kind->noun, id, kind->state);
      return FALSE;
    }
  return TRUE;
}

gboolean
sm_deadline_table_unregister (SmDeadlineTable *self,
                              const char *id,
                              const char *reason,
                              GError **error)
{
  SmDeadlineTableEntry *entry;

  if (!sm_deadline_table_check_unregister (self, id, reason, error))
    return FALSE;
  entry = g_hash_table_lookup (PRIV (self)->entries, id);
  g_signal_emit (self, SM_DEADLINE_TABLE_GET_CLASS (self)->unregistered_signal, 0, entry->item,
                 *reason != '\0' ? reason : "unregistered");
  g_hash_table_remove (PRIV (self)->entries, id);
  sm_storable_changed (SM_STORABLE (self), id);
  return TRUE;
}

/* (nullable) The item under @id. */
gpointer
sm_deadline_table_lookup (SmDeadlineTable *self, const char *id)
{
  SmDeadlineTableEntry *entry = g_hash_table_lookup (PRIV (self)->entries, id);

  return entry != NULL ? entry->item : NULL;
}

guint
sm_deadline_table_get_count (SmDeadlineTable *self)
{
  return g_hash_table_size (PRIV (self)->entries);
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  const SmDeadlineTableEntry *ea = *(const SmDeadlineTableEntry *const *) a;
  const SmDeadlineTableEntry *eb = *(const SmDeadlineTableEntry *const *) b;

  if (ea->expires_at != eb->expires_at)
    return ea->expires_at < eb->expires_at ? -1 : 1;
  return strcmp (ea->id, eb->id);
}

/* Every entry, soonest expiry first. The array does not own them. */
static GPtrArray *
sm_deadline_table_list_entries (SmDeadlineTable *self)
{
  GHashTable *entries = PRIV (self)->entries;
  GPtrArray *list = g_ptr_array_sized_new (g_hash_table_size (entries));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, compare_entries);
  return list;
}

/* Every item, soonest expiry first. The array does not own them. */
GPtrArray *
sm_deadline_table_list (SmDeadlineTable *self)
{
  GPtrArray *list = sm_deadline_table_list_entries (self);

  for (guint i = 0; i < list->len; i++)
    list->pdata[i] = ((SmDeadlineTableEntry *) list->pdata[i])->item;
  return list;
}

/* Every item as an aa{sv}, soonest expiry first: written at each call in
 * one block (the reply's bytes, freed with the reply), not kept. */
GVariant *
sm_deadline_table_to_variant (SmDeadlineTable *self)
{
  SmDeadlineTableClass *klass = SM_DEADLINE_TABLE_GET_CLASS (self);
  g_autoptr (GPtrArray) list = sm_deadline_table_list_entries (self);
  SmVardictWriter writer;
  gsize size = 0;

  /* What the entries count against the budget is their D-Bus form, about
   * the size of their GVariant form: the reply is written without a copy. */
  for (guint i = 0; i < list->len; i++)
    size += ((SmDeadlineTableEntry *) list->pdata[i])->size;
  sm_vardict_writer_init (&writer, size + 8 * list->len);
  for (guint i = 0; i < list->len; i++)
    klass->write (list->pdata[i], &writer);
  return sm_vardict_writer_finish (&writer);
}

/* The store's copy of one entry (a journal record, a snapshot's line),
 * written as a listing writes it: the same bytes as the entry's
 * g_variant_new_*() tree (sm_session_to_variant(), sm_request_to_variant())
 * without building and walking one, which cost a third of a
 * registration's time on the main thread. */
static GVariant *
sm_deadline_table_serialize (SmStorable *storable, const char *id)
{
  SmDeadlineTable *self = SM_DEADLINE_TABLE (storable);
  SmDeadlineTableEntry *entry = g_hash_table_lookup (PRIV (self)->entries, id);
  SmVardictWriter writer;

  if (entry == NULL)
    return NULL;
  sm_vardict_writer_init (&writer, entry->size + 16);
  SM_DEADLINE_TABLE_GET_CLASS (self)->write (entry, &writer);
  return sm_vardict_writer_finish_one (&writer);
}

static gboolean
sm_deadline_table_restore (SmStorable *storable, GVariant *entry, GError **error)
{
  SmDeadlineTable *self = SM_DEADLINE_TABLE (storable);

  return SM_DEADLINE_TABLE_GET_CLASS (self)->restore (self, entry, error);
}

static gpointer
sm_deadline_table_prepare (SmStorable *storable, GVariant *entry, GError **error)
{
  SmDeadlineTable *self = SM_DEADLINE_TABLE (storable);
  SmDeadlineTableClass *klass = SM_DEADLINE_TABLE_GET_CLASS (self);

  return klass->prepare != NULL ? klass->prepare (self, entry, error) : NULL;
}

static gboolean
sm_deadline_table_storable_restore_prepared (SmStorable *storable,
                                             gpointer prepared,
                                             GError **error)
{
  return sm_deadline_table_restore_prepared (SM_DEADLINE_TABLE (storable), prepared, error);
}

static void
sm_deadline_table_storable_init (SmStorableInterface *iface)
{
  iface->serialize = sm_deadline_table_serialize;
  iface->restore = sm_deadline_table_restore;
  iface->prepare = sm_deadline_table_prepare;
  iface->restore_prepared = sm_deadline_table_storable_restore_prepared;
}
