#define G_LOG_DOMAIN "sm-store"

#include "sm-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define SM_STATE_FILE "state.json"
#define SM_JOURNAL_FILE "state.journal"
/* The journal a running compaction supersedes (see sm_store_compact). */
#define SM_OLD_JOURNAL_FILE "state.journal.old"
/* The journal is folded into a snapshot once it holds this many changes or
 * twice the entries of the last snapshot, whichever is more: each change
 * then costs O(1) amortized, however many entries there are. */
#define SM_JOURNAL_MIN_COMPACT 1000
/* Bounds the recursion of the parsers on a hostile file. JSON needs 3
 * levels here; GVariant text at most GLib's own limit for variants. */
#define SM_JSON_MAX_DEPTH 16
#define SM_VARIANT_MAX_DEPTH 128
/* A compaction takes its entries from the models in slices of at most this
 * long on the main loop, so deadlines around it stay on time. */
#define SM_CAPTURE_SLICE_US 1000

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
  GHashTable *ids;     /* (owned) set of GRefString: the ids the model holds */
} SmStoreSection;

typedef struct
{
  SmStore *store;  /* (unowned): it waits for the writer before it goes */
  GString *out;    /* (owned) (nullable) the snapshot as captured so far */
  guint section;   /* capture cursor */
  GPtrArray *todo; /* (nullable) (element-type GRefString) ids left in that section */
  guint todo_next;
  char *path;
  char *old_journal_path;
  guint n_entries;
  guint n_entries_section;
  guint old_lines; /* the changes in the superseded journal */
  GMainContext *context;
  GThread *thread;      /* (nullable) the writer, once the capture is complete */
  GSource *done_source; /* (nullable) set by the writer */
  GError *error;        /* the writer's outcome */
  gsize written;
} SmStoreJob;

struct _SmStore
{
  GObject parent_instance;

  char *dir;              /* (nullable): NULL keeps everything in memory */
  char *path;             /* (nullable) the snapshot */
  char *journal_path;     /* (nullable) */
  char *old_journal_path; /* (nullable) */
  GPtrArray *sections;    /* (owned) SmStoreSection */
  GString *line;          /* (owned) scratch for journal lines */
  GByteArray *scratch;    /* (owned) scratch for serialized entries */

  int journal_fd;
  gboolean loading;
  gboolean write_failed; /* logged once until a write succeeds again */
  guint journal_lines;
  guint compact_after; /* journal lines that trigger the next compaction */
  gsize snapshot_size;
  SmStoreJob *job; /* (nullable) (owned) the compaction under way */
  guint capture_id;
};

G_DEFINE_TYPE (SmStore, sm_store, G_TYPE_OBJECT)

static void
sm_store_job_free (SmStoreJob *job)
{
  g_assert (job->thread == NULL);
  if (job->out != NULL)
    g_string_free (job->out, TRUE);
  g_clear_pointer (&job->todo, g_ptr_array_unref);
  g_clear_pointer (&job->context, g_main_context_unref);
  if (job->done_source != NULL)
    {
      g_source_destroy (job->done_source);
      g_source_unref (job->done_source);
    }
  g_clear_error (&job->error);
  g_free (job->path);
  g_free (job->old_journal_path);
  g_free (job);
}

static void
sm_store_section_free (SmStoreSection *section)
{
  g_clear_signal_handler (&section->changed_id, section->model);
  g_clear_object (&section->model);
  g_clear_pointer (&section->pending, g_hash_table_unref);
  g_clear_pointer (&section->ids, g_hash_table_unref);
  g_free (section->name);
  g_free (section->id_key);
  g_free (section);
}

static void compact_finish (SmStore *self);

