/* SPDX-License-Identifier: GPL-3.0-or-later */

/* The floor the daemon is measured against: a do-nothing GDBus server on the
 * same private bus, exporting RegisterSession with the daemon's signature at
 * the daemon's object path and interface.
 *
 * With --timers it also is the deadline-precision floor: each call's
 * expiry (and each "warn-thresholds" value before it) becomes a due time, and
 * one bare GLib main-loop timer (a GSource with a ready time) fires them in
 * order, emitting the same SessionExpiring/SessionExpired signals the daemon
 * would. The client measures both through the same bus, so the difference is
 * what the daemon itself adds.
 *
 * GetSessions answers with whatever the last SetSessions call (a bench-only
 * method) gave it: the floor of a GetSessions reply of the same bytes, a copy
 * through GDBus and the bus with nothing computed.
 *
 * With --sync FILE it is the durable floor: what no server that keeps the
 * contract's promise (a change is on disk before its reply) can beat. Each
 * RegisterSession's arguments go to FILE in one write(2), and the reply
 * waits for an fdatasync(2) that covers them: a thread syncs whatever was
 * written while its last sync ran, then answers those calls (the ideal
 * group commit: one sync in flight, nothing else done). */

#define G_LOG_DOMAIN "sm-bench-floor"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define OBJECT_PATH "/org/musig2/SessionMonitor1"
#define IFACE "org.musig2.SessionMonitor1"

static const char introspection_xml[] = "<node>"
                                        "  <interface name='" IFACE "'>"
                                        "    <method name='RegisterSession'>"
                                        "      <arg type='s' direction='in'/>"
                                        "      <arg type='x' direction='in'/>"
                                        "      <arg type='a{sv}' direction='in'/>"
                                        "    </method>"
                                        "    <method name='GetSessions'>"
                                        "      <arg type='aa{sv}' direction='out'/>"
                                        "    </method>"
                                        "    <method name='SetSessions'>"
                                        "      <arg type='aa{sv}' direction='in'/>"
                                        "    </method>"
                                        "  </interface>"
                                        "</node>";

typedef struct
{
  gint64 due_ms;
  gint64 expires_at;
  guint id_index; /* into Floor.ids */
  gboolean expiry;
} Due;

/* --sync: the calls written and waiting for their sync. */
typedef struct
{
  int fd;
  GMutex lock;
  GCond wake;
  GPtrArray *waiting; /* (owned) GDBusMethodInvocation, owned */
  gboolean stop;
  GThread *thread;
} Durable;

static gpointer
durable_run (gpointer data)
{
  Durable *d = data;

  g_mutex_lock (&d->lock);
  while (!d->stop || d->waiting->len > 0)
    {
      GPtrArray *batch = d->waiting;

      if (batch->len == 0)
        {
          g_cond_wait (&d->wake, &d->lock);
          continue;
        }
      d->waiting = g_ptr_array_new ();
      g_mutex_unlock (&d->lock);
      if (fdatasync (d->fd) < 0)
        g_printerr ("floor-server: fdatasync: %s\n", g_strerror (errno));
      for (guint i = 0; i < batch->len; i++)
        g_dbus_method_invocation_return_value (batch->pdata[i], NULL);
      g_ptr_array_unref (batch);
      g_mutex_lock (&d->lock);
    }
  g_mutex_unlock (&d->lock);
  return NULL;
}

static gboolean
durable_start (Durable *d, const char *path)
{
  d->fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (d->fd < 0)
    {
      g_printerr ("floor-server: %s: %s\n", path, g_strerror (errno));
      return FALSE;
    }
  g_mutex_init (&d->lock);
  g_cond_init (&d->wake);
  d->waiting = g_ptr_array_new ();
  d->thread = g_thread_new ("floor-sync", durable_run, d);
  return TRUE;
}

/* Writes the call's arguments; the sync thread answers it. */
static void
durable_add (Durable *d, GVariant *parameters, GDBusMethodInvocation *invocation)
{
  gsize size = g_variant_get_size (parameters);

  if (write (d->fd, g_variant_get_data (parameters), size) != (gssize) size)
    g_printerr ("floor-server: short write\n");
  g_mutex_lock (&d->lock);
  g_ptr_array_add (d->waiting, invocation);
  g_cond_signal (&d->wake);
  g_mutex_unlock (&d->lock);
}

