/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include "sm-store-codec.h"

#include <string.h>

/* Reads a snapshot as this daemon writes it without a JSON parser: its
 * tree of nodes for 10 000 entries was a third of reading the state. Only
 * a strict part of JSON is taken: the "version" first, members whose
 * names and strings are printable ASCII without escapes, each known
 * section once. Anything else, and an entry that does not decode, makes
 * sm_store_scan_snapshot() give up, and json-glib reads the whole file
 * again, with its errors: what a snapshot loads to never depends on which
 * reader read it. */

/* Below this many entries a helper thread costs more than it saves. */
#define SM_SCAN_THREAD_MIN_ENTRIES 512

typedef struct
{
  const char *p, *end;
} Scan;

static void
skip_space (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
}

/* @text next, after any white space. */
static gboolean
eat (Scan *s, const char *text)
{
  gsize n = strlen (text);

  skip_space (s);
  if ((gsize) (s->end - s->p) < n || memcmp (s->p, text, n) != 0)
    return FALSE;
  s->p += n;
  return TRUE;
}

/* A string of printable ASCII without escapes: its text, not terminated. */
static gboolean
plain_string (Scan *s, const char **text, gsize *length)
{
  const char *q;

  skip_space (s);
  if (s->p >= s->end || *s->p != '"')
    return FALSE;
  for (q = s->p + 1; q < s->end && *q != '"'; q++)
    if (*q < 0x20 || *q > 0x7e || *q == '\\')
      return FALSE;
  if (q >= s->end)
    return FALSE;
  *text = s->p + 1;
  *length = (gsize) (q - s->p - 1);
  s->p = q + 1;
  return TRUE;
}

/* A section's value: null, "<entry>" (a single-entry section) or
 * {"<id>": "<entry>", ...}; @section NULL (unknown) reads and drops it. */
static gboolean
scan_value (Scan *s, SmStoreSection *section)
{
  const char *id, *text;
  gsize id_length, length;

  if (eat (s, "null"))
    return TRUE;
  if (section == NULL || sm_store_section_is_single (section))
    {
      if (plain_string (s, &text, &length))
        return section == NULL || sm_store_keep_text (section, "", 0, text, length, NULL);
      if (section != NULL)
        return FALSE;
    }
  if (!eat (s, "{"))
    return FALSE;
  if (eat (s, "}"))
    return TRUE;
  do
    {
      if (!plain_string (s, &id, &id_length) || !eat (s, ":") || !plain_string (s, &text, &length))
        return FALSE;
      if (section != NULL && !sm_store_keep_text (section, id, id_length, text, length, NULL))
        return FALSE;
    }
  while (eat (s, ","));
  return eat (s, "}");
}

/* The known section named by @name (@length bytes) and its index, else
 * NULL. */
static SmStoreSection *
find_section (SmStore *self, const char *name, gsize length, guint *index)
{
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];

      if (strlen (section->name) == length && memcmp (section->name, name, length) == 0)
        {
          *index = i;
          return section;
        }
    }
  return NULL;
}

/* {"version": <1 to SM_STORE_VERSION>, "<section>": <value>, ...} into the
 * pending entries; FALSE when the text is not of that form (the pending
 * entries then hold part of it: the caller clears them). */
gboolean
sm_store_scan_snapshot (SmStore *self, const char *data, gsize length)
{
  g_autofree gboolean *seen = g_new0 (gboolean, self->sections->len + 1);
  Scan s = { data, data + length };
  guint version = 0;

  if (!eat (&s, "{") || !eat (&s, "\"version\"") || !eat (&s, ":"))
    return FALSE;
  skip_space (&s);
  if (s.p >= s.end || *s.p < '1' || *s.p > '9')
    return FALSE;
  for (; s.p < s.end && g_ascii_isdigit (*s.p) && version <= SM_STORE_VERSION; s.p++)
    version = version * 10 + (guint) (*s.p - '0');
  if (version > SM_STORE_VERSION)
    return FALSE;
  while (eat (&s, ","))
    {
      SmStoreSection *section;
      const char *name;
      gsize name_length;
      guint index = 0;

      if (!plain_string (&s, &name, &name_length) || !eat (&s, ":")
          || (name_length == strlen ("version") && memcmp (name, "version", name_length) == 0))
        return FALSE;
      section = find_section (self, name, name_length, &index);
      if (section != NULL && seen[index])
        return FALSE;
      if (section != NULL)
        seen[index] = TRUE;
      if (!scan_value (&s, section))
        return FALSE;
    }
  if (!eat (&s, "}"))
    return FALSE;
  skip_space (&s);
  return s.p == s.end;
}

/* Keeps @text (@length bytes), the entry of @id (@id_length bytes) in
 * @section, replacing any earlier one: binary text as it is, to decode
 * once every file is read (it always decodes), any other decoded now,
 * which may fail. */