static void
sm_store_finalize (GObject *object)
{
  SmStore *self = SM_STORE (object);

  g_clear_handle_id (&self->capture_id, g_source_remove);
  /* A snapshot being written is completed; one still being captured is
   * dropped: its old journal is replayed at the next start. */
  if (self->job != NULL && self->job->thread != NULL)
    compact_finish (self);
  g_clear_pointer (&self->job, sm_store_job_free);
  g_clear_pointer (&self->sections, g_ptr_array_unref);
  if (self->journal_fd >= 0)
    close (self->journal_fd);
  g_string_free (self->line, TRUE);
  g_byte_array_unref (self->scratch);
  g_free (self->dir);
  g_free (self->path);
  g_free (self->journal_path);
  g_free (self->old_journal_path);

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
  self->line = g_string_sized_new (1024);
  self->scratch = g_byte_array_sized_new (1024);
  self->journal_fd = -1;
  self->compact_after = SM_JOURNAL_MIN_COMPACT;
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
      self->old_journal_path = g_build_filename (dir, SM_OLD_JOURNAL_FILE, NULL);
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

/* An entry is kept as "base64:" and its serialized GVariant bytes: exact
 * for every type (a 'u' stays a 'u', NaN and subnormal doubles survive) and
 * some 50 times faster to read back than g_variant_print() text, which
 * earlier versions wrote and which is still read. */
#define SM_BINARY_PREFIX "base64:"

static void
append_base64 (GString *out, const guint8 *data, gsize length)
{
  gsize start = out->len;
  gint state = 0, save = 0;
  gsize n;

  g_string_set_size (out, start + (length / 3 + 1) * 4 + 4);
  n = g_base64_encode_step (data, length, FALSE, out->str + start, &state, &save);
  n += g_base64_encode_close (FALSE, out->str + start + n, &state, &save);
  g_string_set_size (out, start + n);
}

/* Appends the entry as a JSON string; @scratch is reused between calls. */
static void
append_entry (GString *out, GVariant *entry, GByteArray *scratch)
{
  gsize size = g_variant_get_size (entry);

  g_byte_array_set_size (scratch, (guint) size);
  g_variant_store (entry, scratch->data);
  g_string_append (out, "\"" SM_BINARY_PREFIX);
  append_base64 (out, scratch->data, size);
  g_string_append_c (out, '"');
}

/* Ids are UTF-8 (D-Bus strings): only quotes, backslashes and control
 * characters need escaping. */
static void
append_json_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
        }
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

