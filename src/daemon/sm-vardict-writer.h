/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes an aa{sv} straight in GVariant's serialized form, into one buffer:
 * the same bytes g_variant_get_data() gives for the tree built of
 * g_variant_new_*() values, without the tree (a dozen small values per
 * entry, each allocated, serialized and freed). A listing reply
 * (GetSessions, GetSigningRequests) is built with it at each call, so
 * nothing of it is kept between calls.
 *
 *   begin, add_* for each member, end; ... finish */
typedef struct
{
  guint8 *data;      /* (owned) the aa{sv} so far */
  gsize len;         /* bytes written */
  gsize alloc;       /* bytes allocated */
  GArray *ends;      /* (owned) gsize: end of each a{sv} written */
  GArray *dict_ends; /* (owned) gsize: end of each {sv} of the open a{sv} */
  gsize dict_start;  /* where the open a{sv} starts in data */
} SmVardictWriter;

/* @reserve: the bytes expected (more are allocated as needed). */
void sm_vardict_writer_init (SmVardictWriter *self, gsize reserve);
void sm_vardict_writer_clear (SmVardictWriter *self);

void sm_vardict_writer_begin (SmVardictWriter *self);
void sm_vardict_writer_add_string (SmVardictWriter *self, const char *key, const char *value);
void sm_vardict_writer_add_int64 (SmVardictWriter *self, const char *key, gint64 value);
void sm_vardict_writer_add_uint32 (SmVardictWriter *self, const char *key, guint32 value);
void sm_vardict_writer_add_int64_array (SmVardictWriter *self,
                                        const char *key,
                                        const gint64 *values,
                                        gsize n);
void sm_vardict_writer_add_value (SmVardictWriter *self, const char *key, GVariant *value);
void sm_vardict_writer_end (SmVardictWriter *self);

/* The aa{sv} written (floating); @self is cleared. */
GVariant *sm_vardict_writer_finish (SmVardictWriter *self);
/* The a{sv} written (floating), when exactly one was; @self is cleared. */
GVariant *sm_vardict_writer_finish_one (SmVardictWriter *self);

G_END_DECLS
