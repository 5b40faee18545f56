/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The system-bus fan-out on a private bus (GTestDBus): every signal reaches
 * a subscribed listener once, in order, through the paced window; a user's
 * queue past its bound drops (and says so); unsubscribed listeners get
 * nothing. */

#include "sm-callers.h"
#include "sm-fanout.h"

#define PATH "/org/example/Fanout"
#define IFACE "org.example.Fanout"

typedef struct
{
  GTestDBus *bus;
  GDBusConnection *daemon; /* the side that emits */
  GDBusConnection *client; /* the listener */
  SmCallers *callers;
  SmFanout *fanout;
  guint registration;
  guint32 uid;
  /* The listener runs in a thread of its own, as a client process would:
   * the daemon side's main context is not also the client's. */
  GThread *thread;
  GMainContext *client_context;
  gint stop;
  gint subscribed;
  GMutex lock;
  GPtrArray *received; /* (element-type utf8) the first argument of each signal */
} Fixture;

static void
on_ready (GDBusMethodInvocation *invocation, guint32 uid, const GError *error, gpointer user_data)
{
  Fixture *fixture = user_data;
  const char *method = g_dbus_method_invocation_get_method_name (invocation);
  const char *sender = g_dbus_method_invocation_get_sender (invocation);

  g_assert_no_error (error);
  fixture->uid = uid;
  if (g_str_equal (method, "Subscribe"))
    g_assert_true (sm_callers_subscribe (fixture->callers, sender, NULL));
  else
    sm_callers_unsubscribe (fixture->callers, sender);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
on_method_call (GDBusConnection *connection G_GNUC_UNUSED,
                const char *sender G_GNUC_UNUSED,
                const char *path G_GNUC_UNUSED,
                const char *interface G_GNUC_UNUSED,
                const char *method G_GNUC_UNUSED,
                GVariant *parameters G_GNUC_UNUSED,
                GDBusMethodInvocation *invocation,
                gpointer user_data)
{
  Fixture *fixture = user_data;

  sm_callers_resolve (fixture->callers, invocation);
}

static void
on_signal (GDBusConnection *connection G_GNUC_UNUSED,
           const char *sender G_GNUC_UNUSED,
           const char *path G_GNUC_UNUSED,
           const char *interface G_GNUC_UNUSED,
           const char *signal G_GNUC_UNUSED,
           GVariant *parameters,
           gpointer user_data)
{
  Fixture *fixture = user_data;
  const char *id;

  g_variant_get (parameters, "(&s)", &id);
  g_mutex_lock (&fixture->lock);
  g_ptr_array_add (fixture->received, g_strdup (id));
  g_mutex_unlock (&fixture->lock);
}

static guint
n_received (Fixture *fixture)
{
  guint n;

  g_mutex_lock (&fixture->lock);
  n = fixture->received->len;
  g_mutex_unlock (&fixture->lock);
  return n;
}

static gpointer
listen_thread (gpointer data)
{
  Fixture *fixture = data;
  guint id;

  g_main_context_push_thread_default (fixture->client_context);
  id = g_dbus_connection_signal_subscribe (fixture->client, NULL, IFACE, "Tick", PATH, NULL,
                                           G_DBUS_SIGNAL_FLAGS_NONE, on_signal, fixture, NULL);
  /* The match rule is in place once the bus answers a later call. */
  g_variant_unref (g_dbus_connection_call_sync (
      fixture->client, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetId", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL));
  g_atomic_int_set (&fixture->subscribed, TRUE);
  while (!g_atomic_int_get (&fixture->stop))
    g_main_context_iteration (fixture->client_context, TRUE);
  g_dbus_connection_signal_unsubscribe (fixture->client, id);
  g_main_context_pop_thread_default (fixture->client_context);
  return NULL;
}

static GDBusConnection *
connect_to (GTestDBus *bus)
{
  g_autoptr (GError) error = NULL;
  GDBusConnection *connection =
      g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus),
                                              G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                                                  | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                              NULL, NULL, &error);

  g_assert_no_error (error);
  return connection;
}

static void
on_called (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply =
      g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  *done = TRUE;
}

/* The client calls @method on the daemon side; the main context runs both. */
static void
client_call (Fixture *fixture, const char *method)
{
  gboolean done = FALSE;

  g_dbus_connection_call (fixture->client, g_dbus_connection_get_unique_name (fixture->daemon),
                          PATH, IFACE, method, NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_called, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* Waits until @n signals arrived (or 10 s passed, scaled by
 * SM_TEST_SLOWDOWN under valgrind), then a little longer. Sleeps a moment
 * when nothing is ready, so that the bus and the listener thread get the
 * CPU. */
static void
wait_for_signals (Fixture *fixture, guint n)
{
  const char *slowdown = g_getenv ("SM_TEST_SLOWDOWN");
  double factor = MAX (1.0, slowdown != NULL ? g_ascii_strtod (slowdown, NULL) : 1.0);
  gint64 end = g_get_monotonic_time () + (gint64) (factor * 10 * G_USEC_PER_SEC);

  while (n_received (fixture) < n && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  end = g_get_monotonic_time () + G_USEC_PER_SEC / 5;
  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data G_GNUC_UNUSED)
{
  static const GDBusInterfaceVTable vtable = { on_method_call, NULL, NULL, { 0 } };
  g_autoptr (GDBusNodeInfo) node = NULL;
  g_autoptr (GError) error = NULL;

  fixture->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (fixture->bus);
  fixture->daemon = connect_to (fixture->bus);
  fixture->client = connect_to (fixture->bus);
  fixture->received = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&fixture->lock);
  fixture->client_context = g_main_context_new ();
  fixture->thread = g_thread_new ("listener", listen_thread, fixture);
  while (!g_atomic_int_get (&fixture->subscribed))
    g_usleep (1000);

  node = g_dbus_node_info_new_for_xml ("<node><interface name='" IFACE "'>"
                                       "<method name='Subscribe'/><method name='Unsubscribe'/>"
                                       "</interface></node>",
                                       &error);
  g_assert_no_error (error);
  fixture->registration = g_dbus_connection_register_object (
      fixture->daemon, PATH, node->interfaces[0], &vtable, fixture, NULL, &error);
  g_assert_no_error (error);
  fixture->callers = sm_callers_new (fixture->daemon, on_ready, fixture);
  fixture->fanout = sm_fanout_new (fixture->daemon, fixture->callers, PATH, IFACE);
  client_call (fixture, "Subscribe");
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data G_GNUC_UNUSED)
{
  g_atomic_int_set (&fixture->stop, TRUE);
  g_main_context_wakeup (fixture->client_context);
  g_thread_join (fixture->thread);
  g_main_context_unref (fixture->client_context);
  g_mutex_clear (&fixture->lock);
  g_clear_object (&fixture->fanout);
  g_clear_object (&fixture->callers);
  g_dbus_connection_unregister_object (fixture->daemon, fixture->registration);
  g_dbus_connection_close_sync (fixture->client, NULL, NULL);
  g_dbus_connection_close_sync (fixture->daemon, NULL, NULL);
  g_clear_object (&fixture->client);
  g_clear_object (&fixture->daemon);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);
  g_clear_pointer (&fixture->received, g_ptr_array_unref);
}

static void
emit (Fixture *fixture, guint32 uid, guint i)
{
  g_autofree char *id = g_strdup_printf ("%u", i);

  sm_fanout_emit (fixture->fanout, uid, "Tick", g_variant_new ("(s)", id));
}

/* Far more than one window at once: all arrive, once each, in order. */
static void
test_paced_in_order (Fixture *fixture, gconstpointer data G_GNUC_UNUSED)
{
  const guint n = 8 * SM_FANOUT_WINDOW + 3;

  for (guint i = 0; i < n; i++)
    emit (fixture, fixture->uid, i);
  /* Another user's signal goes to its own listeners only: none here. */
  emit (fixture, fixture->uid + 1, n);
  wait_for_signals (fixture, n);
  g_assert_cmpuint (fixture->received->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("%u", i);

      g_assert_cmpstr (fixture->received->pdata[i], ==, id);
    }
}

/* What one user has waiting is bounded: past it signals are dropped, with
 * one warning, and everything before arrives. */
static void
test_queue_bounded (Fixture *fixture, gconstpointer data G_GNUC_UNUSED)
{
  const guint n = SM_FANOUT_WINDOW + SM_FANOUT_MAX_QUEUED + 100;

  g_test_expect_message ("sm-fanout", G_LOG_LEVEL_WARNING, "*signals waiting*dropping more*");
  for (guint i = 0; i < n; i++)
    emit (fixture, fixture->uid, i);
  g_test_assert_expected_messages ();
  /* Nothing was answered yet: one window went out, the bound waits. */
  g_assert_cmpuint (sm_fanout_get_queued (fixture->fanout, fixture->uid), ==, SM_FANOUT_MAX_QUEUED);
  g_assert_cmpuint (sm_fanout_get_queued (fixture->fanout, fixture->uid + 1), ==, 0);
  wait_for_signals (fixture, SM_FANOUT_WINDOW);
  g_assert_cmpuint (n_received (fixture), >=, SM_FANOUT_WINDOW);
}

/* Unsubscribed: nothing more arrives; subscribed again: it does. */
static void
test_unsubscribe (Fixture *fixture, gconstpointer data G_GNUC_UNUSED)
{
  client_call (fixture, "Unsubscribe");
  client_call (fixture, "Unsubscribe");
  emit (fixture, fixture->uid, 1);
  wait_for_signals (fixture, 0);
  g_assert_cmpuint (n_received (fixture), ==, 0);
  client_call (fixture, "Subscribe");
  /* From one sender in order: had "1" gone out, it would come first. */
  emit (fixture, fixture->uid, 2);
  wait_for_signals (fixture, 1);
  g_assert_cmpuint (fixture->received->len, ==, 1);
  g_assert_cmpstr (fixture->received->pdata[0], ==, "2");
}

/* The daemon side's connection is replaced: the listener is checked again
 * on the new one and still subscribed, and what waited goes out there. */
static void
test_new_connection (Fixture *fixture, gconstpointer data G_GNUC_UNUSED)
{
  g_autoptr (GDBusConnection) second = connect_to (fixture->bus);
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  const guint n = 2 * SM_FANOUT_WINDOW;

  for (guint i = 0; i < n; i++)
    emit (fixture, fixture->uid, i);
  sm_callers_set_connection (fixture->callers, second);
  sm_fanout_set_connection (fixture->fanout, second);
  wait_for_signals (fixture, n);
  g_assert_cmpuint (fixture->received->len, ==, n);
  g_assert_cmpuint (sm_callers_get_size (fixture->callers), ==, 1);
  /* Over two connections the bus may interleave them: each once. */
  for (guint i = 0; i < n; i++)
    g_hash_table_add (ids, fixture->received->pdata[i]);
  g_assert_cmpuint (g_hash_table_size (ids), ==, n);
  sm_fanout_set_connection (fixture->fanout, fixture->daemon);
  sm_callers_set_connection (fixture->callers, fixture->daemon);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/fanout/paced-in-order", Fixture, NULL, fixture_set_up, test_paced_in_order,
              fixture_tear_down);
  g_test_add ("/fanout/queue-bounded", Fixture, NULL, fixture_set_up, test_queue_bounded,
              fixture_tear_down);
  g_test_add ("/fanout/unsubscribe", Fixture, NULL, fixture_set_up, test_unsubscribe,
              fixture_tear_down);
  g_test_add ("/fanout/new-connection", Fixture, NULL, fixture_set_up, test_new_connection,
              fixture_tear_down);
  return g_test_run ();
}