char *
sm_store_entry_to_text (GVariant *entry)
{
  g_autoptr (GByteArray) scratch = g_byte_array_new ();
  GString *out = g_string_new (NULL);

  append_entry (out, entry, scratch);
  /* Without the JSON quotes. */
  g_string_truncate (out, out->len - 1);
  g_string_erase (out, 0, 1);
  return g_string_free (out, FALSE);
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
  section->ids =
      g_hash_table_new_full (g_str_hash, g_str_equal, (GDestroyNotify) g_ref_string_release, NULL);
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

static void
set_errno_error (GError **error, int saved_errno, const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "%s: %s", path,
               g_strerror (saved_errno));
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

/* Replays one journal file over the pending entries; returns its changes. */
static guint
replay_journal (SmStore *self, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autofree char *data = NULL;
  gsize length;
  guint n_lines = 0;
  char *line, *end;

  if (!g_file_get_contents (path, &data, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Cannot read %s: %s", path, error->message);
      return 0;
    }
  if (memchr (data, '\0', length) != NULL)
    {
      g_autofree char *aside = move_aside (path);

      g_warning ("%s holds NUL bytes; moved it aside to %s", path,
                 aside != NULL ? aside : "(nowhere)");
      return 0;
    }

  for (line = data; line < data + length; line = end + 1)
    {
      guint number = n_lines + 1;

      end = memchr (line, '\n', (gsize) (data + length - line));
      if (end == NULL)
        end = data + length;
      *end = '\0';
      if (line[0] == '\0')
        continue;
      if (replay_line (self, parser, line, &error))
        {
          n_lines++;
          continue;
        }
      /* A torn last line is a write that kill -9 cut short: its call was
       * never answered, so nothing acknowledged is lost by dropping it. */
      if (end == data + length)
        g_message ("%s: dropping an unfinished last change (%s)", path, error->message);
      else
        {
          g_autofree char *aside = move_aside (path);

          g_warning ("%s line %u is unusable (%s); later changes are lost, moved the file "
                     "aside to %s",
                     path, number, error->message, aside != NULL ? aside : "(nowhere)");
        }
      break;
    }
  return n_lines;
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
          const char *model_id = "";

          if (!section->restore (section->model, entry, &error))
            {
              g_warning ("Dropping %s entry \"%s\" from the saved state: %s", section->name,
                         (const char *) id, error->message);
              continue;
            }
          /* The model knows it by the id inside, whatever the file's key. */
          if (section->id_key != NULL)
            g_variant_lookup (entry, section->id_key, "&s", &model_id);
          g_hash_table_add (section->ids, g_ref_string_new (model_id));
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
      set_errno_error (error, errno, self->journal_path);
      return FALSE;
    }
  return TRUE;
}

static void
close_journal (SmStore *self)
{
  if (self->journal_fd >= 0)
    close (self->journal_fd);
  self->journal_fd = -1;
}

static void compact_start (SmStore *self);

/* Reads the snapshot and the journals, restores every section and starts
 * folding the journals into a fresh snapshot. Never fails: a file it cannot
 * use is moved aside and reported, a directory it cannot write is reported,
 * and the daemon goes on from memory. */
void
sm_store_load (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize length = 0;
  gint64 start = g_get_monotonic_time (), parsed;

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

  /* The snapshot, then the journal a compaction was folding into it when
   * the daemon stopped (if any), then the current one. Replaying changes
   * the snapshot already holds changes nothing: each line is an entry's
   * whole state. */
  if (!g_file_get_contents (self->path, &data, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("Cannot read %s: %s; starting empty", self->path, error->message);
      g_clear_error (&error);
      replay_journal (self, self->old_journal_path);
      replay_journal (self, self->journal_path);
    }
  else if (!parse_snapshot (self, data, length, &error))
    {
      g_autofree char *aside = move_aside (self->path);

      g_warning ("The state file %s is unusable (%s); moved it aside to %s, starting empty",
                 self->path, error->message, aside != NULL ? aside : "(nowhere)");
      clear_pending (self);
      /* The journals only make sense on top of their snapshot. */
      for (const char *const *p =
               (const char *const[]){ self->old_journal_path, self->journal_path, NULL };
           *p != NULL; p++)
        if (g_file_test (*p, G_FILE_TEST_EXISTS))
          {
            g_autofree char *journal_aside = move_aside (*p);

            g_message ("Moved the journal %s aside to %s", *p,
                       journal_aside != NULL ? journal_aside : "(nowhere)");
          }
    }
  else
    {
      replay_journal (self, self->old_journal_path);
      replay_journal (self, self->journal_path);
    }
  g_clear_pointer (&data, g_free);
  self->snapshot_size = length;

  parsed = g_get_monotonic_time ();
  restore_pending (self);
  g_debug ("Read the state in %" G_GINT64_FORMAT " ms, restored it in %" G_GINT64_FORMAT " ms",
           (parsed - start) / 1000, (g_get_monotonic_time () - parsed) / 1000);

  g_clear_error (&error);
  if (!open_journal (self, &error))
    {
      g_warning ("Cannot write the state to %s: %s; the state is kept in memory only and "
                 "will not survive a restart",
                 self->dir, error->message);
      return;
    }
  compact_start (self);
}

/* Appends @src's complete lines to @dst, first cutting a torn last line
 * off @dst so that no unfinished change ends up in the middle. */
static gboolean
append_journal (const char *dst, const char *src, GError **error)
{
  g_autofree char *data = NULL;
  g_autofree char *head = NULL;
  gsize length = 0, head_length = 0, keep = 0;
  const char *last;
  int fd;
  gboolean ok;

  if (!g_file_get_contents (src, &data, &length, error))
    return FALSE;
  last = g_strrstr_len (data, (gssize) length, "\n");
  length = last != NULL ? (gsize) (last - data) + 1 : 0;

  if (!g_file_get_contents (dst, &head, &head_length, error))
    return FALSE;
  last = g_strrstr_len (head, (gssize) head_length, "\n");
  keep = last != NULL ? (gsize) (last - head) + 1 : 0;

  fd = g_open (dst, O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      set_errno_error (error, errno, dst);
      return FALSE;
    }
  ok = (keep == head_length || ftruncate (fd, (off_t) keep) == 0)
       && lseek (fd, (off_t) keep, SEEK_SET) >= 0;
  if (!ok)
    set_errno_error (error, errno, dst);
  else
    ok = write_all (fd, data, length, error);
  close (fd);
  return ok;
}

/* The journal so far becomes the old one, and changes from now on go to a
 * fresh one: the snapshot being made supersedes the old journal only. */
static gboolean
rotate_journal (SmStore *self, GError **error)
{
  if (g_file_test (self->old_journal_path, G_FILE_TEST_EXISTS))
    {
      /* Left by a stop in mid-compaction: one old journal holds both. A
       * stop between the append and the truncation replays some changes
       * twice, which changes nothing. */
      if (!append_journal (self->old_journal_path, self->journal_path, error))
        return FALSE;
      if (ftruncate (self->journal_fd, 0) < 0)
        {
          set_errno_error (error, errno, self->journal_path);
          return FALSE;
        }
      return TRUE;
    }
  if (g_rename (self->journal_path, self->old_journal_path) < 0)
    {
      set_errno_error (error, errno, self->journal_path);
      return FALSE;
    }
  close_journal (self);
  return open_journal (self, error);
}

/* A failed compaction puts the old journal's changes back in front of the
 * new ones, so that the journal alone again holds everything since the
 * last good snapshot. */
static gboolean
merge_back_journal (SmStore *self, GError **error)
{
  if (!append_journal (self->old_journal_path, self->journal_path, error))
    return FALSE;
  if (g_rename (self->old_journal_path, self->journal_path) < 0)
    {
      set_errno_error (error, errno, self->old_journal_path);
      return FALSE;
    }
  close_journal (self);
  return open_journal (self, error);
}

/* The writer thread: replaces the snapshot with the captured text
 * (temporary file, fsync, rename); then the old journal is superseded. */
static gboolean
compact_write (SmStoreJob *job)
{
  gboolean ok;

  g_string_append (job->out, "}\n");
  job->written = job->out->len;
  ok = g_file_set_contents_full (job->path, job->out->str, (gssize) job->out->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, S_IRUSR | S_IWUSR, &job->error);
  g_string_free (job->out, TRUE);
  job->out = NULL;
  if (ok && g_unlink (job->old_journal_path) < 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", job->old_journal_path, g_strerror (errno));
#ifdef __GLIBC__
  /* The text was big: hand its pages back. */
  malloc_trim (0);
#endif
  return ok;
}

static gboolean
on_compact_done (gpointer user_data)
{
  SmStore *self = SM_STORE (user_data);

  compact_finish (self);
  return G_SOURCE_REMOVE;
}

static gpointer
compact_thread (gpointer user_data)
{
  SmStoreJob *job = user_data;
  GSource *source;

  compact_write (job);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[sm-store] compaction done");
  g_source_set_callback (source, on_compact_done, job->store, NULL);
  job->done_source = source;
  g_source_attach (source, job->context);
  return NULL;
}

/* Takes entries from the models until the slice's time is up; TRUE when
 * every section is captured. Each entry is its current state: one that
 * changed after the rotation is in the new journal too, which wins. Each
 * is encoded at once, so that the snapshot costs one string and no entry
 * outlives its turn. */
static gboolean
compact_capture (SmStore *self, gint64 budget_us)
{
  SmStoreJob *job = self->job;
  GString *out = job->out;
  gint64 end = budget_us < 0 ? G_MAXINT64 : g_get_monotonic_time () + budget_us;

  while (job->section < self->sections->len)
    {
      SmStoreSection *section = self->sections->pdata[job->section];

      if (job->todo == NULL)
        {
          GHashTableIter iter;
          gpointer id;

          job->todo = g_ptr_array_new_full (g_hash_table_size (section->ids),
                                            (GDestroyNotify) g_ref_string_release);
          g_hash_table_iter_init (&iter, section->ids);
          while (g_hash_table_iter_next (&iter, &id, NULL))
            g_ptr_array_add (job->todo, g_ref_string_acquire (id));
          job->todo_next = 0;
          g_string_append (out, ",\n");
          append_json_string (out, section->name);
          g_string_append (out, section->id_key != NULL ? ":{" : ":null");
        }
      while (job->todo_next < job->todo->len)
        {
          const char *id = job->todo->pdata[job->todo_next++];
          g_autoptr (GVariant) entry = section->get (section->model, id);

          if (entry != NULL)
            {
              g_variant_ref_sink (entry);
              if (section->id_key == NULL)
                {
                  g_string_truncate (out, out->len - strlen ("null"));
                  append_entry (out, entry, self->scratch);
                }
              else
                {
                  g_string_append (out, job->n_entries_section++ == 0 ? "\n" : ",\n");
                  append_json_string (out, id);
                  g_string_append_c (out, ':');
                  append_entry (out, entry, self->scratch);
                }
              job->n_entries++;
            }
          if ((job->todo_next & 15) == 0 && g_get_monotonic_time () >= end)
            return FALSE;
        }
      if (section->id_key != NULL)
        g_string_append_c (out, '}');
      g_clear_pointer (&job->todo, g_ptr_array_unref);
      job->n_entries_section = 0;
      job->section++;
    }
  return TRUE;
}

static void
compact_launch (SmStore *self)
{
  SmStoreJob *job = self->job;
  g_autoptr (GError) error = NULL;

  job->thread = g_thread_try_new ("sm-store", compact_thread, job, &error);
  if (job->thread == NULL)
    {
      /* No thread: write from here, late rather than never. */
      g_debug ("Cannot start a writer thread (%s); writing the snapshot in place", error->message);
      compact_write (job);
      compact_finish (self);
      return;
    }
}

static gboolean
on_capture_idle (gpointer user_data)
{
  SmStore *self = SM_STORE (user_data);

  if (!compact_capture (self, SM_CAPTURE_SLICE_US))
    return G_SOURCE_CONTINUE;
  self->capture_id = 0;
  compact_launch (self);
  return G_SOURCE_REMOVE;
}

/* Back on the main thread once the writer is done (or from
 * sm_store_wait()): either the new snapshot is in place and the old
 * journal gone, or the old journal goes back in front of the new one. */
static void
compact_finish (SmStore *self)
{
  SmStoreJob *job = self->job;
  g_autoptr (GError) error = NULL;

  if (job->thread != NULL)
    {
      g_thread_join (job->thread);
      job->thread = NULL;
    }
  self->job = NULL;

  if (job->error == NULL)
    {
      self->snapshot_size = job->written;
      self->compact_after = MAX (SM_JOURNAL_MIN_COMPACT, 2 * job->n_entries);
      g_debug ("Wrote %s with %u entries", job->path, job->n_entries);
    }
  else
    {
      g_warning ("Cannot write the state snapshot %s: %s; changes go on being journaled", job->path,
                 job->error->message);
      if (!merge_back_journal (self, &error))
        g_warning ("Cannot merge %s back into %s: %s; both are read at the next start",
                   self->old_journal_path, self->journal_path, error->message);
      self->journal_lines += job->old_lines;
      /* Not again at the next change: after as many changes again. */
      self->compact_after = self->journal_lines + MAX (SM_JOURNAL_MIN_COMPACT, 2 * job->n_entries);
    }
  sm_store_job_free (job);
}

/* Starts folding the journal into a new snapshot, in the background: the
 * journal is rotated at once, the entries are taken from the models in
 * short slices on the main loop, and a thread writes them. */
static void
compact_start (SmStore *self)
{
  g_autoptr (GError) error = NULL;
  SmStoreJob *job;

  if (self->job != NULL || self->journal_fd < 0)
    return;
  if (!rotate_journal (self, &error))
    {
      g_warning ("Cannot start a new journal: %s; changes go on being journaled where they "
                 "are",
                 error->message);
      self->compact_after = self->journal_lines + SM_JOURNAL_MIN_COMPACT;
      return;
    }

  job = g_new0 (SmStoreJob, 1);
  job->store = self;
  job->out = g_string_sized_new (self->snapshot_size + self->snapshot_size / 8 + 4096);
  g_string_append_printf (job->out, "{\"version\":%d", SM_STORE_VERSION);
  job->path = g_strdup (self->path);
  job->old_journal_path = g_strdup (self->old_journal_path);
  job->old_lines = self->journal_lines;
  job->context = g_main_context_ref_thread_default ();
  self->job = job;
  self->journal_lines = 0;
  self->capture_id = g_idle_add_full (G_PRIORITY_LOW, on_capture_idle, self, NULL);
}

/* Completes the compaction under way, if any, before returning. */
void
sm_store_wait (SmStore *self)
{
  g_return_if_fail (SM_IS_STORE (self));

  if (self->job == NULL)
    return;
  if (self->capture_id != 0)
    {
      g_clear_handle_id (&self->capture_id, g_source_remove);
      compact_capture (self, -1);
      compact_launch (self);
    }
  if (self->job != NULL)
    compact_finish (self);
}

/* Writes a new snapshot of every section now and empties the journal, as
 * the background compaction does, but before returning. */
gboolean
sm_store_compact (SmStore *self, GError **error)
{
  g_return_val_if_fail (SM_IS_STORE (self), FALSE);

  if (self->dir == NULL)
    return TRUE;
  sm_store_wait (self);
  if (self->journal_fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "%s is not open",
                   self->journal_path);
      return FALSE;
    }
  compact_start (self);
  if (self->job == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start a new journal in %s",
                   self->dir);
      return FALSE;
    }
  g_clear_handle_id (&self->capture_id, g_source_remove);
  compact_capture (self, -1);
  compact_write (self->job);
  if (self->job->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->job->error));
      compact_finish (self);
      return FALSE;
    }
  compact_finish (self);
  return TRUE;
}

