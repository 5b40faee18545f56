/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-store"

#include "sm-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens one of the store's files, refusing anything but a regular file:
 * never through a symbolic link (O_NOFOLLOW), never blocking on a FIFO
 * (O_NONBLOCK), checked with fstat(2). G_IO_ERROR_NOT_FOUND when absent,
 * G_IO_ERROR_NOT_REGULAR_FILE for a link, FIFO, directory or device. */
int
sm_store_open_regular (const char *path, int flags, GError **error)
{
  struct stat st;
  int fd = g_open (path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);

  if (fd < 0)
    {
      int saved_errno = errno;

      /* ELOOP: a symbolic link; ENXIO: a FIFO nobody reads, opened for
       * writing; EISDIR: a directory opened for writing. */
      if (saved_errno == ELOOP || saved_errno == ENXIO || saved_errno == EISDIR)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: is not a regular file",
                     path);
      else
        sm_store_set_errno_error (error, saved_errno, path);
      return -1;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, "%s: is not a regular file",
                   path);
      return -1;
    }
  return fd;
}

/* g_file_get_contents() for the store's files only: see
 * sm_store_open_regular(). */
gboolean
sm_store_read_file (const char *path, char **contents, gsize *length, GError **error)
{
  g_autoptr (GByteArray) data = NULL;
  struct stat st;
  int fd = sm_store_open_regular (path, O_RDONLY, error);

  if (fd < 0)
    return FALSE;
  data = g_byte_array_sized_new (
      fstat (fd, &st) == 0 ? (guint) MIN (st.st_size + 1, G_MAXUINT32 / 2) : 4096);
  for (;;)
    {
      guint8 buffer[65536];
      gssize n = read (fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          sm_store_set_errno_error (error, errno, path);
          close (fd);
          return FALSE;
        }
      if (n == 0)
        break;
      g_byte_array_append (data, buffer, (guint) n);
    }
  close (fd);
  *length = data->len;
  g_byte_array_append (data, (const guint8 *) "", 1);
  *contents = (char *) g_byte_array_free (g_steal_pointer (&data), FALSE);
  return TRUE;
}

static SmStoreSection *
find_section (SmStore *self, const char *name)
{
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];

      if (strcmp (section->name, name) == 0)
        return section;
    }
  return NULL;
}

static void
clear_pending (SmStore *self)
{
  for (guint i = 0; i < self->sections->len; i++)
    g_hash_table_remove_all (((SmStoreSection *) self->sections->pdata[i])->pending);
}

/* The snapshot's "version": a positive integer this daemon can read. */
static gboolean
check_version (JsonObject *root, GError **error)
{
  JsonNode *version = json_object_get_member (root, "version");

  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version)
      || json_node_get_value_type (version) != G_TYPE_INT64 || json_node_get_int (version) < 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "\"version\" is missing or not a positive integer");
      return FALSE;
    }
  if (json_node_get_int (version) > SM_STORE_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "it is of version %" G_GINT64_FORMAT ", this daemon reads up to %d",
                   json_node_get_int (version), SM_STORE_VERSION);
      return FALSE;
    }
  return TRUE;
}

/* A single-entry section: "<entry>". */
static gboolean
parse_single_entry (SmStoreSection *section, JsonNode *node, GError **error)
{
  const char *text = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_string (node) : NULL;
  GVariant *entry;

  if (text == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"%s\" is not a string",
                   section->name);
      return FALSE;
    }
  entry = sm_store_entry_from_text (text, error);
  if (entry == NULL)
    {
      g_prefix_error (error, "\"%s\": ", section->name);
      return FALSE;
    }
  g_hash_table_replace (section->pending, g_strdup (""), entry);
  return TRUE;
}

/* A section of entries: {"<id>": "<entry>", ...}. */
static gboolean
parse_entries (SmStoreSection *section, JsonNode *node, GError **error)
{
  g_autoptr (GList) members = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"%s\" is not an object",
                   section->name);
      return FALSE;
    }
  members = json_object_get_members (json_node_get_object (node));
  for (GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *member = json_object_get_member (json_node_get_object (node), l->data);
      const char *text = JSON_NODE_HOLDS_VALUE (member) ? json_node_get_string (member) : NULL;
      GVariant *entry;

      if (text == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "\"%s\" entry \"%s\" is not a string", section->name,
                       (const char *) l->data);
          return FALSE;
        }
      entry = sm_store_entry_from_text (text, error);
      if (entry == NULL)
        {
          g_prefix_error (error, "\"%s\" entry \"%s\": ", section->name, (const char *) l->data);
          return FALSE;
        }
      g_hash_table_replace (section->pending, g_strdup (l->data), entry);
    }
  return TRUE;
}

