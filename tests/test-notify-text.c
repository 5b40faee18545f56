/* SPDX-License-Identifier: GPL-3.0-or-later */

#include "sm-notifier-text.h"

#include <string.h>

#define T0 G_GINT64_CONSTANT (1700000000000)

/* As SessionExpiring counts: ceil ((expires_at - now) / 60000). */
static void
test_minutes_left (void)
{
  static const struct
  {
    gint64 left;
    guint minutes;
  } cases[] = {
    { 1, 1 },      { 45000, 1 },  { 60000, 1 },  { 60001, 2 }, { 120000, 2 },
    { 120001, 3 }, { 299999, 5 }, { 300000, 5 }, { 0, 0 },     { -5000, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpuint (sm_notify_text_minutes_left (T0 + cases[i].left, T0), ==, cases[i].minutes);
}

/* The text is computed from the time left when it is shown: the same
 * warning re-posted 75 s later says so. */
static void
test_expiring_body_at_show_time (void)
{
  g_autofree char *at_warning = sm_notify_text_expiring_body (T0 + 120000, T0);
  g_autofree char *later = sm_notify_text_expiring_body (T0 + 120000, T0 + 75000);
  g_autofree char *five = sm_notify_text_expiring_body (T0 + 300000, T0 + 10);

  g_assert_cmpstr (at_warning, ==, "Signing session expires in 2 minutes");
  g_assert_cmpstr (later, ==, "Signing session expires in 1 minute");
  g_assert_cmpstr (five, ==, "Signing session expires in 5 minutes");
}

/* Peer text with control and bidi characters in every field: shown
 * without them, the body's own three lines intact. */
static void
test_request_body_sanitized (void)
{
  for (int markup = 0; markup <= 1; markup++)
    {
      g_autofree char *body = sm_notify_text_request_body ("Al\tice\x1b\xe2\x80\xae",
                                                           "1\x07.5 \xe2\x81\xa6"
                                                           "BTC",
                                                           "Rent\nfor March", markup);

      g_assert_cmpstr (body, ==,
                       "Al ice is requesting your signature\nAmount: 1.5 BTC\n"
                       "Purpose: Rent for March");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/notify-text/minutes-left", test_minutes_left);
  g_test_add_func ("/notify-text/expiring-body-at-show-time", test_expiring_body_at_show_time);
  g_test_add_func ("/notify-text/request-body-sanitized", test_request_body_sanitized);
  return g_test_run ();
}
