/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-users"

#include "sm-users.h"

#include "sm-error.h"

#include <stdlib.h>

typedef enum
{
  SM_USERS_SESSIONS,
  SM_USERS_REQUESTS,
  SM_USERS_PRESENCE,
  SM_USERS_N_KINDS
} SmUsersKind;

/* What the store sees of one kind of model across all users: its
 * "changed" (store-id) says whose entry changed, "<uid>/<id>" (or "<uid>"
 * for the one presence of a user). */
#define SM_TYPE_USERS_SECTION (sm_users_section_get_type ())
G_DECLARE_FINAL_TYPE (SmUsersSection, sm_users_section, SM, USERS_SECTION, GObject)

struct _SmUsersSection
{
  GObject parent_instance;

  SmUsers *users; /* (unowned) */
  SmUsersKind kind;
};

G_DEFINE_TYPE (SmUsersSection, sm_users_section, G_TYPE_OBJECT)

static guint section_changed_signal;

static void
sm_users_section_class_init (SmUsersSectionClass *klass)
{
  section_changed_signal = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
sm_users_section_init (SmUsersSection *self G_GNUC_UNUSED)
{
}

typedef struct
{
  SmUser user;
  SmUsers *users; /* (unowned) */
} SmUserEntry;

struct _SmUsers
{
  GObject parent_instance;

  SmScheduler *scheduler;                     /* (owned) */
  GHashTable *users;                          /* (owned) uid → (owned) SmUserEntry */
  SmUsersSection *sections[SM_USERS_N_KINDS]; /* (owned) */
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
sm_user_entry_free (SmUserEntry *entry)
{
  SmUser *user = &entry->user;

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
  for (guint i = 0; i < SM_USERS_N_KINDS; i++)
    g_clear_object (&self->sections[i]);
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
  for (guint i = 0; i < SM_USERS_N_KINDS; i++)
    {
      self->sections[i] = g_object_new (SM_TYPE_USERS_SECTION, NULL);
      self->sections[i]->users = self;
      self->sections[i]->kind = i;
    }
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

static void
relay_changed (SmUserEntry *entry, SmUsersKind kind, const char *id)
{
  g_autofree char *store_id = kind == SM_USERS_PRESENCE
                                  ? g_strdup_printf ("%u", entry->user.uid)
                                  : g_strdup_printf ("%u/%s", entry->user.uid, id);

  g_signal_emit (entry->users->sections[kind], section_changed_signal, 0, store_id);
}

static void
on_sessions_changed (SmSessions *sessions G_GNUC_UNUSED, const char *id, SmUserEntry *entry)
{
  relay_changed (entry, SM_USERS_SESSIONS, id);
}

static void
on_requests_changed (SmRequests *requests G_GNUC_UNUSED, const char *id, SmUserEntry *entry)
{
  relay_changed (entry, SM_USERS_REQUESTS, id);
}

static void
on_presence_changed (SmPresence *presence G_GNUC_UNUSED, const char *id, SmUserEntry *entry)
{
  relay_changed (entry, SM_USERS_PRESENCE, id);
}

static SmUser *
sm_users_lookup (SmUsers *self, guint32 uid)
{
  SmUserEntry *entry = g_hash_table_lookup (self->users, GUINT_TO_POINTER (uid));

  return entry != NULL ? &entry->user : NULL;
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
  /* Each user's own budget, part of the one of all users together (if any). */
  budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, self->budget);
  sm_sessions_set_budget (entry->user.sessions, budget);
  sm_requests_set_budget (entry->user.requests, budget);
  sm_presence_set_budget (entry->user.presence, budget);
  g_signal_connect (entry->user.sessions, "changed", G_CALLBACK (on_sessions_changed), entry);
  g_signal_connect (entry->user.requests, "changed", G_CALLBACK (on_requests_changed), entry);
  g_signal_connect (entry->user.presence, "changed", G_CALLBACK (on_presence_changed), entry);
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

/* The store's entry: the model's own plus whose it is. */
static GVariant *
with_owner (GVariant *entry, guint32 uid, const char *id)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (entry);
  g_autofree char *store_id =
      id != NULL ? g_strdup_printf ("%u/%s", uid, id) : g_strdup_printf ("%u", uid);
  GVariantBuilder builder;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, owned);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (&builder, "{sv}", key, value);
      g_variant_unref (value);
    }
  g_variant_builder_add (&builder, "{sv}", "owner-uid", g_variant_new_uint32 (uid));
  g_variant_builder_add (&builder, "{sv}", "store-id", g_variant_new_string (store_id));
  return g_variant_builder_end (&builder);
}

static GVariant *
store_get (GObject *model, const char *store_id)
{
  SmUsersSection *section = SM_USERS_SECTION (model);
  char *end = NULL;
  guint64 uid = g_ascii_strtoull (store_id, &end, 10);
  const char *id = end != NULL && *end == '/' ? end + 1 : NULL;
  SmUser *user;

  if (end == store_id || uid > G_MAXUINT32)
    return NULL;
  user = sm_users_lookup (section->users, (guint32) uid);
  if (user == NULL)
    return NULL;

  switch (section->kind)
    {
    case SM_USERS_SESSIONS:
      {
        const SmSession *session = id != NULL ? sm_sessions_lookup (user->sessions, id) : NULL;

        return session != NULL ? with_owner (sm_session_to_variant (session), user->uid, id) : NULL;
      }
    case SM_USERS_REQUESTS:
      {
        const SmRequest *request = id != NULL ? sm_requests_lookup (user->requests, id) : NULL;

        return request != NULL ? with_owner (sm_request_to_variant (request), user->uid, id) : NULL;
      }
    case SM_USERS_PRESENCE:
      return sm_presence_is_configured (user->presence)
                 ? with_owner (sm_presence_to_variant (user->presence), user->uid, NULL)
                 : NULL;
    case SM_USERS_N_KINDS:
    default:
      g_assert_not_reached ();
    }
}

static gboolean
store_restore (GObject *model, GVariant *entry, GError **error)
{
  SmUsersSection *section = SM_USERS_SECTION (model);
  guint32 uid;
  SmUser *user;

  if (!g_variant_lookup (entry, "owner-uid", "u", &uid))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "\"owner-uid\" (u) is required");
      return FALSE;
    }
  user = sm_users_get (section->users, uid);
  switch (section->kind)
    {
    case SM_USERS_SESSIONS:
      return sm_sessions_restore (user->sessions, entry, error);
    case SM_USERS_REQUESTS:
      return sm_requests_restore (user->requests, entry, error);
    case SM_USERS_PRESENCE:
      return sm_presence_restore (user->presence, entry, error);
    case SM_USERS_N_KINDS:
    default:
      g_assert_not_reached ();
    }
}

/* Sections of their own ("user-sessions", ...): a state file of the other
 * mode is then ignored, never misread. */
void
sm_users_add_store_sections (SmUsers *self, SmStore *store)
{
  static const char *const names[SM_USERS_N_KINDS] = { "user-sessions", "user-requests",
                                                       "user-presence" };

  g_return_if_fail (SM_IS_USERS (self));

  for (guint i = 0; i < SM_USERS_N_KINDS; i++)
    sm_store_add_section (store, names[i], G_OBJECT (self->sections[i]), "store-id", store_get,
                          store_restore);
}
