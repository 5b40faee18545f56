#define G_LOG_DOMAIN "sm-store"

#include "sm-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define SM_STATE_FILE "state.json"
#define SM_JOURNAL_FILE "state.journal"
/* The journal is folded into a snapshot once it holds this many changes or
 * twice the entries of the last snapshot, whichever is more: each change
 * then costs O(1) amortized, however many entries there are. */
#define SM_JOURNAL_MIN_COMPACT 1000
/* Bounds the recursion of the parsers on a hostile file. JSON needs 3
 * levels here; GVariant text at most GLib's own limit for variants. */
#define SM_JSON_MAX_DEPTH 16
#define SM_VARIANT_MAX_DEPTH 128

typedef struct
{
  SmStore *store; /* (unowned) */
  char *name;
  GObject *model; /* (owned) */
  char *id_key;   /* (nullable): NULL for a single-entry section */
  SmStoreListFunc list;
  SmStoreGetFunc get;
  SmStoreRestoreFunc restore;
  gulong changed_id;
  GHashTable *pending; /* (owned) id → (owned) GVariant entry, while loading */
} SmStoreSection;

struct _SmStore
{
  GObject parent_instance;

  char *dir;           /* (nullable): NULL keeps everything in memory */
  char *path;          /* (nullable) the snapshot */
  char *journal_path;  /* (nullable) */
  GPtrArray *sections; /* (owned) SmStoreSection */

  int journal_fd;
  gboolean loading;
  gboolean write_failed; /* logged once until a write succeeds again */
  guint journal_lines;
  guint snapshot_entries;
  guint compact_id;
};

G_DEFINE_TYPE (SmStore, sm_store, G_TYPE_OBJECT)

static void
sm_store_section_free (SmStoreSection *section)
{
  g_clear_signal_handler (&section->changed_id, section->model);
  g_clear_object (&section->model);
  g_clear_pointer (&section->pending, g_hash_table_unref);
  g_free (section->name);
  g_free (section->id_key);
  g_free (section);
}

static void
sm_store_finalize (GObject *object)
{
  SmStore *self = SM_STORE (object);

  g_clear_handle_id (&self->compact_id, g_source_remove);
  g_clear_pointer (&self->sections, g_ptr_array_unref);
  if (self->journal_fd >= 0)
    close (self->journal_fd);
  g_free (self->dir);
  g_free (self->path);
  g_free (self->journal_path);

  G_OBJECT_CLASS (sm_store_parent_class)->finalize (object);
}

static void
sm_store_class_init (SmStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = sm_store_finalize;
}

static void
sm_store_init (SmStore *self)
{
  self->sections = g_ptr_array_new_with_free_func ((GDestroyNotify) sm_store_section_free);
  self->journal_fd = -1;
}

/* @dir NULL: nothing is read or written (the daemon's --no-persist). */
SmStore *
sm_store_new (const char *dir)
{
  SmStore *self = g_object_new (SM_TYPE_STORE, NULL);

  if (dir != NULL)
    {
      self->dir = g_strdup (dir);
      self->path = g_build_filename (dir, SM_STATE_FILE, NULL);
      self->journal_path = g_build_filename (dir, SM_JOURNAL_FILE, NULL);
    }
  return self;
}

/* Text outside quotes nests at most @max_depth deep: checked before a
 * recursive parser sees the data. */
static gboolean
check_nesting (const char *data, gsize length, guint max_depth, GError **error)
{
  guint depth = 0;
  char quote = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = data[i];

      if (quote != 0)
        {
          if (c == '\\')
            i++;
          else if (c == quote)
            quote = 0;
          continue;
        }
      if (c == '"' || c == '\'')
        quote = c;
      else if (c == '{' || c == '[' || c == '(' || c == '<')
        {
          if (++depth > max_depth)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "nested more than %u levels deep at byte %" G_GSIZE_FORMAT, max_depth,
                           i);
              return FALSE;
            }
        }
      else if ((c == '}' || c == ']' || c == ')' || c == '>') && depth > 0)
        depth--;
    }
  return TRUE;
}

/* g_variant_print() with type annotations parses back to the very same
 * value (a 'u' stays a 'u', NaN stays NaN), except that GLib's parser
 * refuses subnormal doubles: an entry holding one is kept as its serialized
 * bytes instead, "base64:" and the normal form. */
#define SM_BINARY_PREFIX "base64:"