/* Snapshot: {"version": 1, "<section>": {"<id>": "<entry>", ...} or
 * "<entry>" for a single-entry section}. Unknown members are ignored. */
static gboolean
parse_snapshot (SmStore *self, const char *data, gsize length, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *root;

  if (length == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the file is empty");
      return FALSE;
    }
  if (!sm_store_check_nesting (data, length, SM_JSON_MAX_DEPTH, error)
      || !json_parser_load_from_data (parser, data, (gssize) length, error))
    return FALSE;
  /* Blank text parses fine, to no root at all. */
  if (json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the top level is not an object");
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (!check_version (root, error))
    return FALSE;

  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];
      JsonNode *node = json_object_get_member (root, section->name);

      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (section->id_key == NULL ? !parse_single_entry (section, node, error)
                                  : !parse_entries (section, node, error))
        return FALSE;
    }
  return TRUE;
}

/* One journal line: {"section": s, "id": s, "entry": s or null (gone)}. */
static gboolean
replay_line (SmStore *self, JsonParser *parser, const char *line, GError **error)
{
  JsonObject *object;
  JsonNode *section_node, *id_node, *entry_node;
  SmStoreSection *section;
  const char *id;

  if (!sm_store_check_nesting (line, strlen (line), SM_JSON_MAX_DEPTH, error)
      || !json_parser_load_from_data (parser, line, -1, error))
    return FALSE;
  /* Blank text parses fine, to no root at all. */
  if (json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an object");
      return FALSE;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  section_node = json_object_get_member (object, "section");
  id_node = json_object_get_member (object, "id");
  entry_node = json_object_get_member (object, "entry");
  if (section_node == NULL || json_node_get_value_type (section_node) != G_TYPE_STRING
      || id_node == NULL || json_node_get_value_type (id_node) != G_TYPE_STRING
      || entry_node == NULL
      || (!JSON_NODE_HOLDS_NULL (entry_node)
          && json_node_get_value_type (entry_node) != G_TYPE_STRING))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "\"section\" (string), \"id\" (string) and \"entry\" (string or null) "
                   "are required");
      return FALSE;
    }

  /* A section this daemon does not know came from a newer one: skip it. */
  section = find_section (self, json_node_get_string (section_node));
  if (section == NULL)
    return TRUE;
  id = section->id_key != NULL ? json_node_get_string (id_node) : "";
  if (JSON_NODE_HOLDS_NULL (entry_node))
    g_hash_table_remove (section->pending, id);
  else
    {
      GVariant *entry = sm_store_entry_from_text (json_node_get_string (entry_node), error);

      if (entry == NULL)
        return FALSE;
      g_hash_table_replace (section->pending, g_strdup (id), entry);
    }
  return TRUE;
}

/* rename(2) that never replaces @to. */
static int
rename_noreplace (const char *from, const char *to)
{
  GStatBuf st;

  if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return -1;
  /* A file system without RENAME_NOREPLACE: only this daemon names files
   * in its directory, so a look first is enough. */
  if (g_lstat (to, &st) == 0)
    {
      errno = EEXIST;
      return -1;
    }
  return g_rename (from, to);
}

/* Moves @path (whatever it is: a symbolic link is moved, not followed) to
 * "@path.corrupt-<time>", with "-2", "-3"... added when that name is
 * taken: two set aside in the same second keep both. */
static char *
move_aside (const char *path)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");

  for (guint n = 1; n < 1000; n++)
    {
      g_autofree char *aside = n == 1 ? g_strdup_printf ("%s.corrupt-%s", path, stamp)
                                      : g_strdup_printf ("%s.corrupt-%s-%u", path, stamp, n);

      if (rename_noreplace (path, aside) == 0)
        return g_steal_pointer (&aside);
      if (errno != EEXIST)
        {
          g_warning ("Cannot move %s aside to %s: %s", path, aside, g_strerror (errno));
          return NULL;
        }
    }
  g_warning ("Cannot move %s aside: too many set aside in one second", path);
  return NULL;
}

/* Replays one journal file over the pending entries; returns its changes.
 * Each record is checked on its own (sm_store_unframe_record()): a damaged
 * one is skipped and said so, and every intact record after it is still
 * replayed. A torn last record is a write that kill -9 or a power cut cut
 * short: its call was never answered (it had not been synced), so nothing
 * acknowledged is lost by dropping it. */
