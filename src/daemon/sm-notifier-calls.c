/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-notifier"

#include "config.h"

#include "sm-notifier-calls.h"

#include "sm-notifier.h"

/* Bounds on the calls a server that does not answer can hold: one Notify
 * per item on screen and some slack for the ones withdrawn on their way;
 * closes are fire-and-forget. */
#define SM_NOTIFIER_MAX_NOTIFIES (2 * (SM_NOTIFIER_MAX_ON_SCREEN + 1))
#define SM_NOTIFIER_MAX_CLOSES 32
#define SM_NOTIFIER_STALL_SECONDS 25

struct _SmNotifierCalls
{
  SmNotifierServer *server; /* (owned) */
  guint notifies_in_flight; /* at most SM_NOTIFIER_MAX_NOTIFIES */
  guint closes_in_flight;   /* at most SM_NOTIFIER_MAX_CLOSES */
  guint stall_id;           /* no answer for a while: logged */
  gboolean said_stalled;
  gboolean said_close_dropped;
};

SmNotifierCalls *
sm_notifier_calls_new (SmNotifierServer *server)
{
  SmNotifierCalls *self = g_new0 (SmNotifierCalls, 1);

  self->server = g_object_ref (server);
  return self;
}

void
sm_notifier_calls_free (SmNotifierCalls *self)
{
  g_clear_handle_id (&self->stall_id, g_source_remove);
  g_clear_object (&self->server);
  g_free (self);
}

static gboolean
on_stalled (gpointer user_data)
{
  SmNotifierCalls *self = user_data;

  self->stall_id = 0;
  if (!self->said_stalled)
    g_message ("The notification server has not answered for %d s; notifications wait for it "
               "(at most %d calls), nothing else does",
               SM_NOTIFIER_STALL_SECONDS, SM_NOTIFIER_MAX_NOTIFIES + SM_NOTIFIER_MAX_CLOSES);
  self->said_stalled = TRUE;
  return G_SOURCE_REMOVE;
}

/* Called on every call and answer: the stall clock runs while calls are in
 * flight and no answer comes. */
static void
watch_stall (SmNotifierCalls *self, gboolean answered)
{
  if (answered)
    {
      g_clear_handle_id (&self->stall_id, g_source_remove);
      if (self->said_stalled)
        g_message ("The notification server answers again");
      self->said_stalled = FALSE;
    }
  if (self->stall_id == 0 && self->notifies_in_flight + self->closes_in_flight > 0)
    self->stall_id = g_timeout_add_seconds (SM_NOTIFIER_STALL_SECONDS, on_stalled, self);
}

gboolean
sm_notifier_calls_can_notify (SmNotifierCalls *self)
{
  return sm_notifier_server_is_ready (self->server)
         && self->notifies_in_flight < SM_NOTIFIER_MAX_NOTIFIES;
}

void
sm_notifier_calls_notify (SmNotifierCalls *self,
                          GVariant *params,
                          GAsyncReadyCallback callback,
                          gpointer user_data)
{
  if (!sm_notifier_server_call (self->server, "Notify", params, callback, user_data))
    return;
  self->notifies_in_flight++;
  watch_stall (self, FALSE);
}

GVariant *
sm_notifier_calls_notify_finish (SmNotifierCalls *self, GAsyncResult *result, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  GVariant *reply = sm_notifier_server_call_finish (result, &local_error);

  /* The server left, or the notifier is going: nothing of ours to count. */
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self->notifies_in_flight--;
      watch_stall (self, TRUE);
    }
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return reply;
}

static void
on_close_done (GObject *source G_GNUC_UNUSED, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  SmNotifierCalls *self = user_data;

  reply = sm_notifier_server_call_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    g_debug ("Closing a notification failed: %s", error->message);
  self->closes_in_flight--;
  watch_stall (self, TRUE);
}

void
sm_notifier_calls_close (SmNotifierCalls *self, guint32 id)
{
  if (id == 0 || !sm_notifier_server_is_ready (self->server))
    return;
  if (self->closes_in_flight >= SM_NOTIFIER_MAX_CLOSES)
    {
      if (!self->said_close_dropped)
        g_message ("The notification server does not answer CloseNotification; "
                   "notification %u is left to it",
                   id);
      self->said_close_dropped = TRUE;
      return;
    }
  if (sm_notifier_server_call (self->server, "CloseNotification", g_variant_new ("(u)", id),
                               on_close_done, self))
    {
      self->closes_in_flight++;
      watch_stall (self, FALSE);
    }
}

void
sm_notifier_calls_reset (SmNotifierCalls *self)
{
  g_clear_handle_id (&self->stall_id, g_source_remove);
  self->notifies_in_flight = 0;
  self->closes_in_flight = 0;
  self->said_stalled = FALSE;
  self->said_close_dropped = FALSE;
}