/* Appends the entry's new state (or its removal) to the journal before the
 * change's caller is answered: write(2) alone survives kill -9. */
static void
on_model_changed (GObject *model, const char *id, SmStoreSection *section)
{
  SmStore *self = section->store;
  g_autoptr (GVariant) entry = NULL;
  g_autoptr (GError) error = NULL;
  GString *line = self->line;

  if (self->loading)
    return;
  if (section->id_key == NULL)
    id = "";

  entry = section->get (model, id);
  if (entry != NULL)
    {
      g_variant_ref_sink (entry);
      if (!g_hash_table_contains (section->ids, id))
        g_hash_table_add (section->ids, g_ref_string_new (id));
    }
  else
    g_hash_table_remove (section->ids, id);

  if (self->journal_fd < 0)
    return;

  g_string_truncate (line, 0);
  g_string_append (line, "{\"section\":");
  append_json_string (line, section->name);
  g_string_append (line, ",\"id\":");
  append_json_string (line, id);
  g_string_append (line, ",\"entry\":");
  if (entry != NULL)
    append_entry (line, entry, self->scratch);
  else
    g_string_append (line, "null");
  g_string_append (line, "}\n");

  if (!write_all (self->journal_fd, line->str, line->len, &error))
    {
      if (!self->write_failed)
        g_warning ("Cannot append to %s: %s; recent changes may not survive a restart",
                   self->journal_path, error->message);
      self->write_failed = TRUE;
      return;
    }
  self->write_failed = FALSE;

  if (++self->journal_lines > self->compact_after)
    compact_start (self);
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
