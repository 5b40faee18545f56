#include "sm-error.h"

static const GDBusErrorEntry sm_error_entries[] = {
  { SM_ERROR_INVALID_ARGS, "org.musig2.SessionMonitor1.Error.InvalidArgs" },
  { SM_ERROR_NOT_FOUND, "org.musig2.SessionMonitor1.Error.NotFound" },
  { SM_ERROR_LIMIT_EXCEEDED, "org.musig2.SessionMonitor1.Error.LimitExceeded" },
  { SM_ERROR_STORAGE_FAILED, "org.musig2.SessionMonitor1.Error.StorageFailed" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (sm_error_entries) == SM_ERROR_STORAGE_FAILED + 1);

GQuark
sm_error_quark (void)
{
  static gsize quark = 0;

  /* Registering the domain makes GDBus send our codes under their D-Bus
   * names and turn them back into SM_ERROR codes in the client tools. */
  g_dbus_error_register_error_domain ("sm-error-quark", &quark, sm_error_entries,
                                      G_N_ELEMENTS (sm_error_entries));
  return (GQuark) quark;
}
