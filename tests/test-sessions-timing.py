#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Warning and expiry signals on time, in order, never early, over the bus."""

from gi.repository import GLib

import smtest
from smtest import now_ms

EARLY_SLACK_MS = 5
# Generous: the machine is shared, and this file also runs under valgrind.
LATE_BOUND_MS = int(1000 * smtest.SLOWDOWN)


class SessionsTimingTest(smtest.DaemonTestCase):

    def assert_on_time(self, signal, due_ms):
        self.assertGreaterEqual(signal.received_ms, due_ms - EARLY_SLACK_MS,
                                '%r arrived before %d' % (signal, due_ms))
        self.assertLessEqual(signal.received_ms, due_ms + LATE_BOUND_MS,
                             '%r arrived long after %d' % (signal, due_ms))

    def test_thresholds_then_expiry(self):
        # The first threshold is due 500 ms after registering (scaled, so a
        # slow daemon still registers it in time).
        expires = now_ms() + int(500 * smtest.SLOWDOWN) + 2000
        self.register_session('t', expires, {
            'warn-thresholds': GLib.Variant('ax', [1000, 2000]),
            'session-type': GLib.Variant('s', 'signing'),
        })
        self.wait_for_signal('SessionExpired', timeout=10)

        names = [s.name for s in self.signals]
        self.assertEqual(names, ['SessionExpiring', 'SessionExpiring', 'SessionExpired'])
        first, second, expired = self.signals
        self.assertEqual(first.args, ('t', expires, 1, 'signing'))
        self.assertEqual(second.args, ('t', expires, 1, 'signing'))
        self.assertEqual(expired.args, ('t', 'signing'))
        self.assert_on_time(first, expires - 2000)
        self.assert_on_time(second, expires - 1000)
        self.assert_on_time(expired, expires)

        # Forgotten once expired, and nothing more arrives.
        self.assertEqual(self.call('GetSessions'), ([],))
        self.pump(0.3)
        self.assertEqual(len(self.signals), 3)

    def test_warnings_sent_reported(self):
        expires = now_ms() + int(500 * smtest.SLOWDOWN) + 2000
        self.register_session('w', expires, {'warn-thresholds': GLib.Variant('ax', [2000, 1000])})
        self.assertEqual(self.get_sessions()['w']['warnings-sent'], [])
        self.wait_for_signal('SessionExpiring')
        self.assertEqual(self.get_sessions()['w']['warnings-sent'], [2000])
        self.wait_for_signal('SessionExpiring', count=2)
        self.assertEqual(self.get_sessions()['w']['warnings-sent'], [2000, 1000])
        self.wait_for_signal('SessionExpired')
        self.assertNotIn('w', self.get_sessions())

    def test_no_burst_when_registered_late(self):
        # 3000 and 2000 ms have already passed at registration: ONE warning
        # at once for the nearest, both count as sent, then 1000 on time.
        start = now_ms()
        expires = start + 1800
        self.register_session('late', expires, {
            'warn-thresholds': GLib.Variant('ax', [3000, 2000, 1000]),
            'session-type': GLib.Variant('s', 'nonce'),
        })
        first = self.wait_for_signal('SessionExpiring')
        self.assertEqual(first.args, ('late', expires, 1, 'nonce'))
        self.assertLessEqual(first.received_ms, start + LATE_BOUND_MS)
        self.assertEqual(self.get_sessions()['late']['warnings-sent'], [3000, 2000])

        self.wait_for_signal('SessionExpired', timeout=10)
        names = [s.name for s in self.signals]
        self.assertEqual(names, ['SessionExpiring', 'SessionExpiring', 'SessionExpired'])
        self.assert_on_time(self.signals[1], expires - 1000)
        self.assert_on_time(self.signals[2], expires)

    def test_several_sessions_in_order(self):
        base = now_ms() + int(400 * smtest.SLOWDOWN)
        # Registered out of order; expiries 150 ms apart.
        for i in [2, 0, 3, 1]:
            self.register_session('s%d' % i, base + 150 * i,
                                  {'warn-thresholds': GLib.Variant('ax', [60000])})
        # Each had its 60 s threshold passed at registration: one warning each.
        self.wait_for_signal('SessionExpired', count=4, timeout=10)
        expiring = self.signals_named('SessionExpiring')
        self.assertEqual(sorted(s.args[0] for s in expiring), ['s0', 's1', 's2', 's3'])
        expired = self.signals_named('SessionExpired')
        self.assertEqual([s.args[0] for s in expired], ['s0', 's1', 's2', 's3'])
        for i, sig in enumerate(expired):
            self.assert_on_time(sig, base + 150 * i)
        # No session got a warning after its expiry.
        for sig in expiring:
            exp = [e for e in expired if e.args[0] == sig.args[0]][0]
            self.assertLess(self.signals.index(sig), self.signals.index(exp))

    def test_unregister_cancels_timers(self):
        expires = now_ms() + int(300 * smtest.SLOWDOWN) + 1000
        self.register_session('gone', expires, {'warn-thresholds': GLib.Variant('ax', [500])})
        self.call('UnregisterSession', 'ss', 'gone', 'cancelled')
        self.pump((expires - now_ms()) / 1000 + 0.3)
        self.assertEqual([(s.name, s.args) for s in self.signals],
                         [('SessionUnregistered', ('gone', 'cancelled'))])


if __name__ == '__main__':
    smtest.main()