static void
durable_stop (Durable *d)
{
  if (d->thread == NULL)
    return;
  g_mutex_lock (&d->lock);
  d->stop = TRUE;
  g_cond_signal (&d->wake);
  g_mutex_unlock (&d->lock);
  g_thread_join (d->thread);
  g_ptr_array_unref (d->waiting);
  close (d->fd);
}

typedef struct
{
  GMainLoop *loop;
  GDBusConnection *connection;
  gboolean timers;
  GArray *heap;       /* Due, binary min-heap on due_ms */
  GPtrArray *ids;     /* (owned) session ids */
  GSource *timer;     /* (owned) the one timer */
  GVariant *sessions; /* (owned) (nullable) what GetSessions returns */
  Durable durable;    /* with --sync */
} Floor;

static gboolean
due_less (const Due *a, const Due *b)
{
  return a->due_ms < b->due_ms;
}

static void
heap_push (GArray *heap, const Due *due)
{
  guint i = heap->len;

  g_array_append_val (heap, *due);
  while (i > 0)
    {
      guint parent = (i - 1) / 2;
      Due *d = &g_array_index (heap, Due, i);
      Due *p = &g_array_index (heap, Due, parent);
      Due tmp;

      if (!due_less (d, p))
        break;
      tmp = *d;
      *d = *p;
      *p = tmp;
      i = parent;
    }
}

static Due
heap_pop (GArray *heap)
{
  Due top = g_array_index (heap, Due, 0);
  guint i = 0;

  g_array_index (heap, Due, 0) = g_array_index (heap, Due, heap->len - 1);
  g_array_set_size (heap, heap->len - 1);
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;
      Due tmp;

      if (l < heap->len && due_less (&g_array_index (heap, Due, l), &g_array_index (heap, Due, m)))
        m = l;
      if (r < heap->len && due_less (&g_array_index (heap, Due, r), &g_array_index (heap, Due, m)))
        m = r;
      if (m == i)
        break;
      tmp = g_array_index (heap, Due, i);
      g_array_index (heap, Due, i) = g_array_index (heap, Due, m);
      g_array_index (heap, Due, m) = tmp;
      i = m;
    }
  return top;
}

static gint64
wall_ms (void)
{
  return g_get_real_time () / 1000;
}

/* The GLib timer runs on the monotonic clock: translate the wall due time. */
static void
floor_rearm (Floor *self)
{
  gint64 due, delta_us;

  if (self->heap->len == 0)
    {
      g_source_set_ready_time (self->timer, -1);
      return;
    }
  due = g_array_index (self->heap, Due, 0).due_ms;
  delta_us = due * 1000 - g_get_real_time ();
  g_source_set_ready_time (self->timer, g_get_monotonic_time () + MAX (delta_us, 0));
}