static guint
replay_journal (SmStore *self, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *data = NULL;
  gsize length;
  guint n_lines = 0, n_damaged = 0, number = 0;
  char *line, *end;

  if (!sm_store_read_file (path, &data, &length, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE))
        {
          g_autofree char *aside = move_aside (path);

          g_warning ("%s is not a regular file; moved it aside to %s", path,
                     aside != NULL ? aside : "(nowhere)");
        }
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_warning ("Cannot read %s: %s", path, error->message);
      return 0;
    }

  for (line = data; line < data + length; line = end + 1)
    {
      gboolean last;
      const char *json;

      number++;
      end = memchr (line, '\n', (gsize) (data + length - line));
      last = end == NULL;
      if (last)
        end = data + length;
      *end = '\0';
      if (line[0] == '\0' && end == line)
        continue;
      g_clear_error (&error);
      /* NUL bytes (blocks a power cut left zeroed) make a record damaged. */
      if (memchr (line, '\0', (gsize) (end - line)) != NULL)
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "it holds NUL bytes");
      else if ((json = sm_store_unframe_record (line, (gsize) (end - line), &error)) != NULL
               && replay_line (self, parser, json, &error))
        {
          n_lines++;
          continue;
        }
      if (last)
        g_message ("%s: dropping an unfinished last change (%s)", path, error->message);
      else
        {
          n_damaged++;
          g_warning ("%s: record %u is damaged (%s); skipped it, the records after it are read",
                     path, number, error->message);
        }
    }
  if (n_damaged > 0)
    g_warning ("%s: skipped %u damaged records, replayed %u", path, n_damaged, n_lines);
  return n_lines;
}

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
              const char *id,
              GVariant *entry)
{
  if (section->id_key != NULL)
    {
      g_string_append (text, text->len > 0 ? ",\n" : "\n");
      sm_store_append_json_string (text, id);
      g_string_append_c (text, ':');
    }
  sm_store_append_entry (text, entry, self->scratch);
}

/* Hands every pending entry to its model, which checks it as the API
 * checks a call; an entry the model refuses is dropped (the next snapshot
 * forgets it), said so and set aside. */
static void
restore_pending (SmStore *self)
{
  g_autoptr (GString) rejected = NULL;
  g_autoptr (GString) text = g_string_new (NULL);

  self->loading = TRUE;
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];
      GHashTableIter iter;
      gpointer id, entry;

      g_string_truncate (text, 0);
      g_hash_table_iter_init (&iter, section->pending);
      while (g_hash_table_iter_next (&iter, &id, &entry))
        {
          g_autoptr (GError) error = NULL;
          const char *model_id = "";

          if (!section->restore (section->model, entry, &error))
            {
              g_warning ("Dropping %s entry \"%s\" from the saved state: %s", section->name,
                         (const char *) id, error->message);
              reject_entry (self, text, section, id, entry);
              continue;
            }
          /* The model knows it by the id inside, whatever the file's key. */
          if (section->id_key != NULL)
            g_variant_lookup (entry, section->id_key, "&s", &model_id);
          g_hash_table_add (section->ids, g_ref_string_new (model_id));
        }
      g_hash_table_remove_all (section->pending);
      if (text->len == 0)
        continue;
      if (rejected == NULL)
        rejected = g_string_new ("{\"version\":" G_STRINGIFY (SM_STORE_VERSION));
      g_string_append (rejected, ",\n");
      sm_store_append_json_string (rejected, section->name);
      g_string_append_c (rejected, ':');
      if (section->id_key != NULL)
        g_string_append_printf (rejected, "{%s}", text->str);
      else
        g_string_append_len (rejected, text->str, (gssize) text->len);
    }
  self->loading = FALSE;
  if (rejected != NULL && self->dir != NULL)
    set_aside_rejected (self, rejected);
}

/* Restores from snapshot text alone (unit tests, the fuzzer): all or
 * nothing, as a daemon start is. */
gboolean
sm_store_load_data (SmStore *self, const char *data, gsize length, GError **error)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  if (!parse_snapshot (self, data, length, error))
    {
      clear_pending (self);
      return FALSE;
    }
  restore_pending (self);
  return TRUE;
}

/* An unusable snapshot is moved aside, and the journals with it: they only
 * make sense on top of their snapshot. */
