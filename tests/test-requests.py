#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Signing requests over D-Bus: methods, validation, limits, expiry timing."""

from gi.repository import GLib

import smtest
from smtest import ERROR_PREFIX, now_ms

INVALID = ERROR_PREFIX + 'InvalidArgs'
NOT_FOUND = ERROR_PREFIX + 'NotFound'
LIMIT = ERROR_PREFIX + 'LimitExceeded'


class TestRequests(smtest.DaemonTestCase):
    daemon_args = ['--no-notifications']

    def register(self, request_id, expires_at, options=None, session_id='s1', peer='p1'):
        return self.call('RegisterSigningRequest', 'sssxa{sv}', request_id, session_id, peer,
                         expires_at, options or {})

    def requests(self):
        return {r['request-id']: r for r in self.call('GetSigningRequests')[0]}

    def test_register_and_get(self):
        before = now_ms()
        self.register('r1', before + 60000, {
            'from-nickname': GLib.Variant('s', 'Alice'), 'amount': GLib.Variant('s', '1 BTC'),
            'purpose': GLib.Variant('s', 'rent'), 'app-id': GLib.Variant('s', 'org.x.W'),
            'url': GLib.Variant('s', 'w://r1'), 'unknown': GLib.Variant('i', 1)})
        self.register('r2', before + 30000, session_id='s2', peer='p2')
        got = self.call('GetSigningRequests')[0]
        self.assertEqual([r['request-id'] for r in got], ['r2', 'r1'], 'soonest first')
        r1 = self.requests()['r1']
        registered = r1.pop('registered-at')
        self.assertGreaterEqual(registered, before)
        self.assertLessEqual(registered, now_ms())
        self.assertEqual(r1, {
            'request-id': 'r1', 'session-id': 's1', 'from-peer-id': 'p1',
            'expires-at': before + 60000, 'from-nickname': 'Alice', 'amount': '1 BTC',
            'purpose': 'rent', 'app-id': 'org.x.W', 'url': 'w://r1'})
        self.assertEqual(set(self.requests()['r2']),
                         {'request-id', 'session-id', 'from-peer-id', 'expires-at',
                          'registered-at'}, 'only given options are returned')

    def test_reregister_replaces(self):
        self.register('r1', now_ms() + 60000, {'amount': GLib.Variant('s', '1')})
        self.register('r1', now_ms() + 90000, session_id='s9')
        reqs = self.requests()
        self.assertEqual(len(reqs), 1)
        self.assertEqual(reqs['r1']['session-id'], 's9')
        self.assertNotIn('amount', reqs['r1'])

    def test_unregister(self):
        for reason in ('accepted', 'rejected', 'expired', 'cancelled', ''):
            self.register('r1', now_ms() + 60000)
            self.call('UnregisterSigningRequest', 'ss', 'r1', reason)
            self.assertEqual(self.requests(), {})
        self.assertDBusError(NOT_FOUND, 'UnregisterSigningRequest', 'ss', 'r1', 'accepted',
                             contains='r1')
        self.register('r1', now_ms() + 60000)
        self.assertDBusError(INVALID, 'UnregisterSigningRequest', 'ss', 'r1', 'done',
                             contains='reason')
        self.assertIn('r1', self.requests(), 'a rejected call changes nothing')

    def test_invalid_args(self):
        t = now_ms() + 60000
        cases = [
            (('', 's', 'p', t, {}), 'request_id'),
            (('r' * 256, 's', 'p', t, {}), 'request_id'),
            (('r\x01', 's', 'p', t, {}), 'request_id'),
            (('r', '', 'p', t, {}), 'session_id'),
            (('r', 's', '', t, {}), 'from_peer_id'),
            (('r', 's', 'p', 0, {}), 'expires_at'),
            (('r', 's', 'p', now_ms() + 31 * 86400000, {}), 'expires_at'),
            (('r', 's', 'p', t, {'amount': GLib.Variant('x', 5)}), 'amount'),
            # Peer text is never refused for what it holds: test-peer-text.
        ]
        for args, needle in cases:
            self.assertDBusError(INVALID, 'RegisterSigningRequest', 'sssxa{sv}', *args,
                                 contains=needle)
        self.assertEqual(self.requests(), {})

    def test_expiry_timing_and_order(self):
        base = now_ms()
        due = {'late': base + 1200, 'early': base + 600}
        self.register('late', due['late'], session_id='sl')
        self.register('early', due['early'], session_id='se')
        self.wait_for_signal('SigningRequestExpired', count=2, timeout=4)
        sigs = self.signals_named('SigningRequestExpired')
        self.assertEqual([s.args for s in sigs], [('early', 'se'), ('late', 'sl')])
        for s in sigs:
            d = due[s.args[0]]
            self.assertGreaterEqual(s.received_ms, d - 5, 'never early')
            self.assertLess(s.received_ms, d + 1000)
        self.assertEqual(self.requests(), {})

    def test_past_expiry_fires_at_once(self):
        self.register('r1', now_ms() - 1000)
        self.wait_for_signal('SigningRequestExpired', timeout=2)
        self.assertEqual(self.requests(), {})


class TestRequestLimit(smtest.DaemonTestCase):
    daemon_args = ['--no-notifications']

    def test_limit(self):
        t = now_ms() + 3600000
        loop = GLib.MainLoop()
        state = {'next': 0, 'in_flight': 0, 'errors': []}

        # At most 64 calls in flight: the bus limits pending replies.
        def send():
            i = state['next']
            state['next'] += 1
            state['in_flight'] += 1
            self.bus.call(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE,
                          'RegisterSigningRequest',
                          GLib.Variant('(sssxa{sv})', ('r%d' % i, 's', 'p', t, {})),
                          None, 0, 60000, None, done, None)

        def done(conn, res, _):
            state['in_flight'] -= 1
            try:
                conn.call_finish(res)
            except GLib.Error as e:
                state['errors'].append(e.message)
            if state['next'] < 10000:
                send()
            elif state['in_flight'] == 0:
                loop.quit()
        for _ in range(64):
            send()
        loop.run()
        self.assertEqual(state['errors'], [])
        self.assertEqual(len(self.call('GetSigningRequests')[0]), 10000)
        self.assertDBusError(LIMIT, 'RegisterSigningRequest', 'sssxa{sv}', 'new', 's', 'p', t,
                             {}, contains='10000')
        # Re-registering an existing id always works.
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'r5', 's', 'p', t + 1, {})


if __name__ == '__main__':
    smtest.main()
