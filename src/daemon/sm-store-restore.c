/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include "sm-error.h"
#include "sm-saved-vardict.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Hands the entries read back (the pending ones, keyed by their on-disk
 * ids) to their models; sets aside what a model refuses. */

/* Writes the entries the models refused, in the snapshot's own format, to
 * "state.json.rejected-<time>-XXXXXX": the next snapshot forgets them, but
 * nothing a file held is destroyed without a trace. */
static void
set_aside_rejected (SmStore *self, GString *rejected)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *path = g_strdup_printf ("%s.rejected-%s-XXXXXX", self->path, stamp);
  g_autoptr (GError) error = NULL;
  int fd = g_mkstemp_full (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);

  g_string_append (rejected, "}\n");
  if (fd < 0)
    sm_store_set_errno_error (&error, errno, path);
  else
    {
      if (sm_store_write_all (fd, rejected->str, rejected->len, &error) && fsync (fd) < 0)
        sm_store_set_errno_error (&error, errno, path);
      close (fd);
    }
  if (error != NULL)
    g_warning ("Cannot set the refused entries aside: %s", error->message);
  else
    g_message ("Set the refused entries aside in %s", path);
}

/* Appends a refused entry to its section's part of the set-aside file. */
static void
reject_entry (SmStore *self,
              GString *text,
              SmStoreSection *section,
              const char *disk_id,
              GVariant *entry)
{
  if (!sm_store_section_is_single (section))
    {
      g_string_append (text, text->len > 0 ? ",\n" : "\n");
      sm_store_append_json_string (text, disk_id);
      g_string_append_c (text, ':');
    }
  sm_store_append_entry (text, entry, self->scratch);
}

/* The model an entry goes back to: the section's, or in a per-user
 * section the one of the entry's "owner-uid", created if need be. */
static SmStoreAttachment *
find_model (SmStore *self, SmStoreSection *section, GVariant *entry, GError **error)
{
  SmStoreAttachment *attachment;
  SmStorable *model;
  guint32 uid;

  if (!section->per_user)
    return sm_store_section_lookup (section, 0);
  if (!g_variant_lookup (entry, "owner-uid", "u", &uid))
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "\"owner-uid\" (u) is required");
      return NULL;
    }
  model = section->resolve (section->name, uid, section->resolve_data);
  if (model == NULL)
    {
      g_set_error (error, SM_ERROR, SM_ERROR_INVALID_ARGS, "no model for uid %u", uid);
      return NULL;
    }
  attachment = sm_store_section_lookup (section, uid);
  if (attachment == NULL)
    {
      sm_store_attach (self, section->name, uid, model);
      attachment = sm_store_section_lookup (section, uid);
    }
  return attachment;
}

/* The string @key holds in @entry as g_variant_lookup (@entry, @key, "&s")
 * finds it (the first member of that name, if a string), else "". Read on
 * the bytes of an entry read back (normal form): a lookup built a GVariant
 * for every member before it. */
static const char *
entry_string (GVariant *entry, const char *key)
{
  SmSavedVardictIter iter;
  SmSavedVardictEntry member;
  gboolean bad = TRUE;
  const char *value = "";

  if (g_variant_is_normal_form (entry)
      && sm_saved_vardict_iter_init (&iter, g_variant_get_data (entry), g_variant_get_size (entry)))
    while (sm_saved_vardict_iter_next (&iter, &member, &bad))
      if (strcmp (member.key, key) == 0)
        return member.type_length == 1 && member.type[0] == 's' && member.value_size > 0
                   ? (const char *) member.value
                   : "";
  if (bad)
    g_variant_lookup (entry, key, "&s", &value);
  return value;
}

/* Hands one entry to its model, which checks it as the API checks a call
 * (or has checked it already: prepared while decoding). */
static gboolean
restore_entry (SmStore *self, SmStoreSection *section, SmStorePending *pending, GError **error)
{
  GVariant *entry = pending->entry;
  SmStoreAttachment *attachment;
  g_autofree char *disk_id = NULL;
  const char *model_id = "";
  gboolean restored;

  if (pending->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&pending->error));
      return FALSE;
    }
  attachment = find_model (self, section, entry, error);
  if (attachment == NULL)
    return FALSE;
  if (pending->prepared != NULL)
    restored = sm_storable_restore_prepared (attachment->model,
                                             g_steal_pointer (&pending->prepared), error);
  else
    restored = sm_storable_restore (attachment->model, entry, error);
  if (!restored)
    return FALSE;
  /* The model knows it by the id inside, whatever the file's key. */
  if (section->id_key != NULL)
    model_id = entry_string (entry, section->id_key);
  disk_id = sm_store_attachment_disk_id (attachment, model_id);
  sm_store_section_note (section, attachment, model_id, disk_id, TRUE);
  return TRUE;
}

/* Restores the pending entries of @section; returns the refused ones as
 * the section's member of the set-aside file, or NULL. */
static GString *
restore_section (SmStore *self, SmStoreSection *section, SmStoreDecoder *decoder)
{
  g_autoptr (GString) text = g_string_new (NULL);
  GString *member;
  GHashTableIter iter;
  gpointer disk_id, pending;

  g_hash_table_iter_init (&iter, section->pending);
  while (g_hash_table_iter_next (&iter, &disk_id, &pending))
    {
      GVariant *entry = sm_store_decoder_take (decoder, pending);
      g_autoptr (GError) error = NULL;

      if (restore_entry (self, section, pending, &error))
        continue;
      g_warning ("Dropping %s entry \"%s\" from the saved state: %s", section->name,
                 (const char *) disk_id, error->message);
      reject_entry (self, text, section, disk_id, entry);
    }
  g_ptr_array_add (self->read_back, sm_store_section_take_pending (section));
  if (text->len == 0)
    return NULL;
  member = g_string_new (",\n");
  sm_store_append_json_string (member, section->name);
  g_string_append_c (member, ':');
  if (!sm_store_section_is_single (section))
    g_string_append_printf (member, "{%s}", text->str);
  else
    g_string_append_len (member, text->str, (gssize) text->len);
  return member;
}

static gboolean
free_read_back_idle (gpointer data)
{
  SmStore *self = data;

  self->read_back_id = 0;
  g_clear_pointer (&self->read_back, g_ptr_array_unref);
  return G_SOURCE_REMOVE;
}

/* Hands every pending entry to its model; an entry the model refuses is
 * dropped (the next snapshot forgets it), said so and set aside. What was
 * read is freed after the calls that waited for the load are answered:
 * freeing 10 000 entries took a tenth of loading them. */
void
sm_store_restore_pending (SmStore *self)
{
  g_autoptr (GString) rejected = NULL;
  SmStoreDecoder *decoder = sm_store_decoder_start (self);

  if (self->read_back == NULL)
    self->read_back = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  if (self->read_back_id == 0)
    self->read_back_id = g_idle_add_full (G_PRIORITY_LOW, free_read_back_idle, self, NULL);
  self->loading = TRUE;
  for (guint i = 0; i < self->sections->len; i++)
    {
      g_autoptr (GString) member = restore_section (self, self->sections->pdata[i], decoder);

      if (member == NULL)
        continue;
      if (rejected == NULL)
        rejected = g_string_new ("{\"version\":" G_STRINGIFY (SM_STORE_VERSION));
      g_string_append_len (rejected, member->str, (gssize) member->len);
    }
  self->loading = FALSE;
  sm_store_decoder_finish (decoder);
  if (rejected != NULL && self->dir != NULL)
    set_aside_rejected (self, rejected);
}
