#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""session-monitor-bridge against the daemon on a private bus, driven as a
browser drives a native-messaging host: every message type in both
directions, every bad-input rule, malformed frames, EOF releasing presence,
the 1 MiB cap on outgoing frames, and the page -> bridge -> daemon -> reply
round trip measured."""

import statistics
import struct
import time

import dbus
from gi.repository import GLib

import notifytest
import smtest
from bridgetest import Bridge
from smtest import now_ms

BRIDGE_ERR = 'org.musig2.SessionMonitor1.Bridge.'
DAEMON_ERR = 'org.musig2.SessionMonitor1.Error.'


class BridgeTestCase(smtest.DaemonTestCase):
    def bridge(self):
        b = Bridge()
        self.addCleanup(b.kill)
        return b

    def assertResult(self, frame, msg_id):
        self.assertEqual(frame, dict(frame, type='RESULT', id=msg_id), frame)
        return frame.get('payload')

    def assertError(self, frame, code, msg_id=None, contains=None):
        self.assertEqual(frame['type'], 'ERROR', frame)
        self.assertEqual(frame.get('id'), msg_id, frame)
        self.assertEqual(frame['payload']['code'], code, frame)
        self.assertIsInstance(frame['payload']['message'], str)
        if contains:
            self.assertIn(contains, frame['payload']['message'])


class TestSessions(BridgeTestCase):
    def test_register_get_state_and_metadata_types(self):
        b = self.bridge()
        expires = now_ms() + 3600_000
        metadata = {'n': 7, 'big': 9223372036854775807, 's': 'x\ny', 'f': 1.5, 't': True,
                    'none': None, 'list': [1, 'two'], 'obj': {'k': -3}}
        r = b.call({'type': 'REGISTER_SESSION', 'id': 1, 'payload': {
            'sessionId': 'sess-1', 'expiresAt': expires, 'warnBeforeMinutes': 3,
            'sessionType': 'refresh', 'metadata': metadata, 'url': '/people/p2p'}})
        self.assertIsNone(self.assertResult(r, 1))
        # The daemon got the design's fields under its own names and types.
        s = self.get_sessions()['sess-1']
        self.assertEqual(s['expires-at'], expires)
        self.assertEqual(s['session-type'], 'refresh')
        self.assertEqual(s['url'], '/people/p2p')
        self.assertEqual(s['metadata']['n'], 7)
        self.assertEqual(s['metadata']['s'], 'x\ny')

        state = self.assertResult(b.call({'type': 'GET_STATE', 'id': 'g'}), 'g')
        self.assertEqual(len(state['sessions']), 1)
        got = state['sessions'][0]
        self.assertEqual(got['sessionId'], 'sess-1')
        self.assertEqual(got['expiresAt'], expires)
        self.assertEqual(got['sessionType'], 'refresh')
        # D-Bus has no null: a null member is left out, as JavaScript's undefined.
        del metadata['none']
        self.assertEqual(got['metadata'], metadata)
        self.assertEqual(got['warnThresholds'], [600000, 300000, 120000, 60000])
        self.assertEqual(got['warningsSent'], [])
        self.assertIsInstance(got['registeredAt'], int)
        self.assertEqual(state['signingRequests'], [])
        self.assertIsNone(state['presence'])

    def test_expiring_then_expired_in_order_never_early(self):
        b = self.bridge()
        expires = now_ms() + 2000
        self.assertResult(b.call({'type': 'REGISTER_SESSION', 'id': 2, 'payload': {
            'sessionId': 'soon', 'expiresAt': expires}}), 2)
        warn, _ = b.recv_until(lambda f: f['type'] == 'SESSION_EXPIRING', 10)
        # Registered with every threshold already past: one warning (no burst).
        self.assertEqual(warn['payload'], {'sessionId': 'soon', 'expiresAt': expires,
                                           'minutesRemaining': 1, 'sessionType': 'signing'})
        expired, between = b.recv_until(lambda f: f['type'] == 'SESSION_EXPIRED', 10)
        self.assertGreaterEqual(now_ms(), expires - 5, 'SESSION_EXPIRED came early')
        self.assertEqual(expired['payload'], {'sessionId': 'soon', 'sessionType': 'signing'})
        self.assertNotIn('SESSION_EXPIRING', [f['type'] for f in between])

    def test_warn_thresholds(self):
        b = self.bridge()
        expires = now_ms() + 2500
        self.assertResult(b.call({'type': 'REGISTER_SESSION', 'id': 1, 'payload': {
            'sessionId': 'th', 'expiresAt': expires, 'warnThresholds': [1000]}}), 1)
        self.assertEqual(self.get_sessions()['th']['warn-thresholds'], [1000])
        warn, _ = b.recv_until(lambda f: f['type'] == 'SESSION_EXPIRING', 10)
        self.assertGreaterEqual(now_ms(), expires - 1000 - 5, 'warning came early')
        self.assertEqual(warn['payload']['sessionId'], 'th')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 2, 'payload': {
            'sessionId': 'th', 'expiresAt': expires, 'warnThresholds': [1000, 1.5]}}),
            DAEMON_ERR + 'InvalidArgs', 2, contains='warnThresholds[1]')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 3, 'payload': {
            'sessionId': 'th', 'expiresAt': expires, 'warnThresholds': 1000}}),
            DAEMON_ERR + 'InvalidArgs', 3, contains='warnThresholds')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 4, 'payload': {
            'sessionId': 'th', 'expiresAt': expires, 'warnThresholds': []}}),
            DAEMON_ERR + 'InvalidArgs', 4)

    def test_unregister_and_not_found(self):
        b = self.bridge()
        b.call({'type': 'REGISTER_SESSION', 'id': 1, 'payload': {
            'sessionId': 'u1', 'expiresAt': now_ms() + 600_000}})
        self.assertResult(b.call({'type': 'UNREGISTER_SESSION', 'id': 2, 'payload': {
            'sessionId': 'u1', 'reason': 'cancelled'}}), 2)
        self.wait_for_signal('SessionUnregistered', match=lambda a: a == ('u1', 'cancelled'))
        self.assertError(b.call({'type': 'UNREGISTER_SESSION', 'id': 3, 'payload': {
            'sessionId': 'u1'}}), DAEMON_ERR + 'NotFound', 3, contains='u1')
        # Without an id a success is silent and the next answer is the next call's.
        b.send({'type': 'REGISTER_SESSION', 'payload': {
            'sessionId': 'quiet', 'expiresAt': now_ms() + 600_000}})
        r = b.call({'type': 'GET_STATE', 'id': 4})
        self.assertEqual([s['sessionId'] for s in self.assertResult(r, 4)['sessions']], ['quiet'])


class TestSigningRequests(BridgeTestCase):
    def test_register_state_expiry_and_unregister(self):
        b = self.bridge()
        expires = now_ms() + 1500
        self.assertResult(b.call({'type': 'REGISTER_SIGNING_REQUEST', 'id': 1, 'payload': {
            'requestId': 'r1', 'sessionId': 's1', 'fromPeerId': 'peer-1',
            'fromNickname': 'Alice', 'expiresAt': expires, 'amount': '1.5 XPI',
            'purpose': 'line one\nline two'}}), 1)
        self.assertResult(b.call({'type': 'REGISTER_SIGNING_REQUEST', 'id': 2, 'payload': {
            'requestId': 'r2', 'sessionId': 's1', 'fromPeerId': 'peer-2',
            'expiresAt': now_ms() + 600_000}}), 2)
        state = self.assertResult(b.call({'type': 'GET_STATE', 'id': 3}), 3)
        reqs = {r['requestId']: r for r in state['signingRequests']}
        self.assertEqual(reqs['r1']['fromNickname'], 'Alice')
        self.assertEqual(reqs['r1']['purpose'], 'line one\nline two')
        self.assertEqual(reqs['r1']['fromPeerId'], 'peer-1')
        self.assertEqual(reqs['r1']['expiresAt'], expires)
        self.assertNotIn('fromNickname', reqs['r2'])
        expired, _ = b.recv_until(lambda f: f['type'] == 'SIGNING_REQUEST_EXPIRED', 10)
        self.assertGreaterEqual(now_ms(), expires - 5)
        self.assertEqual(expired['payload'], {'requestId': 'r1', 'sessionId': 's1'})

        self.assertError(b.call({'type': 'UNREGISTER_SIGNING_REQUEST', 'id': 4, 'payload': {
            'requestId': 'r2', 'reason': 'bogus'}}), DAEMON_ERR + 'InvalidArgs', 4)
        self.assertResult(b.call({'type': 'UNREGISTER_SIGNING_REQUEST', 'id': 5, 'payload': {
            'requestId': 'r2', 'reason': 'accepted'}}), 5)
        self.assertEqual(self.call('GetSigningRequests')[0], [])


class TestPresence(BridgeTestCase):
    def presence(self):
        return self.call('GetPresence')[0]

    def test_update_events_state_and_stop(self):
        b = self.bridge()
        self.assertResult(b.call({'type': 'UPDATE_PRESENCE', 'id': 1, 'payload': {
            'walletAddress': 'ecash:qz1', 'ttl': 10000, 'nickname': 'Al', 'avatar': 'a.png',
            'peerId': 'p-1'}}), 1)
        needed, _ = b.recv_until(lambda f: f['type'] == 'PRESENCE_REFRESH_NEEDED')
        self.assertEqual(needed['payload']['walletAddress'], 'ecash:qz1')
        self.assertIsInstance(needed['payload']['lastRefresh'], int)
        refreshed, _ = b.recv_until(lambda f: f['type'] == 'PRESENCE_REFRESHED')
        self.assertIs(refreshed['payload']['success'], True)
        self.assertGreater(refreshed['payload']['nextRefreshAt'], needed['payload']['lastRefresh'])
        p = self.assertResult(b.call({'type': 'GET_STATE', 'id': 2}), 2)['presence']
        self.assertEqual(p['walletAddress'], 'ecash:qz1')
        self.assertEqual(p['peerId'], 'p-1')
        self.assertEqual(p['refreshInterval'], 4000)
        self.assertIs(p['ownerConnected'], True)
        self.assertResult(b.call({'type': 'STOP_PRESENCE', 'id': 3}), 3)
        self.assertEqual(self.presence(), {})
        self.assertIsNone(self.assertResult(b.call({'type': 'GET_STATE', 'id': 4}), 4)['presence'])

    def test_eof_releases_presence(self):
        b = self.bridge()
        self.assertResult(b.call({'type': 'UPDATE_PRESENCE', 'id': 1, 'payload': {
            'walletAddress': 'ecash:qz2', 'ttl': 60000}}), 1)
        owner = self.presence()['owner']
        self.assertTrue(self.presence()['owner-connected'])
        self.assertEqual(b.close(), 0, b.stderr_text())
        self.wait_for(lambda: not self.presence()['owner-connected'], 10,
                      'the daemon still sees the bridge as presence owner')
        self.assertEqual(self.presence()['owner'], owner)


class TestBadInput(BridgeTestCase):
    def test_each_error_keeps_serving(self):
        b = self.bridge()
        reg = {'sessionId': 'x', 'expiresAt': now_ms() + 600_000}
        b.send_frame('{"type": "GET_STATE", "id": 1')
        self.assertError(b.recv(), BRIDGE_ERR + 'InvalidJson')
        b.send_frame(b'{"type": "\xff"}')
        self.assertError(b.recv(), BRIDGE_ERR + 'InvalidJson', contains='UTF-8')
        b.send_frame('')
        self.assertError(b.recv(), BRIDGE_ERR + 'InvalidJson')
        b.send_frame('[' * 200000 + ']' * 200000)
        self.assertError(b.recv(), BRIDGE_ERR + 'InvalidJson', contains='deeper')
        b.send_frame('[1, 2]')
        self.assertError(b.recv(), BRIDGE_ERR + 'InvalidMessage')
        self.assertError(b.call({'type': 7, 'id': 2}), BRIDGE_ERR + 'InvalidMessage', 2)
        self.assertError(b.call({'id': 3}), BRIDGE_ERR + 'InvalidMessage', 3)
        self.assertError(b.call({'type': 'START_MONITORING', 'id': 4}),
                         BRIDGE_ERR + 'UnknownType', 4, contains='START_MONITORING')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 5}),
                         DAEMON_ERR + 'InvalidArgs', 5, contains='payload')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 6, 'payload': 'x'}),
                         DAEMON_ERR + 'InvalidArgs', 6, contains='payload')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 7,
                                 'payload': dict(reg, sessionId=None)}),
                         DAEMON_ERR + 'InvalidArgs', 7, contains='sessionId is missing')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 8,
                                 'payload': dict(reg, sessionId=5)}),
                         DAEMON_ERR + 'InvalidArgs', 8, contains='sessionId must be a string')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 9,
                                 'payload': dict(reg, expiresAt=str(reg['expiresAt']))}),
                         DAEMON_ERR + 'InvalidArgs', 9, contains='expiresAt must be an integer')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 10,
                                 'payload': dict(reg, expiresAt=reg['expiresAt'] + 0.5)}),
                         DAEMON_ERR + 'InvalidArgs', 10, contains='not ')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 11,
                                 'payload': dict(reg, expiresAt=2 ** 63)}),
                         DAEMON_ERR + 'InvalidArgs', 11, contains='64-bit')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 12,
                                 'payload': dict(reg, metadata={'deep': -2 ** 63 - 1})}),
                         DAEMON_ERR + 'InvalidArgs', 12, contains='64-bit')
        # An id beyond int64 is not echoed wrapped; the answer has no id.
        b.send_frame('{"type": "GET_STATE", "id": 18446744073709551617}')
        self.assertError(b.recv(), DAEMON_ERR + 'InvalidArgs', None, contains='64-bit')
        b.send_frame('{"id" : -9223372036854775808, "type": "X", "payload": {"id": 1e400}}')
        self.assertError(b.recv(), BRIDGE_ERR + 'UnknownType', -2 ** 63)
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 13,
                                 'payload': dict(reg, warnBeforeMinutes=-1)}),
                         DAEMON_ERR + 'InvalidArgs', 13, contains='warnBeforeMinutes')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 14,
                                 'payload': dict(reg, metadata=[1])}),
                         DAEMON_ERR + 'InvalidArgs', 14, contains='metadata')
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 'null',
                                 'payload': dict(reg, metadata={'a': [1, None]})}),
                         DAEMON_ERR + 'InvalidArgs', 'null', contains='null')
        self.assertError(b.call({'type': 'UPDATE_PRESENCE', 'id': 15, 'payload': {
            'walletAddress': 'w', 'ttl': True}}), DAEMON_ERR + 'InvalidArgs', 15, contains='ttl')
        self.assertError(b.call({'type': 'STOP_PRESENCE', 'id': 16, 'payload': 3}),
                         DAEMON_ERR + 'InvalidArgs', 16)
        # The daemon's own refusals come back with its error name and text.
        self.assertError(b.call({'type': 'REGISTER_SESSION', 'id': 17,
                                 'payload': dict(reg, expiresAt=0)}),
                         DAEMON_ERR + 'InvalidArgs', 17, contains='expires_at')
        self.assertError(b.call({'type': 'UPDATE_PRESENCE', 'id': 18, 'payload': {
            'walletAddress': 'w', 'ttl': 5}}), DAEMON_ERR + 'InvalidArgs', 18, contains='ttl')
        # Without an id a failure still gets its ERROR frame.
        b.send({'type': 'NOPE'})
        self.assertError(b.recv(), BRIDGE_ERR + 'UnknownType')
        # Nothing of the above reached the daemon; and the bridge still serves.
        self.assertEqual(self.get_sessions(), {})
        self.assertResult(b.call({'type': 'REGISTER_SESSION', 'id': 'ok', 'payload': reg}), 'ok')
        self.assertIn('x', self.get_sessions())
        self.assertIsNone(b.proc.poll())

    def test_frame_split_across_writes(self):
        b = self.bridge()
        data = b'{"type": "GET_STATE", "id": "split"}'
        frame = struct.pack('=I', len(data)) + data
        for i in range(len(frame)):
            b.send_raw(frame[i:i + 1])
            time.sleep(0.002)
        self.assertResult(b.recv(), 'split')
        # Two frames in one write.
        b.send_raw(frame + frame)
        self.assertResult(b.recv(), 'split')
        self.assertResult(b.recv(), 'split')


class TestMalformedFrames(BridgeTestCase):
    def assertEndsCleanly(self, b, contains, rc=1):
        t0 = time.monotonic()
        self.assertEqual(b.proc.wait(timeout=10), rc)
        self.assertLess(time.monotonic() - t0, 10)
        err = b.proc.stderr.read().decode()
        self.assertIn(contains, err)
        self.assertNotIn('CRITICAL', err)
        self.assertNotIn('Sanitizer', err)  # ASan exits 1 too: tell it apart
        return err

    def test_hostile_length_exits_without_waiting_for_data(self):
        b = self.bridge()
        # 4 GiB announced and the port kept open: the bridge must not wait
        # for (or allocate) what the prefix asks for.
        b.send_raw(struct.pack('=I', 0xFFFFFFF0))
        self.assertEndsCleanly(b, 'exceeds the 1 MiB limit')

    def test_just_over_one_mib(self):
        b = self.bridge()
        b.send_raw(struct.pack('=I', 1024 * 1024 + 1) + b' ' * 100)
        self.assertEndsCleanly(b, 'exceeds the 1 MiB limit')

    def test_one_mib_exactly_is_served(self):
        b = self.bridge()
        body = b'{"type": "GET_STATE", "id": 1}'
        b.send_frame(body + b' ' * (1024 * 1024 - len(body)))
        self.assertResult(b.recv(), 1)

    def test_truncated_frame(self):
        b = self.bridge()
        b.send_raw(struct.pack('=I', 100) + b'{"type": "GET')
        b.proc.stdin.close()
        self.assertEndsCleanly(b, 'in the middle of a frame')

    def test_length_prefix_without_data(self):
        b = self.bridge()
        b.send_raw(struct.pack('=I', 30))
        b.proc.stdin.close()
        self.assertEndsCleanly(b, 'in the middle of a frame')

    def test_half_a_length_prefix(self):
        b = self.bridge()
        b.send_raw(b'\x05\x00')
        b.proc.stdin.close()
        self.assertEndsCleanly(b, 'in the middle of a frame')

    def test_clean_eof(self):
        b = self.bridge()
        self.assertResult(b.call({'type': 'GET_STATE', 'id': 1}), 1)
        self.assertEqual(b.close(), 0)


class TestOutgoingLimit(BridgeTestCase):
    def test_state_over_one_mib_is_an_error_frame(self):
        big = GLib.Variant('s', 'm' * 60000)
        for i in range(20):
            self.register_session('big-%02d' % i, now_ms() + 600_000,
                                  {'metadata': GLib.Variant('a{sv}', {'blob': big})})
        b = self.bridge()
        self.assertError(b.call({'type': 'GET_STATE', 'id': 'big'}),
                         BRIDGE_ERR + 'TooLarge', 'big', contains='1 MiB')
        self.assertTrue(all(size < 1024 * 1024 for size in b.sizes), b.sizes)
        # Still serving.
        self.assertResult(b.call({'type': 'STOP_PRESENCE', 'id': 2}), 2)


class TestRoundTrip(BridgeTestCase):
    def test_round_trip_latency(self):
        b = self.bridge()
        b.call({'type': 'GET_STATE', 'id': 'warm'})
        results = {}
        for kind in ('REGISTER_SESSION', 'GET_STATE'):
            times = []
            for i in range(200):
                msg = {'type': kind, 'id': i}
                if kind == 'REGISTER_SESSION':
                    msg['payload'] = {'sessionId': 'rt-%d' % (i % 20),
                                      'expiresAt': now_ms() + 600_000}
                t0 = time.perf_counter()
                self.assertResult(b.call(msg), i)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            results[kind] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
            print('round trip frame in -> RESULT out, %s: p50 %.2f ms, p99 %.2f ms (n=200)'
                  % (kind, *results[kind]))
        # Generous: a loaded CI machine, fdatasync on every REGISTER_SESSION.
        for kind, (p50, p99) in results.items():
            self.assertLess(p99, 2000, kind)


class TestNotificationClick(notifytest.NotifyTestCase):
    def test_action_invoked_becomes_notification_click(self):
        b = Bridge()
        self.addCleanup(b.kill)
        self.assertEqual(b.call({'type': 'REGISTER_SIGNING_REQUEST', 'id': 1, 'payload': {
            'requestId': 'r1', 'sessionId': 'sess-9', 'fromPeerId': 'p',
            'expiresAt': now_ms() + 60000, 'url': 'wallet://sign/r1'}})['type'], 'RESULT')
        note = self.wait_for_notification()
        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(note.id), 'view'])
        click, _ = b.recv_until(lambda f: f['type'] == 'NOTIFICATION_CLICK')
        self.assertEqual(click['payload'], {'action': 'view', 'url': 'wallet://sign/r1',
                                            'sessionId': 'sess-9', 'requestId': 'r1'})


if __name__ == '__main__':
    smtest.main()
