/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-presence"

#include "sm-presence.h"

#include "sm-checks.h"
#include "sm-error.h"
#include "sm-options.h"

struct _SmPresence
{
  GObject parent_instance;

  SmScheduler *scheduler; /* (owned) */
  SmBudget *budget;       /* (owned) shared with the user's other models */
  gsize size;             /* what the configuration counts against it */

  gboolean configured;
  char *wallet_address; /* (owned) */
  gint64 ttl;
  GVariant *options; /* (owned) a{sv}: the known options that were given */
  char *owner;       /* (owned) unique bus name of the caller */
  gboolean owner_connected;
  gint64 last_refresh;
  gint64 next_refresh_at; /* 0 once refreshing has stopped */
  SmDeadline *deadline;   /* the next tick */
};

enum
{
  SIGNAL_REFRESH_NEEDED,
  SIGNAL_REFRESHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void sm_presence_storable_init (SmStorableInterface *iface);

G_DEFINE_TYPE_WITH_CODE (SmPresence,
                         sm_presence,
                         G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (SM_TYPE_STORABLE, sm_presence_storable_init))

static const SmOptionSpec presence_options[] = {
  { "nickname", G_VARIANT_TYPE_STRING, sm_check_text_option, NULL },
  { "avatar", G_VARIANT_TYPE_STRING, sm_check_text_option, NULL },
  { "peer-id", G_VARIANT_TYPE_STRING, sm_check_text_option, NULL },
};

static void
sm_presence_clear (SmPresence *self)
{
  if (self->deadline != NULL)
    sm_scheduler_remove (self->scheduler, self->deadline);
  self->deadline = NULL;
  sm_budget_charge (self->budget, self->size, 0);
  self->size = 0;
  self->configured = FALSE;
  g_clear_pointer (&self->wallet_address, g_free);
  g_clear_pointer (&self->options, g_variant_unref);
  g_clear_pointer (&self->owner, g_free);
  self->owner_connected = FALSE;
  self->ttl = self->last_refresh = self->next_refresh_at = 0;
}

static void
sm_presence_dispose (GObject *object)
{
  SmPresence *self = SM_PRESENCE (object);

  if (self->scheduler != NULL)
    sm_presence_clear (self);
  g_clear_pointer (&self->budget, sm_budget_unref);
  g_clear_object (&self->scheduler);

  G_OBJECT_CLASS (sm_presence_parent_class)->dispose (object);
}

static void
sm_presence_class_init (SmPresenceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = sm_presence_dispose;

  /* (wallet_address, last_refresh): the owner should refresh now. */
  signals[SIGNAL_REFRESH_NEEDED] =
      g_signal_new ("refresh-needed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_INT64);
  /* (success, next_refresh_at): after each tick; next is 0 when stopped. */
  signals[SIGNAL_REFRESHED] =
      g_signal_new ("refreshed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 2, G_TYPE_BOOLEAN, G_TYPE_INT64);
}

static void
sm_presence_init (SmPresence *self)
{
  self->budget = sm_budget_new ("the caller's byte budget", SM_BUDGET_USER_BYTES, NULL);
}

SmPresence *
sm_presence_new (SmScheduler *scheduler)
{
  SmPresence *self = g_object_new (SM_TYPE_PRESENCE, NULL);

  self->scheduler = g_object_ref (scheduler);
  return self;
}

/* Shares @budget with the user's other models; before any configuration. */
void
sm_presence_set_budget (SmPresence *self, SmBudget *budget)
{
  g_return_if_fail (SM_IS_PRESENCE (self));
  g_return_if_fail (budget != NULL);
  g_return_if_fail (!self->configured);

  sm_budget_ref (budget);
  g_clear_pointer (&self->budget, sm_budget_unref);
  self->budget = budget;
}

static gint64
refresh_interval (SmPresence *self)
{
  return self->ttl * 2 / 5;
}

static void on_tick (gint64 due_ms, gint64 now_ms, gpointer user_data);

static void
schedule (SmPresence *self, gint64 due_ms)
{
  if (self->deadline != NULL)
    sm_scheduler_remove (self->scheduler, self->deadline);
  self->deadline = NULL;
  self->next_refresh_at = due_ms;
  if (due_ms != 0)
    self->deadline = sm_scheduler_add (self->scheduler, due_ms, on_tick, self);
}

/* One tick, whenever it runs: after a sleep the next one is counted from
 * now (no backfill), and an advertisement that lapsed ends the refreshing so
 * an abandoned configuration never wakes the daemon again. */
static void
tick (SmPresence *self, gint64 now_ms)
{
  if (self->owner_connected)
    {
      self->last_refresh = now_ms;
      schedule (self, now_ms + refresh_interval (self));
      g_signal_emit (self, signals[SIGNAL_REFRESH_NEEDED], 0, self->wallet_address,
                     self->last_refresh);
      g_signal_emit (self, signals[SIGNAL_REFRESHED], 0, TRUE, self->next_refresh_at);
    }
  else
    {
      if (now_ms >= self->last_refresh + self->ttl)
        {
          g_debug ("Presence of %s lapsed; refreshing stops", self->wallet_address);
          schedule (self, 0);
        }
      else
        schedule (self, now_ms + refresh_interval (self));
      g_signal_emit (self, signals[SIGNAL_REFRESHED], 0, FALSE, self->next_refresh_at);
    }
  sm_storable_changed (SM_STORABLE (self), "presence");
}

static void
on_tick (gint64 due_ms G_GNUC_UNUSED, gint64 now_ms, gpointer user_data)
{
  SmPresence *self = SM_PRESENCE (user_data);

  self->deadline = NULL;
  tick (self, now_ms);
}

static gboolean
check_ttl (gint64 ttl, GError **error)
{
  if (ttl < SM_PRESENCE_TTL_MIN_MS || ttl > SM_PRESENCE_TTL_MAX_MS)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "ttl: must be %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                   " ms (10 s to 7 days), got %" G_GINT64_FORMAT,
                   SM_PRESENCE_TTL_MIN_MS, SM_PRESENCE_TTL_MAX_MS, ttl);
      return FALSE;
    }
  return TRUE;
}

/* Only the known options are kept: they are echoed by GetPresence(). */
static GVariant *
filter_options (GVariant *options)
{
  GVariantBuilder builder;
  g_autoptr (GVariant) filtered = NULL;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (gsize i = 0; i < G_N_ELEMENTS (presence_options); i++)
    {
      g_autoptr (GVariant) value =
          g_variant_lookup_value (options, presence_options[i].key, presence_options[i].type);

      if (value != NULL)
        g_variant_builder_add (&builder, "{sv}", presence_options[i].key, value);
    }
  /* A copy of its own: a value looked up in a call's options may be a view
   * into the whole message. */
  filtered = g_variant_ref_sink (g_variant_builder_end (&builder));
  return g_variant_get_normal_form (filtered);
}

static GVariant *build_variant (SmPresence *self,
                                const char *wallet_address,
                                gint64 ttl,
                                const char *owner,
                                GVariant *options);

/* Whether a configuration of these values fits the byte budget in place of
 * the current one; its size is what it counts. The times in it change, its
 * size does not. */
static gboolean
check_budget (SmPresence *self,
              const char *wallet_address,
              gint64 ttl,
              const char *owner,
              GVariant *options,
              gsize *size,
              GError **error)
{
  *size = sm_budget_entry_size (build_variant (self, wallet_address, ttl, owner, options));
  return sm_budget_check (self->budget, self->size, *size, "wallet_address", wallet_address, error);
}

/* The checks of an update; on success @filtered holds the options kept
 * and @size what the presence would count against the budget. */
static gboolean
check_update (SmPresence *self,
              const char *owner,
              const char *wallet_address,
              gint64 ttl,
              GVariant *options,
              GVariant **filtered,
              gsize *size,
              GError **error)
{
  if (!sm_check_id ("wallet_address", wallet_address, error) || !check_ttl (ttl, error)
      || !sm_options_validate (presence_options, G_N_ELEMENTS (presence_options), options, error))
    return FALSE;
  *filtered = filter_options (options);
  return check_budget (self, wallet_address, ttl, owner, *filtered, size, error);
}

/* Every check of an update (InvalidArgs, LimitExceeded), nothing changed. */
gboolean
sm_presence_check_update (SmPresence *self,
                          const char *owner,
                          const char *wallet_address,
                          gint64 ttl,
                          GVariant *options,
                          GError **error)
{
  g_autoptr (GVariant) filtered = NULL;
  gsize size;

  g_return_val_if_fail (SM_IS_PRESENCE (self), FALSE);
  g_return_val_if_fail (owner != NULL, FALSE);

  return check_update (self, owner, wallet_address, ttl, options, &filtered, &size, error);
}

gboolean
sm_presence_update (SmPresence *self,
                    const char *owner,
                    const char *wallet_address,
                    gint64 ttl,
                    GVariant *options,
                    GError **error)
{
  g_autoptr (GVariant) filtered = NULL;
  gsize size;

  g_return_val_if_fail (SM_IS_PRESENCE (self), FALSE);
  g_return_val_if_fail (owner != NULL, FALSE);

  if (!check_update (self, owner, wallet_address, ttl, options, &filtered, &size, error))
    return FALSE;

  sm_presence_clear (self);
  self->configured = TRUE;
  self->wallet_address = g_strdup (wallet_address);
  self->ttl = ttl;
  self->options = g_steal_pointer (&filtered);
  self->owner = g_strdup (owner);
  self->size = size;
  sm_budget_charge (self->budget, 0, size);
  self->owner_connected = TRUE;
  /* The first tick happens at once, during the call. */
  tick (self, sm_scheduler_now (self->scheduler));
  return TRUE;
}

void
sm_presence_stop (SmPresence *self)
{
  g_return_if_fail (SM_IS_PRESENCE (self));

  if (!self->configured)
    return;
  sm_presence_clear (self);
  sm_storable_changed (SM_STORABLE (self), "presence");
}

void
sm_presence_set_owner_connected (SmPresence *self, const char *owner, gboolean connected)
{
  g_return_if_fail (SM_IS_PRESENCE (self));

  if (!self->configured || g_strcmp0 (owner, self->owner) != 0)
    return;
  g_debug ("Presence owner %s %s", owner, connected ? "connected" : "left the bus");
  self->owner_connected = connected;
}

/* Takes back what sm_presence_to_variant() saved. The stored owner is gone
 * after a restart: ticks report failure until the advertisement lapses. */
gboolean
sm_presence_restore (SmPresence *self, GVariant *entry, GError **error)
{
  gint64 now = sm_scheduler_now (self->scheduler);
  const char *wallet_address, *owner;
  gint64 ttl, last_refresh, next_refresh_at;
  g_autoptr (GVariant) filtered = NULL;
  gsize size;

  g_return_val_if_fail (SM_IS_PRESENCE (self), FALSE);

  if (!g_variant_lookup (entry, "wallet-address", "&s", &wallet_address)
      || !g_variant_lookup (entry, "ttl", "x", &ttl)
      || !g_variant_lookup (entry, "last-refresh", "x", &last_refresh)
      || !g_variant_lookup (entry, "next-refresh-at", "x", &next_refresh_at)
      || !g_variant_lookup (entry, "owner", "&s", &owner))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS,
                   "presence: \"wallet-address\" (s), \"ttl\" (x), \"last-refresh\" (x), "
                   "\"next-refresh-at\" (x) and \"owner\" (s) are required");
      return FALSE;
    }
  if (!sm_check_id ("wallet-address", wallet_address, error) || !check_ttl (ttl, error)
      || !sm_check_text ("owner", owner, 0, SM_ID_MAX_BYTES, error)
      || !sm_check_saved_time ("last-refresh", last_refresh, now, error)
      || !sm_check_saved_time ("next-refresh-at", next_refresh_at, now, error)
      || !sm_options_validate (presence_options, G_N_ELEMENTS (presence_options), entry, error))
    return FALSE;
  filtered = filter_options (entry);
  if (!check_budget (self, wallet_address, ttl, owner, filtered, &size, error))
    return FALSE;

  sm_presence_clear (self);
  self->configured = TRUE;
  self->wallet_address = g_strdup (wallet_address);
  self->ttl = ttl;
  self->options = g_steal_pointer (&filtered);
  self->owner = g_strdup (owner);
  self->size = size;
  sm_budget_charge (self->budget, 0, size);
  self->owner_connected = FALSE;
  /* A refresh "after now" means the clock was set back. */
  self->last_refresh = CLAMP (last_refresh, 0, now);
  /* A tick overdue while the daemon was down fires at once (and reports
   * the lapse if there was one); none is more than an interval away. */
  if (next_refresh_at > 0)
    schedule (self, MIN (next_refresh_at, now + refresh_interval (self)));
  sm_storable_changed (SM_STORABLE (self), "presence");
  return TRUE;
}

