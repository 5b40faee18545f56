/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-store.h"
#include "sm-store-codec.h"

G_BEGIN_DECLS

/* What the store's files share. Calls run one way, each file only into
 * the ones below it:
 *   sm-store-load.c, sm-store-restore.c  reading the state back (start-up)
 *   sm-store.c                           sections, the change path, the API
 *   sm-store-sync.c                      the group commit of held replies
 *   sm-store-compact.c                   folding the journal into a snapshot
 *   sm-store-journal.c                   the journal: open, reserve, append
 *   sm-store-section.c                   sections, their models, entry ids
 *   sm-store-file.c                      safe opening, reading and syncing */

/* The journal is folded into a snapshot once it holds this many bytes or
 * twice the size of the last snapshot, whichever is more: each change then
 * costs O(1) amortized, however big the state is, and the journals never
 * hold more than a bounded multiple of it (see sm-store-compact.c). */
#define SM_JOURNAL_MIN_COMPACT_BYTES (1024 * 1024)
/* Temporary snapshots are named after the snapshot plus this and 6
 * random characters; whatever a kill -9 left of them goes at start. */
#define SM_SNAPSHOT_TMP_INFIX ".tmp-"

typedef struct _SmStoreSection SmStoreSection;

/* One model of a section: the only one, or one user's (sm-store-section.c). */
typedef struct
{
  SmStoreSection *section; /* (unowned) */
  SmStorable *model;       /* (owned) */
  guint32 uid;             /* whose, in a per-user section */
  gulong changed_id;
} SmStoreAttachment;

/* A named part of the state: one model's entries, or in a per-user
 * section every user's entries of one kind, each with "owner-uid" and
 * "store-id" added (sm-store-section.c). */
struct _SmStoreSection
{
  SmStore *store; /* (unowned) */
  char *name;
  char *id_key;      /* (nullable): NULL for one entry per model */
  gboolean per_user; /* entries keyed "<uid>/<id>" ("<uid>" without id_key) */
  SmStoreResolveFunc resolve;
  gpointer resolve_data;
  GHashTable *by_uid;  /* (owned) uid → (owned) SmStoreAttachment */
  GHashTable *ids;     /* (owned) the entries the models hold: on-disk id (GRefString) → whose */
  GHashTable *pending; /* (owned) on-disk id → (owned) SmStorePending, while loading */
};

/* An entry read back, while loading: decoded, or in the binary form
 * (which always decodes) its text, decoded once every file is read, so
 * that an entry a later one replaces is never decoded. */
typedef struct
{
  GVariant *entry; /* (owned) (nullable) */
  char *text;      /* (owned) (nullable) */
  gboolean queued; /* in an SmStoreDecoder's batch, at index: */
  guint index;
  /* Queued: the text's bytes, until they are the entry. */
  guchar *data; /* (owned) (nullable) */
  gsize length;
  gboolean normal;
  /* Queued in a section of one model: what the model's prepare() made of
   * the entry, with the entry, or its error. Restoring always hands
   * prepared to the model (sm-store-restore.c). */
  SmStorable *model; /* (unowned) (nullable) */
  gpointer prepared; /* (owned) (nullable) */
  GError *error;     /* (owned) (nullable) */
} SmStorePending;

/* Decoding the kept text, alongside restoring (sm-store-scan.c). */
typedef struct _SmStoreDecoder SmStoreDecoder;

/* A group commit's fdatasync under way (sm-store-sync.c). */
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
  GString *pending;       /* (owned) records of the daemon's own changes, not written yet */
  guint flush_id;         /* writes them at the next main-loop iteration */
  GByteArray *scratch;    /* (owned) scratch for serialized entries */

  int journal_fd;
  gboolean loading;
  gboolean write_failed; /* logged once until a write succeeds again */

  /* The write path (sm-store-journal.c): every change is written when it
   * happens and synced once per main-loop iteration, before its reply. */
  gint64 journal_end;       /* the journal's size after the last intact record */
  gint64 reserved_end;      /* space allocated ahead (fallocate) up to here */
  gint64 synced_end;        /* the journal up to here is known to be on disk */
  guint journal_generation; /* counts the journal's opens */
  gboolean no_fallocate;    /* the file system cannot reserve space */
  gboolean torn;            /* a short write awaits truncation to journal_end */
  gboolean need_newline;    /* the file ends in a fragment from an earlier run */
  gboolean unsynced;        /* records written since the last fdatasync */
  gboolean behind;          /* a change could not be written: snapshot soon */
  gboolean in_change;       /* between sm_store_prepare() and sm_store_complete_full() */
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
  /* What loading read back, freed once calls waiting for the load are
   * answered (sm-store-restore.c). */
  GPtrArray *read_back; /* (nullable) (owned) GHashTable of SmStorePending */
  guint read_back_id;
};

