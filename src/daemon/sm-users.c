/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-users"

#include "sm-users.h"

#include "sm-error.h"

#include <stdlib.h>

struct _SmUsers
{
  GObject parent_instance;

  SmScheduler *scheduler; /* (owned) */
  GHashTable *users;      /* (owned) uid → (owned) SmUser */
  SmBudget *budget; /* (owned) (nullable) all users together; NULL: one user, no global caps */
};

enum
{
  SIGNAL_USER_ADDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_TYPE (SmUsers, sm_users, G_TYPE_OBJECT)

static void
sm_user_free (SmUser *user)
{
  g_clear_object (&user->presence);
  g_clear_object (&user->requests);
  g_clear_object (&user->sessions);
  g_free (user);
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
  self->users =
      g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) sm_user_free);
}

/* System mode: the users kept apart, and together under the global caps. */
SmUsers *
sm_users_new (SmScheduler *scheduler)
{
  SmUsers *self = sm_users_new_single (scheduler);

  self->budget = sm_budget_new ("the byte budget of all users together",
                                SM_BUDGET_USER_BYTES * SM_USERS_MAX_FACTOR, NULL);
  return self;
}

/* The session bus: the one user's own budget and limits are all there is. */
SmUsers *
sm_users_new_single (SmScheduler *scheduler)
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
  SmUser *user;

  g_return_val_if_fail (SM_IS_USERS (self), NULL);

  user = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));
  if (user != NULL)
    return user;

  user = g_new0 (SmUser, 1);
  user->uid = uid;
  user->sessions = sm_sessions_new (self->scheduler);
  user->requests = sm_requests_new (self->scheduler);
  user->presence = sm_presence_new (self->scheduler);
  /* Each user's own budget, part of the one of all users together (if any). */
  budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, self->budget);
  sm_sessions_set_budget (user->sessions, budget);
  sm_requests_set_budget (user->requests, budget);
  sm_presence_set_budget (user->presence, budget);
  g_hash_table_insert (self->users, GUINT_TO_POINTER (uid), user);
  g_debug ("Models for uid %u", uid);
  g_signal_emit (self, signals[SIGNAL_USER_ADDED], 0, user);
  return user;
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
    g_ptr_array_add (list, value);
  return list;
}

/* All users' sessions (@session) or signing requests together. */
static guint
count_entries (SmUsers *self, gboolean session)
{
  g_autoptr (GPtrArray) list = sm_users_list (self);
  guint n = 0;

  for (guint i = 0; i < list->len; i++)
    {
      SmUser *user = list->pdata[i];

      n +=
          session ? sm_sessions_get_count (user->sessions) : sm_requests_get_count (user->requests);
    }
  return n;
}

guint
sm_users_count_sessions (SmUsers *self)
{
  return count_entries (self, TRUE);
}

/* Whether all users together have room for @user's new session (@session)
 * or signing request @id, on top of the user's own limits, which the
 * user's models check. A table of one user has no global caps. */
gboolean
sm_users_check_room (SmUsers *self, SmUser *user, gboolean session, const char *id, GError **error)
{
  guint max = (session ? SM_SESSIONS_MAX : SM_REQUESTS_MAX) * SM_USERS_MAX_FACTOR;

  g_return_val_if_fail (SM_IS_USERS (self), FALSE);

  if (self->budget == NULL
      || (session ? sm_sessions_lookup (user->sessions, id) != NULL
                  : sm_requests_lookup (user->requests, id) != NULL)
      || count_entries (self, session) < max)
    return TRUE;
  g_set_error (error, SM_ERROR, SM_ERROR_LIMIT_EXCEEDED,
               "%s: cannot monitor \"%s\", all users together already have %u %s",
               session ? "session_id" : "request_id", id, max,
               session ? "sessions" : "signing requests");
  return FALSE;
}

/* (nullable): what all users together count against their byte budget;
 * NULL for a table of one user. */
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
