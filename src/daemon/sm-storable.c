/* SPDX-License-Identifier: GPL-3.0-or-later */

#include "sm-storable.h"

G_DEFINE_INTERFACE (SmStorable, sm_storable, G_TYPE_OBJECT)

static guint changed_signal;

static void
sm_storable_default_init (SmStorableInterface *iface)
{
  /* (id): what the durable state holds under @id changed; serialize()
   * returns NULL when the entry is gone. */
  changed_signal = g_signal_new ("changed", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST, 0,
                                 NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

GVariant *
sm_storable_serialize (SmStorable *self, const char *id)
{
  g_return_val_if_fail (SM_IS_STORABLE (self), NULL);

  return SM_STORABLE_GET_IFACE (self)->serialize (self, id);
}

gboolean
sm_storable_restore (SmStorable *self, GVariant *entry, GError **error)
{
  g_return_val_if_fail (SM_IS_STORABLE (self), FALSE);

  return SM_STORABLE_GET_IFACE (self)->restore (self, entry, error);
}

/* May run on a helper thread (see prepare()). */
gpointer
sm_storable_prepare (SmStorable *self, GVariant *entry, GError **error)
{
  SmStorableInterface *iface = SM_STORABLE_GET_IFACE (self);

  return iface->prepare != NULL ? iface->prepare (self, entry, error) : NULL;
}

gboolean
sm_storable_restore_prepared (SmStorable *self, gpointer prepared, GError **error)
{
  g_return_val_if_fail (SM_IS_STORABLE (self), FALSE);

  return SM_STORABLE_GET_IFACE (self)->restore_prepared (self, prepared, error);
}

void
sm_storable_changed (SmStorable *self, const char *id)
{
  g_return_if_fail (SM_IS_STORABLE (self));

  g_signal_emit (self, changed_signal, 0, id);
}
