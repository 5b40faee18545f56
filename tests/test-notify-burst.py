#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A burst of expiries is coalesced on screen: hundreds of sessions expiring
within one second give at most 3 + 1 Notify calls in that second (two
sessions and one summary that says how many more), never one per session,
and never more than three on screen, judged from the server's own record of
the calls (in the order and at the time it took them); every SessionExpired
still comes, in deadline order."""

from gi.repository import Gio, GLib

import notifytest
import smtest
from notifytest import NOTIFY_IFACE
from smtest import BUS_NAME, IFACE, OBJECT_PATH, now_ms

N = 200
SPREAD_MS = 800


class TestNotifyBurst(notifytest.NotifyTestCase):
    def setUp(self):
        super().setUp()
        # The template's Notify, plus the receipt time of each call (ms).
        self.mock.AddMethod(NOTIFY_IFACE, 'Notify', 'susssasa{sv}i', 'u', '''import time
self.notify_ms = getattr(self, 'notify_ms', []) + [time.time() * 1000]
if args[1]:
    ret = args[1]
else:
    ret = self.next_id
    self.next_id += 1
''')
        self.mock.AddMethod(NOTIFY_IFACE, 'NotifyTimes', '', 'ad',
                            'ret = getattr(self, "notify_ms", [])')

    def notify_times(self):
        return [float(t) for t in self.mock.NotifyTimes(dbus_interface=NOTIFY_IFACE)]

    def register_burst(self, prefix, options):
        """N sessions due within SPREAD_MS, registered pipelined before the
        first of them is due; returns the first due time."""
        first_due = now_ms() + int(3000 * smtest.SLOWDOWN)
        replies = []
        pending = list(range(N))

        # A window of calls in flight (the test bus allows 8 per connection).
        def send_next(*_):
            if pending:
                i = pending.pop(0)
                self.bus.call(BUS_NAME, OBJECT_PATH, IFACE, 'RegisterSession',
                              GLib.Variant('(sxa{sv})', ('%s%03d' % (prefix, i),
                                                         first_due + i * SPREAD_MS // N,
                                                         options)),
                              None, Gio.DBusCallFlags.NONE, -1, None, on_reply)

        def on_reply(conn, res):
            replies.append(conn.call_finish(res))
            send_next()
        for _ in range(6):
            send_next()
        self.wait_for(lambda: len(replies) == N, 10, 'registering did not end')
        self.assertLess(now_ms(), first_due - 500, 'registering overran the burst')
        return first_due

    def wait_for_burst(self, prefix, first_due):
        """Waits for the burst's SessionExpired signals and for the layout to
        settle; returns how many seconds it lasted, started ones."""
        self.wait_for_signal('SessionExpired', timeout=10, count=N,
                             match=lambda args: args[0].startswith(prefix))
        expired = [s for s in self.signals_named('SessionExpired')
                   if s.args[0].startswith(prefix)]
        self.assertEqual([s.args[0] for s in expired], sorted(s.args[0] for s in expired),
                         'not in deadline order')
        for s in expired:
            due = first_due + int(s.args[0][len(prefix):]) * SPREAD_MS // N
            self.assertGreaterEqual(s.received_ms, due - 5, 'expired early')
        # The summary's latest counts come at most a second later.
        self.pump(1.5 * smtest.SLOWDOWN)
        return int(max(s.received_ms for s in expired) - first_due) // 1000 + 1

    def in_due_second(self, first_due):
        return [t for t in self.notify_times() if first_due <= t < first_due + 1000]

    def test_burst_is_three_plus_one_notify_calls(self):
        first_due = self.register_burst('b', {'warn-before-minutes': GLib.Variant('u', 0)})
        self.assertEqual(self.notifications(), [], 'warnings went to the desktop')
        seconds = self.wait_for_burst('b', first_due)

        self.assertLessEqual(len(self.in_due_second(first_due)), 3 + 1, self.notifications()[:8])
        # Then only the summary's count, in place, at most once a second.
        notes = self.notifications()
        summary = [n for n in notes if n.summary == 'Session Monitor'][0]
        later = notes[notes.index(summary) + 1:]
        self.assertLessEqual(len(later), seconds, notes[:8])
        self.assertEqual([n.replaces_id for n in later], [summary.id] * len(later))
        screen = self.on_screen()  # never more than three, replayed call by call
        self.assertEqual(sorted(n.body for n in screen.values()),
                         ['%d more sessions need attention' % (N - 2),
                          'A signing session has expired',
                          'A signing session has expired'])

    def test_warned_burst_then_expired_burst(self):
        # Each warned a second before: the warnings are a burst too, and the
        # expiries update what they put up.
        first_due = self.register_burst('w', {'warn-thresholds': GLib.Variant('ax', [1000])})
        self.wait_for_burst('w', first_due)
        warned = [t for t in self.notify_times() if first_due - 1000 <= t < first_due]
        self.assertLessEqual(len(warned), 3 + 1, self.notifications()[:8])
        self.assertLessEqual(len(self.in_due_second(first_due)), 3 + 1, self.notifications())
        screen = self.on_screen()
        self.assertEqual(sorted(n.summary for n in screen.values()),
                         ['Session Expired', 'Session Expired', 'Session Monitor'])
        self.assertIn('%d more sessions need attention' % (N - 2),
                      [n.body for n in screen.values()])

    def test_next_burst_updates_only_the_summary(self):
        options = {'warn-before-minutes': GLib.Variant('u', 0)}
        self.wait_for_burst('c', self.register_burst('c', options))
        before = self.notifications()
        summary = [n for n in before if n.summary == 'Session Monitor'][-1]

        seconds = self.wait_for_burst('d', self.register_burst('d', options))
        # The two shown expired first and did not change: only the count,
        # in place, then at most once a second.
        after = self.notifications()[len(before):]
        self.assertGreaterEqual(len(after), 1)
        self.assertLessEqual(len(after), 1 + seconds, after[:8])
        self.assertEqual([n.replaces_id for n in after], [summary.id] * len(after))
        self.assertEqual(after[-1].body, '%d more sessions need attention' % (2 * N - 2))
        self.assertEqual(len(self.on_screen()), 3)


if __name__ == '__main__':
    smtest.main()
