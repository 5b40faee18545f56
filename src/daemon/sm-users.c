/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-users"

#include "sm-users.h"

#include <stdlib.h>

typedef struct
{
  SmUser user;
  SmUsers *users; /* (unowned) */
} SmUserEntry;

struct _SmUsers
{
  GObject parent_instance;

  SmScheduler *scheduler; /* (owned) */
  GHashTable *users;      /* (owned) uid → (owned) SmUserEntry */
  SmBudget *budget;       /* (owned) all users together */
};

enum
{
  SIGNAL_USER_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SmUsers, sm_users, G_TYPE_OBJECT)

static void
sm_user_entry_free (SmUserEntry *entry)
{
  SmUser *user = &entry->user;

  g_clear_handle_id (&user->owner_watch_id, g_bus_unwatch_name);
  g_clear_object (&user->presence);
  g_clear_object (&user->requests);
  g_clear_object (&user->sessions);
  g_free (entry);
}

static void
sm_users_dispose (GObject *object)
{
  SmUsers *self = SM_USERS (object);

  g_clear_pointer (&self->users, g_hash_table_unref);
  g_clear_pointer (&self->budget, sm_budget_unref);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (sm_users_parent_class)->dispose (object);
}

static void
sm_users_class_init (SmUsersClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_users_dispose;

  /* (user): a user's models exist now (first call, or restored state);
   * emitted before anything happens in them. */
  signals[SIGNAL_USER_ADDED] =
      g_signal_new ("user-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
sm_users_init (SmUsers *self)
{
  self->users = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                       (GDestroyNotify) sm_user_entry_free);
  self->budget = sm_budget_new ("the byte budget of all users together",
                                SM_BUDGET_USER_BYTES * SM_USERS_MAX_FACTOR, NULL);
}

SmUsers *
sm_users_new (SmScheduler *scheduler)
{
  SmUsers *self = g_object_new (SM_TYPE_USERS, NULL);

  self->scheduler = g_object_ref (scheduler);
  return self;
}

/* @uid's models, created on first use. */
SmUser *
sm_users_get (SmUsers *self, guint32 uid)
{
  g_autoptr (SmBudget) budget = NULL;
  SmUserEntry *entry;

  g_return_val_if_fail (SM_IS_USERS (self), NULL);

  entry = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));
  if (entry != NULL)
    return &entry->user;

  entry = g_new0 (SmUserEntry, 1);
  entry->users = self;
  entry->user.uid = uid;
  entry->user.sessions = sm_sessions_new (self->scheduler);
  entry->user.requests = sm_requests_new (self->scheduler);
  entry->user.presence = sm_presence_new (self->scheduler);
  /* Each user's own budget, part of the one of all users together. */
  budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, self->budget);
  sm_sessions_set_budget (entry->user.sessions, budget);
  sm_requests_set_budget (entry->user.requests, budget);
  sm_presence_set_budget (entry->user.presence, budget);
  g_hash_table_insert (self->users, GUINT_TO_POINTER (uid), entry);
  g_debug ("Models for uid %u", uid);
  g_signal_emit (self, signals[SIGNAL_USER_ADDED], 0, &entry->user);
  return &entry->user;
}

/* Every user with models. The array does not own them. */
GPtrArray *
sm_users_list (SmUsers *self)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->users);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, &((SmUserEntry *) value)->user);
  return list;
}

guint
sm_users_count_sessions (SmUsers *self)
{
  g_autoptr (GPtrArray) list = sm_users_list (self);
  guint n = 0;

  for (guint i = 0; i < list->len; i++)
    n += sm_sessions_get_count (((SmUser *) list->pdata[i])->sessions);
  return n;
}

guint
sm_users_count_requests (SmUsers *self)
{
  g_autoptr (GPtrArray) list = sm_users_list (self);
  guint n = 0;

  for (guint i = 0; i < list->len; i++)
    n += sm_requests_get_count (((SmUser *) list->pdata[i])->requests);
  return n;
}

/* What all users together count against their byte budget. */
SmBudget *
sm_users_get_budget (SmUsers *self)
{
  g_return_val_if_fail (SM_IS_USERS (self), NULL);

  return self->budget;
}

/* The store's sections of every user's models: sections of their own
 * ("user-sessions", ...), so that a state file of the other mode is
 * ignored, never misread. */
static const struct
{
  const char *name;
  const char *id_key;
  gsize offset; /* of the model in SmUser */
} store_sections[] = {
  { "user-sessions", "session-id", G_STRUCT_OFFSET (SmUser, sessions) },
  { "user-requests", "request-id", G_STRUCT_OFFSET (SmUser, requests) },
  { "user-presence", NULL, G_STRUCT_OFFSET (SmUser, presence) },
};

static SmStorable *
user_model (SmUser *user, guint section)
{
  return G_STRUCT_MEMBER (SmStorable *, user, store_sections[section].offset);
}

/* The user's models are written to the store from now on. */
static void
on_user_added (SmUsers *self G_GNUC_UNUSED, SmUser *user, SmStore *store)
{
  for (guint i = 0; i < G_N_ELEMENTS (store_sections); i++)
    sm_store_attach (store, store_sections[i].name, user->uid, user_model (user, i));
}

/* Loading: the model of @uid that takes back an entry of @section. */
static SmStorable *
store_resolve (const char *section, guint32 uid, gpointer user_data)
{
  SmUser *user = sm_users_get (SM_USERS (user_data), uid);

  for (guint i = 0; i < G_N_ELEMENTS (store_sections); i++)
    if (g_str_equal (section, store_sections[i].name))
      return user_model (user, i);
  return NULL;
}

void
sm_users_add_store_sections (SmUsers *self, SmStore *store)
{
  g_autoptr (GPtrArray) users = NULL;

  g_return_if_fail (SM_IS_USERS (self));

  for (guint i = 0; i < G_N_ELEMENTS (store_sections); i++)
    sm_store_add_user_section (store, store_sections[i].name, store_sections[i].id_key,
                               store_resolve, self);
  users = sm_users_list (self);
  for (guint i = 0; i < users->len; i++)
    on_user_added (self, users->pdata[i], store);
  g_signal_connect_object (self, "user-added", G_CALLBACK (on_user_added), store, 0);
}