gboolean
sm_presence_is_configured (SmPresence *self)
{
  g_return_val_if_fail (SM_IS_PRESENCE (self), FALSE);

  return self->configured;
}

const char *
sm_presence_get_owner (SmPresence *self)
{
  g_return_val_if_fail (SM_IS_PRESENCE (self), NULL);

  return self->owner;
}

/* GetPresence()'s dictionary of a configuration. */
static GVariant *
build_variant (SmPresence *self,
               const char *wallet_address,
               gint64 ttl,
               const char *owner,
               GVariant *options)
{
  GVariantBuilder builder;
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "wallet-address", g_variant_new_string (wallet_address));
  g_variant_builder_add (&builder, "{sv}", "ttl", g_variant_new_int64 (ttl));
  g_variant_builder_add (&builder, "{sv}", "refresh-interval", g_variant_new_int64 (ttl * 2 / 5));
  g_variant_builder_add (&builder, "{sv}", "last-refresh",
                         g_variant_new_int64 (self->last_refresh));
  g_variant_builder_add (&builder, "{sv}", "next-refresh-at",
                         g_variant_new_int64 (self->next_refresh_at));
  g_variant_builder_add (&builder, "{sv}", "owner", g_variant_new_string (owner));
  g_variant_builder_add (&builder, "{sv}", "owner-connected",
                         g_variant_new_boolean (self->owner_connected));
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (&builder, "{sv}", key, value);
      g_variant_unref (value);
    }
  return g_variant_builder_end (&builder);
}

/* GetPresence()'s dictionary; empty when no presence is configured. */
GVariant *
sm_presence_to_variant (SmPresence *self)
{
  g_return_val_if_fail (SM_IS_PRESENCE (self), NULL);

  if (!self->configured)
    return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
  return build_variant (self, self->wallet_address, self->ttl, self->owner, self->options);
}

/* One entry, whatever the id. */
static GVariant *
sm_presence_serialize (SmStorable *storable, const char *id G_GNUC_UNUSED)
{
  SmPresence *self = SM_PRESENCE (storable);

  return sm_presence_is_configured (self) ? sm_presence_to_variant (self) : NULL;
}

static gboolean
sm_presence_storable_restore (SmStorable *storable, GVariant *entry, GError **error)
{
  return sm_presence_restore (SM_PRESENCE (storable), entry, error);
}

static void
sm_presence_storable_init (SmStorableInterface *iface)
{
  iface->serialize = sm_presence_serialize;
  iface->restore = sm_presence_storable_restore;
}