static gboolean
timer_dispatch (GSource *source G_GNUC_UNUSED, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

static GSourceFuncs timer_funcs = {
  .dispatch = timer_dispatch,
};

static gboolean
on_timer (gpointer user_data)
{
  Floor *self = user_data;
  gint64 now = wall_ms ();

  /* Never early: the monotonic and wall clocks may drift apart slightly. */
  while (self->heap->len > 0 && g_array_index (self->heap, Due, 0).due_ms <= now)
    {
      Due due = heap_pop (self->heap);
      const char *id = g_ptr_array_index (self->ids, due.id_index);

      if (due.expiry)
        g_dbus_connection_emit_signal (self->connection, NULL, OBJECT_PATH, IFACE, "SessionExpired",
                                       g_variant_new ("(ss)", id, "signing"), NULL);
      else
        g_dbus_connection_emit_signal (
            self->connection, NULL, OBJECT_PATH, IFACE, "SessionExpiring",
            g_variant_new ("(sxus)", id, due.expires_at,
                           (guint32) ((due.expires_at - now + 59999) / 60000), "signing"),
            NULL);
    }
  floor_rearm (self);
  return G_SOURCE_CONTINUE;
}

static void
floor_add_timers (Floor *self, const char *id, gint64 expires_at, GVariant *options)
{
  g_autoptr (GVariant) thresholds =
      g_variant_lookup_value (options, "warn-thresholds", G_VARIANT_TYPE ("ax"));
  Due due = { expires_at, expires_at, self->ids->len, TRUE };

  g_ptr_array_add (self->ids, g_strdup (id));
  heap_push (self->heap, &due);
  for (gsize i = 0; thresholds != NULL && i < g_variant_n_children (thresholds); i++)
    {
      gint64 t;

      g_variant_get_child (thresholds, i, "x", &t);
      due.due_ms = expires_at - t;
      due.expiry = FALSE;
      heap_push (self->heap, &due);
    }
  floor_rearm (self);
}

static void
on_method_call (GDBusConnection *connection G_GNUC_UNUSED,
                const char *sender G_GNUC_UNUSED,
                const char *object_path G_GNUC_UNUSED,
                const char *interface_name G_GNUC_UNUSED,
                const char *method_name,
                GVariant *parameters,
                GDBusMethodInvocation *invocation,
                gpointer user_data)
{
  Floor *self = user_data;

  if (g_str_equal (method_name, "SetSessions"))
    {
      g_clear_pointer (&self->sessions, g_variant_unref);
      self->sessions = g_variant_get_child_value (parameters, 0);
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  if (g_str_equal (method_name, "GetSessions"))
    {
      GVariant *list =
          self->sessions != NULL ? g_variant_ref (self->sessions) : g_variant_new ("aa{sv}", NULL);

      g_dbus_method_invocation_return_value (invocation, g_variant_new_tuple (&list, 1));
      return;
    }
  if (self->timers)
    {
      const char *id;
      gint64 expires_at;
      g_autoptr (GVariant) options = NULL;

      g_variant_get (parameters, "(&sx@a{sv})", &id, &expires_at, &options);
      floor_add_timers (self, id, expires_at, options);
    }
  if (self->durable.thread != NULL)
    durable_add (&self->durable, parameters, invocation);
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static const GDBusInterfaceVTable vtable = { on_method_call, NULL, NULL, { 0 } };

static gboolean
on_quit (gpointer user_data)
{
  g_main_loop_quit (((Floor *) user_data)->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_name_lost (GDBusConnection *connection G_GNUC_UNUSED, const char *name, gpointer user_data)
{
  g_printerr ("floor-server: could not own %s\n", name);
  g_main_loop_quit (((Floor *) user_data)->loop);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusNodeInfo) info = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autofree char *name = NULL;
  g_autofree char *sync_path = NULL;
  gboolean timers = FALSE;
  Floor self = { 0 };
  guint owner_id;
  const GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Bus name to own", "NAME" },
    { "timers", 0, 0, G_OPTION_ARG_NONE, &timers, "Fire the registered deadlines", NULL },
    { "sync", 0, 0, G_OPTION_ARG_FILENAME, &sync_path, "Write each call and sync before its reply",
      "FILE" },
    G_OPTION_ENTRY_NULL,
  };

#ifdef __GLIBC__
  /* As the daemon (src/daemon/main.c): large buffers in mappings of their
   * own, so that the RSS figures of the two compare. */
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
#endif

  context = g_option_context_new (NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("floor-server: %s\n", error->message);
      return EXIT_FAILURE;
    }

  if (sync_path != NULL && !durable_start (&self.durable, sync_path))
    return EXIT_FAILURE;
  self.timers = timers;
  self.heap = g_array_new (FALSE, FALSE, sizeof (Due));
  self.ids = g_ptr_array_new_with_free_func (g_free);
  self.loop = g_main_loop_new (NULL, FALSE);
  self.timer = g_source_new (&timer_funcs, sizeof (GSource));
  g_source_set_callback (self.timer, on_timer, &self, NULL);
  g_source_attach (self.timer, NULL);

  self.connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  info = g_dbus_node_info_new_for_xml (introspection_xml, &error);
  if (self.connection == NULL || info == NULL
      || g_dbus_connection_register_object (self.connection, OBJECT_PATH, info->interfaces[0],
                                            &vtable, &self, NULL, &error)
             == 0)
    {
      g_printerr ("floor-server: %s\n", error->message);
      return EXIT_FAILURE;
    }
  owner_id =
      g_bus_own_name_on_connection (self.connection, name ? name : "org.musig2.SessionMonitorFloor",
                                    G_BUS_NAME_OWNER_FLAGS_NONE, NULL, on_name_lost, &self, NULL);
  g_unix_signal_add (SIGTERM, on_quit, &self);
  g_unix_signal_add (SIGINT, on_quit, &self);
  g_main_loop_run (self.loop);

  g_bus_unown_name (owner_id);
  durable_stop (&self.durable);
  g_source_destroy (self.timer);
  g_source_unref (self.timer);
  g_object_unref (self.connection);
  g_main_loop_unref (self.loop);
  g_array_unref (self.heap);
  g_ptr_array_unref (self.ids);
  g_clear_pointer (&self.sessions, g_variant_unref);
  return EXIT_SUCCESS;
}
