/* SPDX-License-Identifier: GPL-3.0-or-later */

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

/* A group commit's fdatasync under way (sm-store.c). */
typedef struct _SmStoreSync SmStoreSync;

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

  /* The write path (sm-store.c): every change is written when it happens
   * and synced once per main-loop iteration, before its reply. */
  gint64 journal_end;       /* the journal's size after the last intact record */
  gint64 reserved_end;      /* space allocated ahead (fallocate) up to here */
  gint64 synced_end;        /* the journal up to here is known to be on disk */
  guint journal_generation; /* counts the journal's opens */
  gboolean no_fallocate;    /* the file system cannot reserve space */
  gboolean torn;            /* a short write awaits truncation to journal_end */
  gboolean need_newline;    /* the file ends in a fragment from an earlier run */
  gboolean unsynced;        /* records written since the last fdatasync */
  gboolean behind;          /* a change could not be written: snapshot soon */
  gboolean in_change;       /* between sm_store_prepare() and sm_store_complete() */
  gboolean reverting;       /* taking refused changes back out of memory */
  GError *write_error;      /* (nullable) (owned) the change's write failed */
  GError *sync_error;       /* (nullable) (owned) an fdatasync of this batch failed */
  GPtrArray *held;          /* (owned) SmStoreHeld: replies awaiting the sync */
  SmStoreSync *syncing;     /* (nullable) the sync under way (its task owns it) */
  guint commit_id;
  gsize journal_bytes; /* appended to state.journal since its rotation */
  gsize compact_after; /* journal bytes that trigger the next compaction */
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
