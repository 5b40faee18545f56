/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include "sm-saved-vardict.h"

#include <gio/gio.h>

G_BEGIN_DECLS

/* A typed table per method for its a{sv} options (unknown keys ignored, a
 * known key of the wrong type rejected) and the caps on a whole options dict.
 * Every failure is SM_ERROR_INVALID_ARGS with a message naming the argument.
 * The checks on ids, texts and times are in sm-checks.h. */

/* The whole options dict of one call, whatever its keys, as serialized
 * (g_variant_get_size()). */
#define SM_OPTIONS_MAX_BYTES (128 * 1024)
/* Variants nested inside variants: a value of the dict is at level 1. */
#define SM_OPTIONS_MAX_VARIANT_DEPTH 16
/* Containers of any kind, the dict itself at level 1: a reply carrying a
 * value of it (GetSessions' metadata is one level deeper than in the call)
 * stays within D-Bus's 64. */
#define SM_OPTIONS_MAX_DEPTH 62

typedef gboolean (*SmOptionCheck) (const char *key, GVariant *value, GError **error);
/* The same check on a value read in place (sm_options_read_saved()). */
typedef gboolean (*SmOptionViewCheck) (const char *key,
                                       const SmSavedVardictEntry *value,
                                       GError **error);

typedef struct
{
  const char *key;
  const GVariantType *type;
  SmOptionCheck check; /* may be NULL */
  /* (nullable) check on a view; NULL with a check: a GVariant is made
   * for it */
  SmOptionViewCheck check_view;
} SmOptionSpec;

gboolean sm_options_parse (const SmOptionSpec *specs,
                           gsize n_specs,
                           GVariant *options,
                           GVariant **values,
                           GError **error);
gboolean sm_options_parse_saved (const SmOptionSpec *specs,
                                 gsize n_specs,
                                 GVariant *options,
                                 GVariant **values,
                                 GError **error);
gboolean sm_options_read_saved (const SmOptionSpec *specs,
                                gsize n_specs,
                                GVariant *options,
                                SmSavedVardictEntry *values,
                                GError **error);
void sm_options_clear (GVariant **values, gsize n_values);
gboolean sm_options_check_limits (GVariant *options, GError **error);
gboolean sm_options_validate (const SmOptionSpec *specs,
                              gsize n_specs,
                              GVariant *options,
                              GError **error);

G_END_DECLS
