#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A state directory written by an earlier release loads: every session,
signing request and the presence come back as that release served them.

tests/data/state-0.1.0/ was written by session-monitor 0.1.0 (commit
5af3bc5, the last before the code was reshaped): a snapshot and a journal
on top of it (registrations with and without options, peer text with a
line break and a bidi control, a presence, a clean restart, an
unregistration, a re-registration, then kill -9). The .expected.json next
to it is what that daemon answered to GetSessions, GetSigningRequests and
GetPresence just before it was killed. Entries are due 29 days after
2026-12-02; once that has passed they must come back as expired instead.
"""

import json
import os
import shutil

import smtest

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')


class StateCompatTest(smtest.DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.stop_daemon()
        target = os.path.join(self.state_home, 'session-monitor')
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(os.path.join(DATA, 'state-0.1.0'), target)
        os.chmod(target, 0o700)
        with open(os.path.join(DATA, 'state-0.1.0.expected.json')) as f:
            self.expected = json.load(f)
        self.signals.clear()
        self.now = smtest.now_ms()
        self.start_daemon()

    def check_entries(self, method, key, expired_signal):
        loaded = {e[key]: e for e in self.call(method)[0]}
        for entry in self.expected[method]:
            if entry['expires-at'] > self.now + 60_000:
                self.assertEqual(loaded.pop(entry[key]), entry)
            else:
                self.wait_for_signal(expired_signal, match=lambda a, i=entry[key]: a[0] == i)
                loaded.pop(entry[key], None)
        self.assertEqual(loaded, {}, 'entries the old state did not hold')

    def test_sessions_load_as_written(self):
        self.assertEqual(len(self.expected['GetSessions']), 2)
        self.check_entries('GetSessions', 'session-id', 'SessionExpired')

    def test_requests_load_as_written(self):
        self.assertEqual(len(self.expected['GetSigningRequests']), 1)
        self.check_entries('GetSigningRequests', 'request-id', 'SigningRequestExpired')

    def test_presence_loads_as_written(self):
        presence = self.call('GetPresence')[0]
        for key in ('wallet-address', 'ttl', 'refresh-interval'):
            self.assertEqual(presence[key], self.expected['GetPresence'][key])

    def test_old_state_keeps_working(self):
        """Changes go on in the loaded state and survive a kill -9."""
        self.register_session('new', self.now + 3_600_000)
        self.call('UnregisterSigningRequest', 'ss', 'req-1', 'accepted')
        before = self.get_sessions()
        self.stop_daemon(9)
        self.start_daemon()
        self.assertEqual(self.get_sessions(), before)
        self.assertEqual(self.call('GetSigningRequests'), ([],))


if __name__ == '__main__':
    smtest.main()