/* sm-store-file.c */
void sm_store_set_errno_error (GError **error, int saved_errno, const char *path);
gboolean sm_store_write_all (int fd, const char *data, gsize length, GError **error);
gboolean sm_store_sync_dir (const char *dir, GError **error);
int sm_store_open_regular (const char *path, int flags, GError **error);
gboolean sm_store_read_file (const char *path, char **contents, gsize *length, GError **error);

/* sm-store-scan.c */
gboolean sm_store_scan_snapshot (SmStore *self, const char *data, gsize length);
gboolean sm_store_keep_text (SmStoreSection *section,
                             const char *id,
                             gsize id_length,
                             const char *text,
                             gsize length,
                             GError **error);
SmStoreDecoder *sm_store_decoder_start (SmStore *self);
GVariant *sm_store_decoder_take (SmStoreDecoder *decoder, SmStorePending *pending);
void sm_store_decoder_finish (SmStoreDecoder *decoder);

/* sm-store-section.c */
void sm_store_pending_free (SmStorePending *pending);
SmStoreSection *sm_store_section_new (SmStore *store, const char *name, const char *id_key);
void sm_store_section_free (SmStoreSection *section);
GHashTable *sm_store_section_take_pending (SmStoreSection *section);
SmStoreSection *sm_store_find_section (SmStore *self, const char *name);
gboolean sm_store_section_is_single (SmStoreSection *section);
SmStoreAttachment *sm_store_section_add_model (SmStoreSection *section,
                                               guint32 uid,
                                               SmStorable *model);
SmStoreAttachment *sm_store_section_lookup (SmStoreSection *section, guint32 uid);
void sm_store_section_note (SmStoreSection *section,
                            SmStoreAttachment *attachment,
                            const char *id,
                            const char *disk_id,
                            gboolean present);
SmStoreAttachment *sm_store_section_find_entry (SmStoreSection *section,
                                                const char *disk_id,
                                                const char **id);
const char *sm_store_attachment_model_id (SmStoreAttachment *attachment, const char *id);
char *sm_store_attachment_disk_id (SmStoreAttachment *attachment, const char *id);
GVariant *sm_store_attachment_get (SmStoreAttachment *attachment,
                                   const char *id,
                                   const char *disk_id);

/* sm-store-journal.c */
gboolean sm_store_journal_open (SmStore *self, GError **error);
void sm_store_journal_close (SmStore *self);
gboolean sm_store_journal_rename (SmStore *self, const char *from, const char *to, GError **error);
gboolean sm_store_journal_prepare (SmStore *self, gsize size, GError **error);
gboolean sm_store_journal_append (SmStore *self, GString *line, GError **error);
void sm_store_journal_append_later (SmStore *self, GString *line);
gboolean sm_store_journal_flush (SmStore *self);
void sm_store_journal_sync (SmStore *self);
void sm_store_journal_cut_unsynced (SmStore *self);

/* sm-store-sync.c */
GPtrArray *sm_store_held_array_new (void);
void sm_store_sync_hold (SmStore *self,
                         GDBusMethodInvocation *invocation,
                         SmStoreUndoFunc undo,
                         gpointer data,
                         GDestroyNotify destroy);
void sm_store_sync_schedule (SmStore *self);
void sm_store_sync_commit (SmStore *self);

/* sm-store-compact.c */
void sm_store_compact_note_append (SmStore *self, gsize bytes);
void sm_store_compact_start (SmStore *self);
void sm_store_compact_stop (SmStore *self);
void sm_store_compact_wait (SmStore *self);
gboolean sm_store_compact_now (SmStore *self, GError **error);

/* sm-store-restore.c */
void sm_store_restore_pending (SmStore *self);

G_END_DECLS