static gboolean
has_negative_exponent (const char *text)
{
  for (const char *p = strstr (text, "e-"); p != NULL; p = strstr (p + 2, "e-"))
    if (p > text && g_ascii_isdigit (p[-1]))
      return TRUE;
  return FALSE;
}

char *
sm_store_entry_to_text (GVariant *entry)
{
  char *text = g_variant_print (entry, TRUE);
  g_autoptr (GVariant) back = NULL;
  g_autoptr (GVariant) normal = NULL;
  g_autofree char *encoded = NULL;

  /* Only a number with a negative exponent can be subnormal (or a string
   * that looks like one): check just those. */
  if (!has_negative_exponent (text))
    return text;
  back = g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, NULL);
  if (back != NULL && g_variant_equal (back, entry))
    return text;

  g_free (text);
  normal = g_variant_get_normal_form (entry);
  encoded = g_base64_encode (g_variant_get_data (normal), g_variant_get_size (normal));
  return g_strconcat (SM_BINARY_PREFIX, encoded, NULL);
}

GVariant *
sm_store_entry_from_text (const char *text, GError **error)
{
  if (g_str_has_prefix (text, SM_BINARY_PREFIX))
    {
      gsize length = 0;
      guchar *data = g_base64_decode (text + strlen (SM_BINARY_PREFIX), &length);
      g_autoptr (GBytes) bytes = g_bytes_new_take (data, length);
      g_autoptr (GVariant) value = g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE);

      /* Untrusted bytes: the normal form is safe to walk whatever they hold. */
      return g_variant_get_normal_form (value);
    }
  if (!check_nesting (text, strlen (text), SM_VARIANT_MAX_DEPTH, error))
    return NULL;
  return g_variant_parse (G_VARIANT_TYPE_VARDICT, text, NULL, NULL, error);
}

static void on_model_changed (GObject *model, const char *id, SmStoreSection *section);

void
sm_store_add_section (SmStore *self,
                      const char *name,
                      GObject *model,
                      const char *id_key,
                      SmStoreListFunc list,
                      SmStoreGetFunc get,
                      SmStoreRestoreFunc restore)
{
  SmStoreSection *section;

  g_return_if_fail (SM_IS_STORE (self));
  g_return_if_fail (G_IS_OBJECT (model));

  section = g_new0 (SmStoreSection, 1);
  section->store = self;
  section->name = g_strdup (name);
  section->model = g_object_ref (model);
  section->id_key = g_strdup (id_key);
  section->list = list;
  section->get = get;
  section->restore = restore;
  section->pending =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_variant_unref);
  section->changed_id = g_signal_connect (model, "changed", G_CALLBACK (on_model_changed), section);
  g_ptr_array_add (self->sections, section);
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

