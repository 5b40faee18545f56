/* SPDX-License-Identifier: GPL-3.0-or-later */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define SM_ERROR (sm_error_quark ())

/* The nicks are the D-Bus error names' last component: the table in
 * sm-error.c maps each code to org.musig2.SessionMonitor1.Error.<Name>. */
typedef enum
{
  SM_ERROR_INVALID_ARGS,
  SM_ERROR_NOT_FOUND,
  SM_ERROR_LIMIT_EXCEEDED,
  SM_ERROR_STORAGE_FAILED,
} SmError;

GQuark sm_error_quark (void);

G_END_DECLS
