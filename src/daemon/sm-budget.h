/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Byte budgets: what a user's state (sessions, signing requests and presence
 * together) may take, so that every documented limit is also safe for the
 * daemon's memory, its state file and its replies (the largest GetSessions
 * stays far below D-Bus's message and array limits).
 *
 * Each entry counts its size as serialized: its D-Bus form (as GetSessions,
 * GetSigningRequests or GetPresence send it; up to 8 times its GVariant form
 * for some types, e.g. an a(y)), or its GVariant form (as the daemon keeps it
 * and the state file holds it) where that is larger: for a session, the
 * GVariant form of its metadata. Computed without building the entry
 * (sm_dbus_add_*()), it costs a walk of the metadata only. A
 * budget may have a parent that is charged too: in system mode every user's
 * budget is part of one for all users together. */

#define SM_BUDGET_USER_BYTES ((gsize) 16 * 1024 * 1024)

typedef struct _SmBudget SmBudget;

SmBudget *sm_budget_new (const char *name, gsize limit, SmBudget *parent);
SmBudget *sm_budget_ref (SmBudget *self);
void sm_budget_unref (SmBudget *self);

gboolean sm_budget_check (SmBudget *self,
                          gsize old_size,
                          gsize new_size,
                          const char *arg_name,
                          const char *id,
                          GError **error);
void sm_budget_charge (SmBudget *self, gsize old_size, gsize new_size);
gsize sm_budget_get_used (SmBudget *self);
gsize sm_budget_get_limit (SmBudget *self);

gsize sm_variant_dbus_size (GVariant *value);
gsize sm_budget_entry_size (GVariant *entry);

/* An a{sv} entry's D-Bus size without building it: start with
 * sm_dbus_dict_start(), add each member, the result is its size. */
gsize sm_dbus_dict_start (void);
gsize sm_dbus_add_string (gsize offset, const char *key, const char *value);
gsize sm_dbus_add_int64 (gsize offset, const char *key);
gsize sm_dbus_add_uint32 (gsize offset, const char *key);
gsize sm_dbus_add_int64_array (gsize offset, const char *key, gsize n);
gsize sm_dbus_add_value (gsize offset, const char *key, GVariant *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SmBudget, sm_budget_unref)

G_END_DECLS
