#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Room on screen against a slow notification server: a Notify that is
still unanswered has no id to close yet, so the daemon must not post
anything new in its place before the server has it and the close is sent.
The mock answers each Notify only after a delay (a loaded shell), while
the layout changes several times before any answer comes; the screen is
judged from the server's own record of the calls, in the order it took
them."""

import dbus
from gi.repository import GLib

import notifytest
import smtest
from notifytest import NOTIFY_IFACE
from smtest import now_ms

DELAY_S = 0.15
ROUNDS = 3


class TestSlowServer(notifytest.NotifyTestCase):
    def setUp(self):
        super().setUp()
        # Same ids as the template (1, 2, ...), answered late.
        self.mock.AddMethod(NOTIFY_IFACE, 'Notify', 'susssasa{sv}i', 'u', f'''import time
time.sleep({DELAY_S})
if args[1]:
    ret = args[1]
else:
    ret = self.next_id
    self.next_id += 1
''')

    def settle(self, predicate, what):
        self.wait_for(lambda: predicate(self.on_screen()), 10 + 20 * DELAY_S,
                      '%s (calls %r)' % (what, self.calls()))
        # Nothing more is on its way.
        self.pump(4 * DELAY_S * smtest.SLOWDOWN)

    def test_unanswered_notify_is_not_displaced(self):
        base = now_ms() + 600000
        for r in range(ROUNDS):
            # Latest first, back to back: each layout displaces one whose
            # Notify the slow server has not answered yet.
            ids = ['r%d-%d' % (r, i) for i in range(5)]
            for i in reversed(range(5)):
                self.register_request(ids[i], base + r * 10000 + i * 1000,
                                      {'from-nickname': GLib.Variant('s', ids[i])})
            self.settle(lambda s: len(s) == 3 and any(
                n.summary == 'Session Monitor' for n in s.values()), 'no summary')
            for rid in ids:
                self.call('UnregisterSigningRequest', 'ss', rid, 'cancelled')
            self.settle(lambda s: len(s) == 0, 'not all withdrawn')
        self.on_screen()

    def test_summary_never_fourth(self):
        base = now_ms() + 600000
        for i in range(4):
            self.register_request('r%d' % i, base + i * 1000)
        # Two sessions' warnings and a request arriving while the summary's
        # Notify is on its way.
        for s in range(2):
            self.register_session('s%d' % s, now_ms() + 60000, {
                'warn-thresholds': GLib.Variant('ax', [59800])})
        self.register_request('r9', base - 1000)
        self.settle(lambda s: any(
            n.body == '3 more signing requests and 2 sessions need attention'
            for n in s.values()), 'no final summary')
        for rid in ('r9', 'r0', 'r1', 'r2'):
            self.call('UnregisterSigningRequest', 'ss', rid, 'accepted')
        self.settle(lambda s: len(s) == 3 and not any(
            n.summary == 'Session Monitor' for n in s.values()), 'summary not gone')
        self.assertEqual(sorted(n.summary for n in self.on_screen().values()),
                         ['Session Expiring Soon', 'Session Expiring Soon', 'Signing Request'])


if __name__ == '__main__':
    smtest.main()
