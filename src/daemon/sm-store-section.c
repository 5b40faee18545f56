/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include <string.h>

/* A section and the models attached to it. An entry is known on disk by
 * its section's key for it, formatted here and nowhere else: the model's
 * id, or in a per-user section "<uid>/<id>" ("<uid>" for a model of one
 * entry), also written into the entry as "store-id" next to "owner-uid".
 * Loading never parses a key back: it takes the owner from the entry. */

/* Whose an entry the models hold is: its model and its id there. */
typedef struct
{
  SmStoreAttachment *attachment; /* (unowned) */
  char id[];
} SmStoreEntryRef;

static void
attachment_free (SmStoreAttachment *attachment)
{
  g_clear_signal_handler (&attachment->changed_id, attachment->model);
  g_clear_object (&attachment->model);
  g_free (attachment);
}

void
sm_store_pending_free (SmStorePending *pending)
{
  g_clear_pointer (&pending->entry, g_variant_unref);
  g_free (pending->text);
  g_free (pending->data);
  g_clear_error (&pending->error);
  g_free (pending);
}

static GHashTable *
pending_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                (GDestroyNotify) sm_store_pending_free);
}

SmStoreSection *
sm_store_section_new (SmStore *store, const char *name, const char *id_key)
{
  SmStoreSection *section = g_new0 (SmStoreSection, 1);

  section->store = store;
  section->name = g_strdup (name);
  section->id_key = g_strdup (id_key);
  section->by_uid =
      g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) attachment_free);
  section->ids = g_hash_table_new_full (g_str_hash, g_str_equal,
                                        (GDestroyNotify) g_ref_string_release, g_free);
  section->pending = pending_table_new ();
  return section;
}

/* The entries read back, restored now: an empty table takes their place
 * (the caller frees them). */
GHashTable *
sm_store_section_take_pending (SmStoreSection *section)
{
  GHashTable *pending = section->pending;

  section->pending = pending_table_new ();
  return pending;
}

void
sm_store_section_free (SmStoreSection *section)
{
  g_clear_pointer (&section->ids, g_hash_table_unref);
  g_clear_pointer (&section->by_uid, g_hash_table_unref);
  g_clear_pointer (&section->pending, g_hash_table_unref);
  g_free (section->name);
  g_free (section->id_key);
  g_free (section);
}

SmStoreSection *
sm_store_find_section (SmStore *self, const char *name)
{
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];

      if (strcmp (section->name, name) == 0)
        return section;
    }
  return NULL;
}

/* On disk a single entry ("<entry>" or null), not an object of them. */
gboolean
sm_store_section_is_single (SmStoreSection *section)
{
  return section->id_key == NULL && !section->per_user;
}

/* Attaches @model (of @uid, in a per-user section); the caller connects
 * its "changed". */
SmStoreAttachment *
sm_store_section_add_model (SmStoreSection *section, guint32 uid, SmStorable *model)
{
  SmStoreAttachment *attachment = g_new0 (SmStoreAttachment, 1);

  attachment->section = section;
  attachment->model = g_object_ref (model);
  attachment->uid = uid;
  g_hash_table_insert (section->by_uid, GUINT_TO_POINTER (uid), attachment);
  return attachment;
}

SmStoreAttachment *
sm_store_section_lookup (SmStoreSection *section, guint32 uid)
{
  return g_hash_table_lookup (section->by_uid, GUINT_TO_POINTER (uid));
}

/* Keeps track of the entries the models hold (@present), for the
 * snapshots: @disk_id is @attachment's @id. */
void
sm_store_section_note (SmStoreSection *section,
                       SmStoreAttachment *attachment,
                       const char *id,
                       const char *disk_id,
                       gboolean present)
{
  SmStoreEntryRef *ref;

  if (!present)
    {
      g_hash_table_remove (section->ids, disk_id);
      return;
    }
  if (g_hash_table_contains (section->ids, disk_id))
    return;
  ref = g_malloc (sizeof (SmStoreEntryRef) + strlen (id) + 1);
  ref->attachment = attachment;
  strcpy (ref->id, id);
  g_hash_table_insert (section->ids, g_ref_string_new (disk_id), ref);
}

/* The model that holds the entry under @disk_id, and its @id there; NULL
 * when none does. */
SmStoreAttachment *
sm_store_section_find_entry (SmStoreSection *section, const char *disk_id, const char **id)
{
  SmStoreEntryRef *ref = g_hash_table_lookup (section->ids, disk_id);

  if (ref == NULL)
    return NULL;
  *id = ref->id;
  return ref->attachment;
}

/* The model's id of an entry: a model of one entry has one, "". */
const char *
sm_store_attachment_model_id (SmStoreAttachment *attachment, const char *id)
{
  return attachment->section->id_key != NULL ? id : "";
}

/* The entry's key on disk: in the snapshot and in its journal records. */
char *
sm_store_attachment_disk_id (SmStoreAttachment *attachment, const char *id)
{
  if (!attachment->section->per_user)
    return g_strdup (id);
  if (attachment->section->id_key == NULL)
    return g_strdup_printf ("%u", attachment->uid);
  return g_strdup_printf ("%u/%s", attachment->uid, id);
}

/* The entry of a per-user section: the model's own plus whose it is. */
static GVariant *
with_owner (GVariant *entry, guint32 uid, const char *disk_id)
{
  g_autoptr (GVariant) owned = g_variant_ref_sink (entry);
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
  g_variant_builder_add (&builder, "{sv}", "store-id", g_variant_new_string (disk_id));
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/* The entry under the model's @id as it is now, as the state holds it
 * (owned, not floating), or NULL when the model holds none. */
GVariant *
sm_store_attachment_get (SmStoreAttachment *attachment, const char *id, const char *disk_id)
{
  GVariant *entry = sm_storable_serialize (attachment->model, id);

  if (entry == NULL)
    return NULL;
  if (attachment->section->per_user)
    return with_owner (entry, attachment->uid, disk_id);
  return g_variant_ref_sink (entry);
}