static void
set_aside_state (SmStore *self, const GError *error)
{
  g_autofree char *aside = move_aside (self->path);

  g_warning ("The state file %s is unusable (%s); moved it aside to %s, starting empty", self->path,
             error->message, aside != NULL ? aside : "(nowhere)");
  clear_pending (self);
  for (const char *const *p =
           (const char *const[]){ self->old_journal_path, self->journal_path, NULL };
       *p != NULL; p++)
    if (g_lstat (*p, &(GStatBuf){ 0 }) == 0)
      {
        g_autofree char *journal_aside = move_aside (*p);

        g_message ("Moved the journal %s aside to %s", *p,
                   journal_aside != NULL ? journal_aside : "(nowhere)");
      }
}

/* The snapshot, then the journal a compaction was folding into it when
 * the daemon stopped (if any), then the current one, into the pending
 * entries. Replaying changes the snapshot already holds changes nothing:
 * each line is an entry's whole state. Returns the snapshot's size. */
static gsize
read_state (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;

  if (!sm_store_read_file (self->path, &data, &length, &error))
    {
      /* A link or a FIFO in its place is set aside as a corrupt file is. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE))
        {
          set_aside_state (self, error);
          return 0;
        }
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_warning ("Cannot read %s: %s; starting empty", self->path, error->message);
      replay_journal (self, self->old_journal_path);
      replay_journal (self, self->journal_path);
    }
  else if (!parse_snapshot (self, data, length, &error))
    set_aside_state (self, error);
  else
    {
      replay_journal (self, self->old_journal_path);
      replay_journal (self, self->journal_path);
    }
  return length;
}

/* Temporary snapshots a kill -9 left behind: "state.json.tmp-XXXXXX" (and
 * "state.json.XXXXXX", from g_file_set_contents() in older versions). */
static gboolean
is_leftover_snapshot (const char *name, const char *snapshot_name)
{
  g_autofree char *tmp_prefix = g_strconcat (snapshot_name, SM_SNAPSHOT_TMP_INFIX, NULL);
  g_autofree char *old_prefix = g_strconcat (snapshot_name, ".", NULL);
  const char *rest;
  gsize n;

  if (g_str_has_prefix (name, tmp_prefix))
    rest = name + strlen (tmp_prefix);
  else if (g_str_has_prefix (name, old_prefix))
    rest = name + strlen (old_prefix);
  else
    return FALSE;
  n = strlen (rest);
  if (n != 6)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (rest[i]))
      return FALSE;
  return TRUE;
}

static void
remove_leftovers (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) dir = g_dir_open (self->dir, 0, &error);
  g_autofree char *snapshot_name = g_path_get_basename (self->path);
  const char *name;

  if (dir == NULL)
    {
      g_warning ("Cannot list %s: %s", self->dir, error->message);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      GStatBuf st;

      if (!is_leftover_snapshot (name, snapshot_name))
        continue;
      path = g_build_filename (self->dir, name, NULL);
      if (g_lstat (path, &st) < 0 || !S_ISREG (st.st_mode))
        continue;
      if (g_unlink (path) < 0)
        g_warning ("Cannot remove the unfinished snapshot %s: %s", path, g_strerror (errno));
      else
        g_message ("Removed the unfinished snapshot %s", path);
    }
}

/* Reads the snapshot and the journals, restores every section and starts
 * folding the journals into a fresh snapshot. Never fails: a file it cannot
 * use is moved aside and reported; a directory it cannot write is reported,
 * the daemon serves what it holds and refuses changes with StorageFailed
 * (each change tries the directory again) rather than run memory-only and
 * acknowledge what a restart would lose. */
void
sm_store_load (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time (), parsed;

  g_return_if_fail (SM_IS_STORE (self));

  if (self->dir == NULL)
    return;

  if (g_mkdir_with_parents (self->dir, S_IRWXU) < 0)
    {
      g_warning ("Cannot create the state directory %s: %s; changes are refused "
                 "(StorageFailed) until it can be written, reads and monitoring go on",
                 self->dir, g_strerror (errno));
      return;
    }

  remove_leftovers (self);
  self->snapshot_size = read_state (self);

  parsed = g_get_monotonic_time ();
  restore_pending (self);
  g_debug ("Read the state in %" G_GINT64_FORMAT " ms, restored it in %" G_GINT64_FORMAT " ms",
           (parsed - start) / 1000, (g_get_monotonic_time () - parsed) / 1000);

  if (!sm_store_open_journal (self, &error))
    {
      g_warning ("Cannot write the state to %s: %s; changes are refused (StorageFailed) "
                 "until it can be written, reads and monitoring go on",
                 self->dir, error->message);
      return;
    }
  /* The journal just created, the files set aside and removed are on
   * disk before any change is answered. */
  if (!sm_store_sync_dir (self->dir, &error))
    g_warning ("Cannot sync the state directory: %s", error->message);
  sm_store_compact_start (self);
}
