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

  if (text == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "\"%s\" is not a string",
                   section->name);
      return FALSE;
    }
  if (!sm_store_keep_text (section, "", 0, text, strlen (text), error))
    {
      g_prefix_error (error, "\"%s\": ", section->name);
      return FALSE;
    }
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

      if (text == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "\"%s\" entry \"%s\" is not a string", section->name,
                       (const char *) l->data);
          return FALSE;
        }
      if (!sm_store_keep_text (section, l->data, strlen (l->data), text, strlen (text), error))
        {
          g_prefix_error (error, "\"%s\" entry \"%s\": ", section->name, (const char *) l->data);
          return FALSE;
        }
    }
  return TRUE;
}

/* Parses @data, which must be a JSON object, else @not_object. */
static JsonObject *
parse_object (JsonParser *parser,
              const char *data,
              gsize length,
              const char *not_object,
              GError **error)
{
  if (!sm_store_check_nesting (data, length, SM_JSON_MAX_DEPTH, error)
      || !json_parser_load_from_data (parser, data, (gssize) length, error))
    return NULL;
  /* Blank text parses fine, to no root at all. */
  if (json_parser_get_root (parser) == NULL
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s", not_object);
      return NULL;
    }
  return json_node_get_object (json_parser_get_root (parser));
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
  if (sm_store_scan_snapshot (self, data, length))
    return TRUE;
  clear_pending (self);
  root = parse_object (parser, data, length, "the top level is not an object", error);
  if (root == NULL || !check_version (root, error))
    return FALSE;

  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];
      JsonNode *node = json_object_get_member (root, section->name);

      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (sm_store_section_is_single (section) ? !parse_single_entry (section, node, error)
                                               : !parse_entries (section, node, error))
        return FALSE;
    }
  return TRUE;
}

/* A journal record's change: the entry @text (NULL: gone) of @id in the
 * section @section_name. */
static gboolean
apply_record (SmStore *self,
              const char *section_name,
              const char *id,
              const char *text,
              GError **error)
{
  SmStoreSection *section = sm_store_find_section (self, section_name);

  /* A section this daemon does not know came from a newer one: skip it. */
  if (section == NULL)
    return TRUE;
  if (sm_store_section_is_single (section))
    id = "";
  if (text == NULL)
    {
      g_hash_table_remove (section->pending, id);
      return TRUE;
    }
  return sm_store_keep_text (section, id, strlen (id), text, strlen (text), error);
}

/* A JSON string at @p of printable ASCII without escapes: its closing
 * quote, else NULL. */
static char *
plain_string_end (char *p)
{
  if (*p != '"')
    return NULL;
  for (p++; *p != '"'; p++)
    if (*p < 0x20 || *p > 0x7e || *p == '\\')
      return NULL;
  return p;
}

/* A record exactly as this daemon writes it, with plain strings:
 * {"section":"<s>","id":"<s>","entry":"<s>" or null}. Its strings are
 * split out in place (@json is changed only on success), without a JSON
 * parser: one per line was most of replaying a journal. Anything else
 * (spaces, escapes, other members or order) goes to json-glib. */
static gboolean
split_plain_record (char *json, char **strings)
{
  static const char *const prefixes[] = { "{\"section\":", ",\"id\":", ",\"entry\":" };
  char *ends[3] = { NULL, NULL, NULL };
  char *p = json;

  for (guint i = 0; i < 3; i++)
    {
      gsize n = strlen (prefixes[i]);

      if (strncmp (p, prefixes[i], n) != 0)
        return FALSE;
      p += n;
      if (i == 2 && strncmp (p, "null", 4) == 0)
        {
          strings[i] = NULL;
          p += 4;
          break;
        }
      ends[i] = plain_string_end (p);
      if (ends[i] == NULL)
        return FALSE;
      strings[i] = p + 1;
      p = ends[i] + 1;
    }
  if (strcmp (p, "}") != 0)
    return FALSE;
  for (guint i = 0; i < 3; i++)
    if (ends[i] != NULL)
      *ends[i] = '\0';
  return TRUE;
}

/* One journal line: {"section": s, "id": s, "entry": s or null (gone)}. */
static gboolean
replay_line (SmStore *self, JsonParser *parser, char *line, GError **error)
{
  JsonObject *object;
  JsonNode *section_node, *id_node, *entry_node;
  char *strings[3];

  if (split_plain_record (line, strings))
    return apply_record (self, strings[0], strings[1], strings[2], error);
  object = parse_object (parser, line, strlen (line), "not an object", error);
  if (object == NULL)
    return FALSE;
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
  return apply_record (self, json_node_get_string (section_node), json_node_get_string (id_node),
                       JSON_NODE_HOLDS_NULL (entry_node) ? NULL : json_node_get_string (entry_node),
                       error);
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
               && replay_line (self, parser, line + (json - line), &error))
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
  sm_store_restore_pending (self);
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
  sm_store_restore_pending (self);
  g_debug ("Read the state in %" G_GINT64_FORMAT " ms, restored it in %" G_GINT64_FORMAT " ms",
           (parsed - start) / 1000, (g_get_monotonic_time () - parsed) / 1000);

  if (!sm_store_journal_open (self, &error))
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
