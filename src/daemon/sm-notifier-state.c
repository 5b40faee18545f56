/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier-state"

#include "config.h"

#include "sm-notifier-private.h"

#include "sm-error.h"
#include "sm-notifier-text.h"

#include <string.h>

static void
save_item (GVariantBuilder *builder, SmNotifierItem *item, guint32 id)
{
  GVariantBuilder fields;

  g_variant_builder_init (&fields, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&fields, "{sv}", "id", g_variant_new_uint32 (id));
  if (item != NULL && item->kind == SM_NOTIFIER_ITEM_SESSION && item->session_id != NULL)
    {
      g_variant_builder_add (&fields, "{sv}", "minutes", g_variant_new_uint32 (item->minutes));
      g_variant_builder_add (&fields, "{sv}", "expired", g_variant_new_boolean (item->expired));
    }
  if (item != NULL && item->kind == SM_NOTIFIER_ITEM_NOTICE)
    g_variant_builder_add (&fields, "{sv}", "text", g_variant_new_string (item->text));
  g_variant_builder_add (builder, "{sv}", item != NULL ? item->key : "",
                         g_variant_builder_end (&fields));
}

GVariant *
sm_notifier_state_save (SmNotifier *self)
{
  GVariantBuilder builder;
  GHashTableIter iter;
  gpointer key, value;
  gboolean empty = TRUE;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((SmNotifierItem *) value)->id != 0)
      {
        save_item (&builder, value, ((SmNotifierItem *) value)->id);
        empty = FALSE;
      }
  if (self->summary->id != 0)
    {
      save_item (&builder, self->summary, self->summary->id);
      empty = FALSE;
    }
  /* Not yet taken over: still on screen, still ours to close. */
  if (self->adopt != NULL)
    {
      g_hash_table_iter_init (&iter, self->adopt);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          GVariantBuilder fields;

          g_variant_builder_init (&fields, G_VARIANT_TYPE_VARDICT);
          g_variant_builder_add (&fields, "{sv}", "id",
                                 g_variant_new_uint32 ((guint32) GPOINTER_TO_INT (value)));
          g_variant_builder_add (&builder, "{sv}", (const char *) key,
                                 g_variant_builder_end (&fields));
          empty = FALSE;
        }
    }
  if (empty)
    {
      g_variant_builder_clear (&builder);
      return NULL;
    }
  return g_variant_builder_end (&builder);
}

/* A session warning or notice saved with what it showed comes back as an
 * item, so that the layout takes its notification over with the same
 * content; anything else is only closed. */
static void
restore_item (SmNotifier *self, const char *key, GVariant *fields)
{
  const SmSession *session;
  const char *text;
  SmNotifierItem *item;

  if (g_hash_table_contains (self->items, key))
    return;
  if (g_str_has_prefix (key, SM_NOTIFIER_ITEM_SESSION_PREFIX))
    {
      session = sm_sessions_lookup (self->sessions, key + strlen (SM_NOTIFIER_ITEM_SESSION_PREFIX));
      if (session == NULL)
        return;
      item = sm_notifier_session_item (self, session);
      if (!g_variant_lookup (fields, "minutes", "u", &item->minutes)
          || !g_variant_lookup (fields, "expired", "b", &item->expired))
        g_hash_table_remove (self->items, key);
    }
  else if (g_str_equal (key, SM_NOTIFIER_ITEM_MISSED_KEY)
           && g_variant_lookup (fields, "text", "&s", &text))
    {
      item = sm_notifier_item_new (SM_NOTIFIER_ITEM_NOTICE, SM_NOTIFIER_ITEM_MISSED_KEY, "");
      item->text = g_strdup (text);
      g_hash_table_replace (self->items, item->key, item);
    }
}

gboolean
sm_notifier_state_restore (SmNotifier *self, GVariant *saved, GError **error)
{
  GVariantIter iter;
  const char *key;
  GVariant *fields;

  if (!g_variant_is_of_type (saved, G_VARIANT_TYPE_VARDICT))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "notifications: not a{sv}");
      return FALSE;
    }
  if (self->adopt == NULL)
    self->adopt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_variant_iter_init (&iter, saved);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &fields))
    {
      guint32 id;

      if (!g_variant_is_of_type (fields, G_VARIANT_TYPE_VARDICT)
          || !g_variant_lookup (fields, "id", "u", &id) || id == 0 || id > G_MAXINT32)
        continue;
      g_hash_table_replace (self->adopt, g_strdup (key), GINT_TO_POINTER ((gint) id));
      restore_item (self, key, fields);
    }
  sm_notifier_queue_layout (self);
  return TRUE;
}

void
sm_notifier_state_announce_missed (SmNotifier *self, gint64 now)
{
  g_autoptr (GPtrArray) sessions = NULL;
  g_autoptr (GPtrArray) requests = NULL;
  guint n_sessions = 0, n_requests = 0;
  SmNotifierItem *item;

  /* Their own notices (a warning left on screen, a request posted anew) would
   * only say again what the one notice says: they go. */
  sessions = sm_sessions_list (self->sessions);
  for (guint i = 0; i < sessions->len; i++)
    {
      const SmSession *session = sessions->pdata[i];

      if (session->expires_at > now)
        continue;
      n_sessions++;
      g_hash_table_add (self->missed, g_strdup (session->id));
      sm_notifier_withdraw (self, SM_NOTIFIER_ITEM_SESSION_PREFIX, session->id);
    }
  requests = sm_requests_list (self->requests);
  for (guint i = 0; i < requests->len; i++)
    {
      const SmRequest *request = requests->pdata[i];

      if (request->expires_at > now)
        continue;
      n_requests++;
      sm_notifier_withdraw (self, SM_NOTIFIER_ITEM_REQUEST_PREFIX, request->id);
    }
  if (n_sessions == 0 && n_requests == 0)
    return;

  item = sm_notifier_item_new (SM_NOTIFIER_ITEM_NOTICE, SM_NOTIFIER_ITEM_MISSED_KEY, "");
  item->text = sm_notify_text_missed_body (n_sessions, n_requests);
  g_hash_table_replace (self->items, item->key, item);
  sm_notifier_queue_layout (self);
}
