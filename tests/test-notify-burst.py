#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A burst of expiries is laid out once it settles: hundreds of sessions
expiring within one second give at most 3 + 1 Notify calls (two sessions
and one summary that says how many more), never one per session, while
every SessionExpired signal still comes, in deadline order."""

from gi.repository import Gio, GLib

import notifytest
import smtest
from notifytest import NOTIFY_PATH
from smtest import now_ms

N = 200
SPREAD_MS = 800


class TestNotifyBurst(notifytest.NotifyTestCase):
    def register_burst(self, prefix):
        """N sessions expiring within SPREAD_MS, once all are registered;
        returns the first one's due time."""
        first_due = now_ms() + int((1000 + N * 30) * smtest.SLOWDOWN)
        # No desktop warnings (warn-before-minutes 0): only the expiries post.
        for i in range(N):
            self.register_session('%s%03d' % (prefix, i), first_due + i * SPREAD_MS // N, {
                'warn-before-minutes': GLib.Variant('u', 0)})
        self.assertLess(now_ms(), first_due, 'registering overran the burst')
        return first_due

    def wait_for_burst(self, prefix, first_due):
        """Waits for the burst's SessionExpired signals and for the layout to
        settle; returns how many seconds it lasted, started ones: the summary
        is updated at most once each, the last time with the final count."""
        self.wait_for_signal('SessionExpired', timeout=10 + 5 * smtest.SLOWDOWN, count=N,
                             match=lambda args: args[0].startswith(prefix))
        expired = [s for s in self.signals_named('SessionExpired')
                   if s.args[0].startswith(prefix)]
        self.assertEqual([s.args[0] for s in expired], sorted(s.args[0] for s in expired),
                         'not in deadline order')
        # The summary's latest counts come at most a second later.
        self.pump(1.5 * smtest.SLOWDOWN)
        return (max(s.received_ms for s in expired) - first_due) // 1000 + 1

    def setUp(self):
        super().setUp()
        self.notify_times = []  # wall-clock ms at which each Notify was seen

        def on_called(conn, sender, path, iface, signal, params):
            if params[0] == 'Notify':
                self.notify_times.append(now_ms())
        sub = self.bus.signal_subscribe(None, 'org.freedesktop.DBus.Mock', 'MethodCalled',
                                        NOTIFY_PATH, None, Gio.DBusSignalFlags.NONE, on_called)
        self.addCleanup(self.bus.signal_unsubscribe, sub)

    def test_burst_is_three_plus_one_notify_calls(self):
        first_due = self.register_burst('b')
        self.assertEqual(self.notifications(), [], 'warnings went to the desktop')
        seconds = self.wait_for_burst('b', first_due)

        # Two sessions, a third, then the summary in place of the third.
        in_first_second = [t for t in self.notify_times if t < first_due + 1000]
        self.assertEqual(len(self.notify_times), len(self.notifications()))
        self.assertLessEqual(len(in_first_second), 3 + 1, self.notifications()[:8])
        # Then only the summary's count, at most once a second.
        notes = self.notifications()
        summary = [n for n in notes if n.summary == 'Session Monitor'][0]
        later = notes[notes.index(summary) + 1:]
        self.assertLessEqual(len(later), seconds, notes[:8])
        self.assertEqual([n.replaces_id for n in later], [summary.id] * len(later))
        screen = self.on_screen()
        self.assertEqual(sorted(n.body for n in screen.values()),
                         ['%d more sessions need attention' % (N - 2),
                          'A signing session has expired',
                          'A signing session has expired'])
        self.assertEqual(sorted(n.summary for n in screen.values()),
                         ['Session Expired', 'Session Expired', 'Session Monitor'])

    def test_next_burst_updates_only_the_summary(self):
        self.wait_for_burst('c', self.register_burst('c'))
        before = self.notifications()
        summary = [n for n in before if n.summary == 'Session Monitor'][-1]

        seconds = self.wait_for_burst('d', self.register_burst('d'))
        # The two shown expired first and did not change: only the count,
        # in place, at once (the last update is long past), then at most
        # once a second.
        after = self.notifications()[len(before):]
        self.assertGreaterEqual(len(after), 1)
        self.assertLessEqual(len(after), 1 + seconds, after[:8])
        self.assertEqual([n.replaces_id for n in after], [summary.id] * len(after))
        self.assertEqual(after[-1].body, '%d more sessions need attention' % (2 * N - 2))
        self.assertEqual(len(self.on_screen()), 3)


if __name__ == '__main__':
    smtest.main()
