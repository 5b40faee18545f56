/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-service"

#include "sm-service-private.h"

#include "sm-options.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

/* A change a call makes, on its way to the disk: made only when the store
 * can make it durable, answered once it is, taken back when it cannot be. */

#ifdef __GLIBC__
static guint trim_id;

static gboolean
trim_memory (gpointer user_data G_GNUC_UNUSED)
{
  trim_id = 0;
  malloc_trim (0);
  return G_SOURCE_REMOVE;
}
#endif

/* GDBus parses a call into a tree of small values before any handler sees
 * it: an options dict far over its cap (1.5 million keys fit in one
 * message) takes hundreds of MiB in the GDBus thread's arena, which malloc
 * keeps once freed. Once such a call is refused, give that back. */
static void
release_large_call (GDBusMethodInvocation *invocation)
{
#ifdef __GLIBC__
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);

  if (trim_id == 0 && g_variant_get_size (parameters) > SM_OPTIONS_MAX_BYTES)
    trim_id = g_idle_add_full (G_PRIORITY_LOW, trim_memory, NULL, NULL);
#else
  (void) invocation;
#endif
}

/* Rejected calls are logged once each, at info level: a misbehaving client
 * must not be able to turn the log into the load. */
gboolean
sm_service_return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  g_info ("%s from %s rejected: %s", g_dbus_method_invocation_get_method_name (invocation),
          g_dbus_method_invocation_get_sender (invocation), error->message);
  release_large_call (invocation);
  g_dbus_method_invocation_return_gerror (invocation, error);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* A change is made only when the store can make it durable (else
 * StorageFailed, nothing changed); its record is at most a few times the
 * call's arguments (base64, JSON quoting). */
gboolean
sm_service_prepare_change (SmService *self, GDBusMethodInvocation *invocation, GError **error)
{
  GVariant *parameters = g_dbus_method_invocation_get_parameters (invocation);

  return self->store == NULL
         || sm_store_prepare (self->store, 3 * g_variant_get_size (parameters) + 4096, error);
}

/* What one entry was before a change, to put back if the change cannot be
 * made durable. Taken back, an entry goes through its model's ordinary
 * paths, so that whatever showed the change follows: a new session is
 * unregistered (SessionUnregistered, reason "storage-failed"), a new
 * request's notification withdrawn; a replaced or unregistered entry is
 * restored with its old values (the interface has no registration signal,
 * so that is seen in GetSessions only). */
struct _SmUndo
{
  SmChangeKind kind;
  GObject *model; /* (owned) */
  char *id;
  GVariant *before; /* (owned) (nullable): NULL when there was none */
};

void
sm_undo_free (SmUndo *undo)
{
  g_object_unref (undo->model);
  g_free (undo->id);
  g_clear_pointer (&undo->before, g_variant_unref);
  g_free (undo);
}

static GVariant *
entry_before (SmChangeKind kind, GObject *model, const char *id)
{
  switch (kind)
    {
    case SM_CHANGE_SESSION:
      {
        const SmSession *session = sm_sessions_lookup (SM_SESSIONS (model), id);

        return session != NULL ? sm_session_to_variant (session) : NULL;
      }
    case SM_CHANGE_REQUEST:
      {
        const SmRequest *request = sm_requests_lookup (SM_REQUESTS (model), id);

        return request != NULL ? sm_request_to_variant (request) : NULL;
      }
    case SM_CHANGE_PRESENCE:
    default:
      return sm_presence_is_configured (SM_PRESENCE (model))
                 ? sm_presence_to_variant (SM_PRESENCE (model))
                 : NULL;
    }
}

#define SM_UNDO_REASON "storage-failed"

static void
undo_run (gpointer data)
{
  SmUndo *undo = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  switch (undo->kind)
    {
    case SM_CHANGE_SESSION:
      if (undo->before != NULL)
        ok = sm_sessions_restore (SM_SESSIONS (undo->model), undo->before, &error);
      else if (sm_sessions_lookup (SM_SESSIONS (undo->model), undo->id) != NULL)
        ok = sm_sessions_unregister (SM_SESSIONS (undo->model), undo->id, SM_UNDO_REASON, &error);
      break;
    case SM_CHANGE_REQUEST:
      if (undo->before != NULL)
        ok = sm_requests_restore (SM_REQUESTS (undo->model), undo->before, &error);
      else if (sm_requests_lookup (SM_REQUESTS (undo->model), undo->id) != NULL)
        /* The reasons of a request are a closed list: the closest one. */
        ok = sm_requests_unregister (SM_REQUESTS (undo->model), undo->id, "cancelled", &error);
      break;
    case SM_CHANGE_PRESENCE:
      if (undo->before != NULL)
        ok = sm_presence_restore (SM_PRESENCE (undo->model), undo->before, &error);
      else
        sm_presence_stop (SM_PRESENCE (undo->model));
      break;
    }
  if (!ok)
    g_warning ("Cannot take back a change that could not be made durable (%s): %s", undo->id,
               error->message);
}

