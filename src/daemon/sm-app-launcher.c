/* SPDX-License-Identifier: GPL-3.0-or-later */

#define G_LOG_DOMAIN "sm-app-launcher"

#include "config.h"

#include "sm-app-launcher.h"

#include <gio/gdesktopappinfo.h>

/* Hands the notification's activation token to a D-Bus-activated app too:
 * GLib asks the launch context for it, and the base class has none. */
#define SM_TYPE_APP_LAUNCHER_CONTEXT (sm_app_launcher_context_get_type ())
G_DECLARE_FINAL_TYPE (SmAppLauncherContext,
                      sm_app_launcher_context,
                      SM,
                      APP_LAUNCHER_CONTEXT,
                      GAppLaunchContext)

struct _SmAppLauncherContext
{
  GAppLaunchContext parent_instance;
  char *token;
};

G_DEFINE_TYPE (SmAppLauncherContext, sm_app_launcher_context, G_TYPE_APP_LAUNCH_CONTEXT)

static char *
sm_app_launcher_context_get_startup_notify_id (GAppLaunchContext *context,
                                               GAppInfo *info G_GNUC_UNUSED,
                                               GList *files G_GNUC_UNUSED)
{
  return g_strdup (SM_APP_LAUNCHER_CONTEXT (context)->token);
}

static void
sm_app_launcher_context_finalize (GObject *object)
{
  g_free (SM_APP_LAUNCHER_CONTEXT (object)->token);
  G_OBJECT_CLASS (sm_app_launcher_context_parent_class)->finalize (object);
}

static void
sm_app_launcher_context_class_init (SmAppLauncherContextClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sm_app_launcher_context_finalize;
  G_APP_LAUNCH_CONTEXT_CLASS (klass)->get_startup_notify_id =
      sm_app_launcher_context_get_startup_notify_id;
}

static void
sm_app_launcher_context_init (SmAppLauncherContext *self G_GNUC_UNUSED)
{
}

typedef struct
{
  char *app_id;
  char *token; /* (nullable) */
} SmAppLauncherJob;

static void
sm_app_launcher_job_free (SmAppLauncherJob *launch)
{
  g_free (launch->app_id);
  g_free (launch->token);
  g_free (launch);
}

/* In a worker thread: GLib reads the desktop files, and launches over the
 * shared session-bus connection (it D-Bus-activates the app, or announces
 * the launch), connecting it synchronously when it is not there yet. */
static void
launch_in_thread (GTask *task,
                  gpointer source G_GNUC_UNUSED,
                  gpointer task_data,
                  GCancellable *cancellable G_GNUC_UNUSED)
{
  SmAppLauncherJob *launch = task_data;
  g_autofree char *desktop_id = g_strconcat (launch->app_id, ".desktop", NULL);
  g_autoptr (GDesktopAppInfo) info = g_desktop_app_info_new (desktop_id);
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (SmAppLauncherContext) context = NULL;
  g_autoptr (GError) error = NULL;

  if (info == NULL)
    {
      g_info ("No application %s to launch", desktop_id);
      g_task_return_boolean (task, FALSE);
      return;
    }
  /* The connection GLib will use: it must not exit() the daemon when the
   * bus goes away, as the shared one does by default. */
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  if (bus != NULL)
    g_dbus_connection_set_exit_on_close (bus, FALSE);
  context = g_object_new (SM_TYPE_APP_LAUNCHER_CONTEXT, NULL);
  if (launch->token != NULL)
    {
      /* Wayland lets the app take focus only with the click's token. */
      context->token = g_strdup (launch->token);
      g_app_launch_context_setenv (G_APP_LAUNCH_CONTEXT (context), "XDG_ACTIVATION_TOKEN",
                                   launch->token);
      g_app_launch_context_setenv (G_APP_LAUNCH_CONTEXT (context), "DESKTOP_STARTUP_ID",
                                   launch->token);
    }
  if (!g_app_info_launch (G_APP_INFO (info), NULL, G_APP_LAUNCH_CONTEXT (context), &error))
    g_info ("Could not launch %s: %s", desktop_id, error->message);
  g_task_return_boolean (task, error == NULL);
}

void
sm_app_launcher_launch (const char *app_id, const char *token)
{
  g_autoptr (GTask) task = g_task_new (NULL, NULL, NULL, NULL);
  SmAppLauncherJob *launch = g_new0 (SmAppLauncherJob, 1);

  launch->app_id = g_strdup (app_id);
  launch->token = g_strdup (token);
  g_task_set_task_data (task, launch, (GDestroyNotify) sm_app_launcher_job_free);
  g_task_run_in_thread (task, launch_in_thread);
}
