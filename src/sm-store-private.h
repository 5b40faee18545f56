#pragma once

#include "sm-store.h"
#include "sm-store-codec.h"

G_BEGIN_DECLS

/* What the store's files share: sm-store.c (sections, the journal),
 * sm-store-load.c (reading the state back) and sm-store-compact.c (folding
 * the journal into a new snapshot in the background). */

/* The journal is folded into a snapshot once it holds this many bytes or
 * twice the size of the last snapshot, whichever is more: each change then
 * costs O(1) amortized, however big the state is, and the journals never
 * hold more than a bounded multiple of it (see sm-store-compact.c). */
#define SM_JOURNAL_MIN_COMPACT_BYTES (1024 * 1024)
/* Temporary snapshots are named after the snapshot plus this and 6
 * random characters; whatever a kill -9 left of them goes at start. */
#define SM_SNAPSHOT_TMP_INFIX ".tmp-"

typedef struct
{
  SmStore *store; /* (unowned) */
  char *name;
  GObject *model; /* (owned) */
  char *id_key;   /* (nullable): NULL for a single-entry section */
  SmStoreGetFunc get;
  SmStoreRestoreFunc restore;
  gulong changed_id;
  GHashTable *pending; /* (owned) id → (owned) GVariant entry, while loading */
  GHashTable *ids;     /* (owned) set of GRefString: the ids the model holds */
} SmStoreSection;

/* A compaction under way (sm-store-compact.c). */
typedef struct _SmStoreJob SmStoreJob;

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
  gsize journal_bytes;   /* appended to state.journal since its rotation */
  gsize compact_after;   /* journal bytes that trigger the next compaction */
  gsize snapshot_size;
  SmStoreJob *job; /* (nullable) (owned) the compaction under way */
  guint capture_id;
};

/* sm-store.c */
void sm_store_set_errno_error (GError **error, int saved_errno, const char *path);
gboolean sm_store_write_all (int fd, const char *data, gsize length, GError **error);
gboolean sm_store_open_journal (SmStore *self, GError **error);
void sm_store_close_journal (SmStore *self);

/* sm-store-load.c */
int sm_store_open_regular (const char *path, int flags, GError **error);
gboolean sm_store_read_file (const char *path, char **contents, gsize *length, GError **error);

/* sm-store-compact.c */
gboolean sm_store_sync_dir (const char *dir, GError **error);
void sm_store_compact_note_append (SmStore *self, gsize bytes);
void sm_store_compact_start (SmStore *self);
void sm_store_compact_stop (SmStore *self);

G_END_DECLS
