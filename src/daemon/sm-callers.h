/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Who is calling, in system-bus mode: the Unix user behind each unique bus
 * name, asked once from the bus (GetConnectionUnixUser) and cached until the
 * name leaves the bus. Calls that arrive while the answer is on its way wait,
 * in order, and are handed back through the ready function, which takes
 * the invocation over (transfer full) and answers it.
 *
 * The table also says which connections listen: the subscribed ones get
 * their user's signals. It survives a reconnect of the daemon (unique names
 * stay valid on the bus; each is checked again on the new connection). */

/* At most this many connections of one Unix user are subscribed at once:
 * each signal is sent once per listener, so this bounds what one user's
 * burst costs the daemon and the bus. */
#define SM_CALLERS_MAX_LISTENERS_PER_USER 16

typedef void (*SmCallersReadyFunc) (GDBusMethodInvocation *invocation,
                                    guint32 uid,
                                    const GError *error,
                                    gpointer user_data);

#define SM_TYPE_CALLERS (sm_callers_get_type ())
G_DECLARE_FINAL_TYPE (SmCallers, sm_callers, SM, CALLERS, GObject)

SmCallers *sm_callers_new (GDBusConnection *connection,
                           SmCallersReadyFunc ready,
                           gpointer user_data);

gboolean sm_callers_lookup (SmCallers *self, const char *name, guint32 *uid);
void sm_callers_resolve (SmCallers *self, GDBusMethodInvocation *invocation);
gboolean sm_callers_subscribe (SmCallers *self, const char *name, GError **error);
void sm_callers_unsubscribe (SmCallers *self, const char *name);
GPtrArray *sm_callers_list_names (SmCallers *self, guint32 uid);
guint sm_callers_get_size (SmCallers *self);
void sm_callers_set_connection (SmCallers *self, GDBusConnection *connection);

G_END_DECLS