gboolean
sm_store_keep_text (SmStoreSection *section,
                    const char *id,
                    gsize id_length,
                    const char *text,
                    gsize length,
                    GError **error)
{
  g_autofree char *copy = g_strndup (text, length);
  SmStorePending *pending = g_new0 (SmStorePending, 1);

  if (g_str_has_prefix (copy, SM_BINARY_PREFIX))
    pending->text = g_steal_pointer (&copy);
  else if ((pending->entry = sm_store_entry_from_text (copy, error)) == NULL)
    {
      g_free (pending);
      return FALSE;
    }
  g_hash_table_replace (section->pending, g_strndup (id, id_length), pending);
  return TRUE;
}

/* The entries still to decode, in the order sm_store_restore_pending()
 * takes them, in a pipeline of two threads: the main thread first turns
 * every text into bytes (base64, the normal-form check), a helper thread
 * follows it making each entry and preparing it, and the main thread
 * restores behind the helper. The helper alone makes GVariants: GLib
 * takes a global lock for every container type it meets, and with two
 * threads making entries at once (each claiming the next free one) each
 * went at half speed. */
struct _SmStoreDecoder
{
  GPtrArray *todo; /* (owned) SmStorePending, unowned */
  gint decoded;    /* todo[0 .. decoded) have their bytes */
  gint made;       /* todo[0 .. made) are entries, prepared */
  GThread *thread; /* (owned) (nullable) */
};

/* The bytes of @pending's text. */
static void
decode_bytes (SmStorePending *pending)
{
  /* Binary text: never NULL. */
  pending->data = sm_store_binary_decode (pending->text, &pending->length, &pending->normal);
  g_clear_pointer (&pending->text, g_free);
}

/* Makes @pending's entry of its bytes and, where its model can, prepares
 * it too: most of restoring an entry. */
static void
make_entry (SmStorePending *pending)
{
  pending->entry = sm_store_entry_from_binary (g_steal_pointer (&pending->data), pending->length,
                                               pending->normal);
  if (pending->model != NULL)
    pending->prepared = sm_storable_prepare (pending->model, pending->entry, &pending->error);
}

static gpointer
make_entries (gpointer data)
{
  SmStoreDecoder *decoder = data;

  for (guint i = 0; i < decoder->todo->len; i++)
    {
      while ((guint) g_atomic_int_get (&decoder->decoded) <= i)
        g_thread_yield ();
      make_entry (decoder->todo->pdata[i]);
      g_atomic_int_set (&decoder->made, (gint) i + 1);
    }
  return NULL;
}

/* Starts decoding the entries kept as text: with many, a helper thread
 * makes the entries while this one decodes the bytes of the next ones
 * (see SmStoreDecoder). */
SmStoreDecoder *
sm_store_decoder_start (SmStore *self)
{
  SmStoreDecoder *decoder = g_new0 (SmStoreDecoder, 1);

  decoder->todo = g_ptr_array_new ();
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];
      /* A per-user section's model is known once the entry is made. */
      SmStoreAttachment *single = section->per_user ? NULL : sm_store_section_lookup (section, 0);
      GHashTableIter iter;
      gpointer pending;

      g_hash_table_iter_init (&iter, section->pending);
      while (g_hash_table_iter_next (&iter, NULL, &pending))
        if (((SmStorePending *) pending)->text != NULL)
          {
            ((SmStorePending *) pending)->queued = TRUE;
            ((SmStorePending *) pending)->index = decoder->todo->len;
            ((SmStorePending *) pending)->model = single != NULL ? single->model : NULL;
            g_ptr_array_add (decoder->todo, pending);
          }
    }
  if (decoder->todo->len >= SM_SCAN_THREAD_MIN_ENTRIES)
    decoder->thread = g_thread_try_new ("sm-store-load", make_entries, decoder, NULL);
  if (decoder->thread == NULL)
    return decoder;
  for (guint i = 0; i < decoder->todo->len; i++)
    {
      decode_bytes (decoder->todo->pdata[i]);
      g_atomic_int_set (&decoder->decoded, (gint) i + 1);
    }
  return decoder;
}

/* @pending's entry: made here without a helper, else when the helper has
 * made it. */
GVariant *
sm_store_decoder_take (SmStoreDecoder *decoder, SmStorePending *pending)
{
  /* Not queued: decoded when read. */
  if (!pending->queued)
    return pending->entry;
  if (decoder->thread == NULL)
    {
      decode_bytes (pending);
      make_entry (pending);
    }
  else
    while ((guint) g_atomic_int_get (&decoder->made) <= pending->index)
      g_thread_yield ();
  return pending->entry;
}

void
sm_store_decoder_finish (SmStoreDecoder *decoder)
{
  if (decoder->thread != NULL)
    g_thread_join (decoder->thread);
  g_ptr_array_unref (decoder->todo);
  g_free (decoder);
}