static gboolean
write_all (int fd, const char *data, gsize length, GError **error)
{
  while (length > 0)
    {
      gssize n = write (fd, data, length);

      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s",
                       g_strerror (saved_errno));
          return FALSE;
        }
      data += n;
      length -= (gsize) n;
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
  JsonNode *version;

  if (length == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the file is empty");
      return FALSE;
    }
  if (!check_nesting (data, length, SM_JSON_MAX_DEPTH, error)
      || !json_parser_load_from_data (parser, data, (gssize) length, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the top level is not an object");
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  version = json_object_get_member (root, "version");
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

  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];
      JsonNode *node = json_object_get_member (root, section->name);
      g_autoptr (GList) members = NULL;

      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (section->id_key == NULL)
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
          continue;
        }

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
              g_prefix_error (error, "\"%s\" entry \"%s\": ", section->name,
                              (const char *) l->data);
              return FALSE;
            }
          g_hash_table_replace (section->pending, g_strdup (l->data), entry);
        }
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

  if (!check_nesting (line, strlen (line), SM_JSON_MAX_DEPTH, error)
      || !json_parser_load_from_data (parser, line, -1, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
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

static char *
move_aside (const char *path)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  char *aside = g_strdup_printf ("%s.corrupt-%s", path, stamp);

  if (g_rename (path, aside) < 0)
    {
      g_warning ("Cannot move %s aside to %s: %s", path, aside, g_strerror (errno));
      g_clear_pointer (&aside, g_free);
    }
  return aside;
}

static void
replay_journal (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *data = NULL;
  g_auto (GStrv) lines = NULL;
  gsize length;
  guint n_lines;

  if (!g_file_get_contents (self->journal_path, &data, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Cannot read %s: %s", self->journal_path, error->message);
      return;
    }
  if (memchr (data, '\0', length) != NULL)
    {
      g_autofree char *aside = move_aside (self->journal_path);

      g_warning ("%s holds NUL bytes; moved it aside to %s", self->journal_path,
                 aside != NULL ? aside : "(nowhere)");
      return;
    }

  lines = g_strsplit (data, "\n", -1);
  n_lines = g_strv_length (lines);
  for (guint i = 0; i < n_lines; i++)
    {
      gboolean last = i + 1 == n_lines;

      if (lines[i][0] == '\0')
        continue;
      if (replay_line (self, parser, lines[i], &error))
        {
          self->journal_lines++;
          continue;
        }
      /* A torn last line is a write that kill -9 cut short: its call was
       * never answered, so nothing acknowledged is lost by dropping it. */
      if (last)
        g_message ("%s: dropping an unfinished last change (%s)", self->journal_path,
                   error->message);
      else
        {
          g_autofree char *aside = move_aside (self->journal_path);

          g_warning ("%s line %u is unusable (%s); later changes are lost, moved the file "
                     "aside to %s",
                     self->journal_path, i + 1, error->message,
                     aside != NULL ? aside : "(nowhere)");
        }
      return;
    }
}

/* Hands every pending entry to its model; an entry the model refuses is
 * dropped (the next snapshot forgets it) and said so. */
static void
restore_pending (SmStore *self)
{
  self->loading = TRUE;
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];
      GHashTableIter iter;
      gpointer id, entry;

      g_hash_table_iter_init (&iter, section->pending);
      while (g_hash_table_iter_next (&iter, &id, &entry))
        {
          g_autoptr (GError) error = NULL;

          if (!section->restore (section->model, entry, &error))
            g_warning ("Dropping %s entry \"%s\" from the saved state: %s", section->name,
                       (const char *) id, error->message);
        }
      g_hash_table_remove_all (section->pending);
    }
  self->loading = FALSE;
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

static gboolean
open_journal (SmStore *self, GError **error)
{
  if (self->journal_fd >= 0)
    return TRUE;
  self->journal_fd =
      g_open (self->journal_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (self->journal_fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s",
                   self->journal_path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* Reads the snapshot and the journal, restores every section and folds the
 * journal into a fresh snapshot. Never fails: a file it cannot use is moved
 * aside and reported, a directory it cannot write is reported, and the
 * daemon goes on from memory. */
void
sm_store_load (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length;

  g_return_if_fail (SM_IS_STORE (self));

  if (self->dir == NULL)
    return;

  if (g_mkdir_with_parents (self->dir, S_IRWXU) < 0)
    {
      g_warning ("Cannot create the state directory %s: %s; the state is kept in memory only "
                 "and will not survive a restart",
                 self->dir, g_strerror (errno));
      return;
    }

  if (!g_file_get_contents (self->path, &data, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Cannot read %s: %s; starting empty", self->path, error->message);
      g_clear_error (&error);
      replay_journal (self);
    }
  else if (!parse_snapshot (self, data, length, &error))
    {
      g_autofree char *aside = move_aside (self->path);

      g_warning ("The state file %s is unusable (%s); moved it aside to %s, starting empty",
                 self->path, error->message, aside != NULL ? aside : "(nowhere)");
      clear_pending (self);
      /* The journal only makes sense on top of its snapshot. */
      if (g_file_test (self->journal_path, G_FILE_TEST_EXISTS))
        {
          g_autofree char *journal_aside = move_aside (self->journal_path);

          g_message ("Moved the journal %s aside to %s", self->journal_path,
                     journal_aside != NULL ? journal_aside : "(nowhere)");
        }
    }
  else
    replay_journal (self);

  restore_pending (self);

  g_clear_error (&error);
  if (!open_journal (self, &error) || !sm_store_compact (self, &error))
    {
      g_warning ("Cannot write the state to %s: %s; the state is kept in memory only and "
                 "will not survive a restart",
                 self->dir, error->message);
      if (self->journal_fd >= 0)
        close (self->journal_fd);
      self->journal_fd = -1;
    }
}

static JsonNode *
section_to_json (SmStoreSection *section, guint *n_entries)
{
  g_autoptr (GVariant) list = g_variant_ref_sink (section->list (section->model));
  g_autoptr (JsonObject) object = NULL;
  gsize n = g_variant_n_children (list);

  *n_entries += (guint) n;
  if (section->id_key == NULL)
    {
      g_autoptr (GVariant) entry = NULL;
      g_autofree char *text = NULL;

      if (n == 0)
        return json_node_new (JSON_NODE_NULL);
      entry = g_variant_get_child_value (list, 0);
      text = sm_store_entry_to_text (entry);
      return json_node_init_string (json_node_alloc (), text);
    }

  object = json_object_new ();
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (list, i);
      g_autofree char *text = NULL;
      const char *id;

      if (!g_variant_lookup (entry, section->id_key, "&s", &id))
        {
          g_critical ("A %s entry has no \"%s\"", section->name, section->id_key);
          continue;
        }
      text = sm_store_entry_to_text (entry);
      json_object_set_string_member (object, id, text);
    }
  return json_node_init_object (json_node_alloc (), object);
}

/* Writes every section as a new snapshot (temporary file, fsync, rename)
 * and empties the journal it supersedes. A crash between the two only
 * replays changes the snapshot already holds, which changes nothing. */
gboolean
sm_store_compact (SmStore *self, GError **error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *data = NULL;
  guint n_entries = 0;
  gsize length;

  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  g_clear_handle_id (&self->compact_id, g_source_remove);
  if (self->dir == NULL)
    return TRUE;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, SM_STORE_VERSION);
  for (guint i = 0; i < self->sections->len; i++)
    {
      SmStoreSection *section = self->sections->pdata[i];

      json_builder_set_member_name (builder, section->name);
      json_builder_add_value (builder, section_to_json (section, &n_entries));
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json_generator_set_pretty (generator, TRUE);
  data = json_generator_to_data (generator, &length);

  if (!g_file_set_contents_full (self->path, data, (gssize) length, G_FILE_SET_CONTENTS_CONSISTENT,
                                 S_IRUSR | S_IWUSR, error))
    return FALSE;
  if (self->journal_fd >= 0 && ftruncate (self->journal_fd, 0) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s",
                   self->journal_path, g_strerror (saved_errno));
      return FALSE;
    }
  self->journal_lines = 0;
  self->snapshot_entries = n_entries;
  g_debug ("Wrote %s with %u entries", self->path, n_entries);
  return TRUE;
}

static gboolean
on_compact_idle (gpointer user_data)
{
  SmStore *self = SM_STORE (user_data);
  g_autoptr (GError) error = NULL;

  self->compact_id = 0;
  if (!sm_store_compact (self, &error))
    g_warning ("Cannot write the state snapshot %s: %s; changes go on being journaled", self->path,
               error->message);
  return G_SOURCE_REMOVE;
}

/* Appends the entry's new state (or its removal) to the journal before the
 * change's caller is answered: write(2) alone survives kill -9. */
static void
on_model_changed (GObject *model, const char *id, SmStoreSection *section)
{
  SmStore *self = section->store;
  g_autoptr (GVariant) entry = NULL;
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonGenerator) generator = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  gsize length;

  if (self->loading || self->journal_fd < 0)
    return;

  entry = section->get (model, id);
  if (entry != NULL)
    g_variant_ref_sink (entry);

  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "section");
  json_builder_add_string_value (builder, section->name);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, section->id_key != NULL ? id : "");
  json_builder_set_member_name (builder, "entry");
  if (entry != NULL)
    {
      g_autofree char *text = sm_store_entry_to_text (entry);

      json_builder_add_string_value (builder, text);
    }
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);

  generator = json_generator_new ();
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  line = json_generator_to_data (generator, &length);
  line = g_realloc (line, length + 2);
  line[length++] = '\n';
  line[length] = '\0';

  if (!write_all (self->journal_fd, line, length, &error))
    {
      if (!self->write_failed)
        g_warning ("Cannot append to %s: %s; recent changes may not survive a restart",
                   self->journal_path, error->message);
      self->write_failed = TRUE;
      return;
    }
  self->write_failed = FALSE;

  if (++self->journal_lines > MAX (SM_JOURNAL_MIN_COMPACT, 2 * self->snapshot_entries)
      && self->compact_id == 0)
    self->compact_id = g_idle_add_full (G_PRIORITY_LOW, on_compact_idle, self, NULL);
}

gboolean
sm_store_is_writable (SmStore *self)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  return self->journal_fd >= 0;
}

const char *
sm_store_get_path (SmStore *self)
{
  g_return_val_if_fail (SM_IS_STORE (self), NULL);

  return self->path;
}
