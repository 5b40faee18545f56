/* SPDX-License-Identifier: GPL-3.0-or-later */

#include "sm-error.h"
#include "sm-names.h"

static const GDBusErrorEntry sm_error_entries[] = {
  { SM_ERROR_INVALID_ARGS, SM_ERROR_PREFIX "InvalidArgs" },
  { SM_ERROR_NOT_FOUND, SM_ERROR_PREFIX "NotFound" },
  { SM_ERROR_LIMIT_EXCEEDED, SM_ERROR_PREFIX "LimitExceeded" },
  { SM_ERROR_STORAGE_FAILED, SM_ERROR_PREFIX "StorageFailed" },
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