/* Taken before a change that the store may refuse after it is made. */
SmUndo *
sm_service_keep_undo (SmService *self, SmChangeKind kind, gpointer model, const char *id)
{
  SmUndo *undo;
  GVariant *before;

  if (self->store == NULL)
    return NULL;
  undo = g_new0 (SmUndo, 1);
  undo->kind = kind;
  undo->model = g_object_ref (G_OBJECT (model));
  undo->id = g_strdup (id);
  before = entry_before (kind, undo->model, id);
  undo->before = before != NULL ? g_variant_ref_sink (before) : NULL;
  return undo;
}

/* The reply to a change waits until it is on disk (the store syncs the
 * changes of one main-loop iteration together); if it cannot be, @undo
 * (taken over; nullable) puts back what it changed. */
gboolean
sm_service_complete_change (SmService *self, GDBusMethodInvocation *invocation, SmUndo *undo)
{
  if (self->store != NULL)
    sm_store_complete_full (self->store, invocation, undo != NULL ? undo_run : NULL, undo,
                            undo != NULL ? (GDestroyNotify) sm_undo_free : NULL);
  else
    {
      g_clear_pointer (&undo, sm_undo_free);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Adds (or replaces) the session or signing request @entry that the call
 * checked in full, or refuses the call with @check_error when @entry is
 * NULL. Every argument is checked (InvalidArgs, LimitExceeded) before the
 * store is asked (StorageFailed): a bad call is told what is wrong with it
 * whatever the disk's state. Takes @entry over. */
gboolean
sm_service_add_entry (SmService *self,
                      GDBusMethodInvocation *invocation,
                      SmChangeKind kind,
                      gpointer model,
                      const char *id,
                      gpointer entry,
                      const GError *check_error)
{
  g_autoptr (GError) error = NULL;
  SmUndo *undo;

  if (entry == NULL)
    return sm_service_return_error (invocation, check_error);
  if (!sm_service_prepare_change (self, invocation, &error))
    {
      if (kind == SM_CHANGE_SESSION)
        sm_sessions_discard (entry);
      else
        sm_requests_discard (entry);
      return sm_service_return_error (invocation, error);
    }
  undo = sm_service_keep_undo (self, kind, model, id);
  if (kind == SM_CHANGE_SESSION)
    sm_sessions_apply (model, entry);
  else
    sm_requests_apply (model, entry);
  return sm_service_complete_change (self, invocation, undo);
}

static gboolean
unregister_entry (SmChangeKind kind,
                  gpointer model,
                  const char *id,
                  const char *reason,
                  GError **error)
{
  return kind == SM_CHANGE_SESSION ? sm_sessions_unregister (model, id, reason, error)
                                   : sm_requests_unregister (model, id, reason, error);
}

/* Unregisters a session or signing request: NotFound and InvalidArgs come
 * before StorageFailed. */
gboolean
sm_service_remove_entry (SmService *self,
                         GDBusMethodInvocation *invocation,
                         SmChangeKind kind,
                         gpointer model,
                         const char *id,
                         const char *reason)
{
  g_autoptr (GError) error = NULL;
  SmUndo *undo;

  if (!(kind == SM_CHANGE_SESSION ? sm_sessions_check_unregister (model, id, reason, &error)
                                  : sm_requests_check_unregister (model, id, reason, &error))
      || !sm_service_prepare_change (self, invocation, &error))
    return sm_service_return_error (invocation, error);
  undo = sm_service_keep_undo (self, kind, model, id);
  /* Checked above, so never refused here. */
  if (!unregister_entry (kind, model, id, reason, &error))
    {
      g_clear_pointer (&undo, sm_undo_free);
      return sm_service_return_error (invocation, error);
    }
  return sm_service_complete_change (self, invocation, undo);
}
