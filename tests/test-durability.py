#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Durable state: what a successful call stored survives kill -9 with its
exact D-Bus types; whatever expired while the daemon was down is announced
once; unusable state files are moved aside; an unwritable directory is only
logged; future time stamps are clamped."""

import glob
import os
import signal
import time

from gi.repository import Gio, GLib

import smtest

HOUR = 3600 * 1000
STORAGE_FAILED = 'org.musig2.SessionMonitor1.Error.StorageFailed'


def metadata_of_every_type():
    v = GLib.Variant
    return v('a{sv}', {
        'y': v('y', 255), 'b': v('b', True), 'n': v('n', -32768), 'q': v('q', 65535),
        'i': v('i', -7), 'u': v('u', 7), 'x': v('x', -2 ** 63), 't': v('t', 2 ** 64 - 1),
        'd': v('d', 0.1), 'h': v('h', 0), 's': v('s', "O'Brien \"&\" <Ltd> \u20bf\n"),
        'o': v('o', '/org/example/Wallet'), 'g': v('g', 'a{sv}'),
        'ay': v('ay', b'\x00\x01\xff'), 'as': v('as', []), 'ax': v('ax', [1, -1]),
        'nested': v('a{sv}', {'deeper': v('v', v('(ius)', (1, 2, 'x')))}),
        'dict': v('a{uy}', {1: 2}),
    })


class DurabilityTest(smtest.DaemonTestCase):

    def state_dir(self):
        return os.path.join(self.state_home, 'session-monitor')

    def raw(self, method):
        """The reply as a GVariant, so that types can be compared exactly."""
        return self.bus.call_sync(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE, method,
                                  None, None, Gio.DBusCallFlags.NO_AUTO_START, 10000,
                                  None).get_child_value(0)

    def kill_and_restart(self, pause=0.0, **kwargs):
        self.stop_daemon(signal.SIGKILL)
        time.sleep(pause)
        self.signals.clear()
        self.start_daemon(**kwargs)

    def restart(self):
        self.stop_daemon()
        self.signals.clear()
        self.start_daemon()

    def test_kill9_right_after_replies_loses_nothing(self):
        now = smtest.now_ms()
        self.register_session('warned', now + HOUR,
                              {'warn-thresholds': GLib.Variant('ax', [HOUR - 500, 60000]),
                               'metadata': metadata_of_every_type(),
                               'warn-before-minutes': GLib.Variant('u', 2),
                               'app-id': GLib.Variant('s', 'org.example.Wallet'),
                               'url': GLib.Variant('s', 'wallet://session/warned')})
        self.wait_for_signal('SessionExpiring')
        for i in range(50):
            self.register_session('s-%02d-\u00e9\u4e2d\U0001f511' % i, now + 2 * HOUR + i,
                                  {'session-type': GLib.Variant('s', 'keygen')})
        self.call('UnregisterSession', 'ss', 's-07-\u00e9\u4e2d\U0001f511', 'completed')
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'req-1', 'warned', 'peer-a',
                  now + HOUR, {'from-nickname': GLib.Variant('s', 'Bob'),
                               'amount': GLib.Variant('s', '0.1 BTC')})
        self.call('UpdatePresence', 'sxa{sv}', 'bc1qwallet', 60000,
                  {'nickname': GLib.Variant('s', 'Alice')})
        sessions = self.raw('GetSessions')
        requests = self.raw('GetSigningRequests')
        presence = self.call('GetPresence')[0]
        self.assertEqual(sessions.n_children(), 50)

        self.kill_and_restart()

        self.assertEqual(self.raw('GetSessions').print_(True), sessions.print_(True))
        self.assertEqual(self.raw('GetSigningRequests').print_(True), requests.print_(True))
        restored = self.call('GetPresence')[0]
        self.assertFalse(restored.pop('owner-connected'))
        presence.pop('owner-connected')
        self.assertEqual(restored, presence)
        meta = self.raw('GetSessions').get_child_value(0).lookup_value('metadata', None)
        self.assertEqual(meta.lookup_value('u', None).get_type_string(), 'u')
        self.assertEqual(meta.lookup_value('t', None).unpack(), 2 ** 64 - 1)
        self.assertEqual(self.get_sessions()['warned']['warnings-sent'], [HOUR - 500])

        # The warning sent before the crash is not sent again.
        self.pump(1.0)
        self.assertEqual(self.signals_named('SessionExpiring'), [])
        self.assertTrue(os.path.exists(os.path.join(self.state_dir(), 'state.json')))
        self.assertEqual(os.stat(os.path.join(self.state_dir(), 'state.json')).st_mode & 0o777,
                         0o600)

    def test_expired_while_down_is_announced_once(self):
        now = smtest.now_ms()
        # One whose warning was sent, one whose warning never came, a request.
        self.register_session('warned', now + 1500,
                              {'warn-thresholds': GLib.Variant('ax', [1400])})
        self.register_session('silent', now + 1500,
                              {'warn-thresholds': GLib.Variant('ax', [500])})
        self.register_session('later', now + HOUR)
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'req-1', 'later', 'peer-a',
                  now + 1500, {})
        self.wait_for_signal('SessionExpiring')

        self.kill_and_restart(pause=max(0, (now + 1700 - smtest.now_ms()) / 1000))

        expired = self.wait_for_signal('SessionExpired', count=2)
        self.wait_for_signal('SigningRequestExpired')
        self.pump(0.5)
        self.assertEqual(sorted(s.args[0] for s in self.signals_named('SessionExpired')),
                         ['silent', 'warned'])
        self.assertEqual([s.args[:2] for s in self.signals_named('SigningRequestExpired')],
                         [('req-1', 'later')])
        self.assertEqual(self.signals_named('SessionExpiring'), [])
        self.assertGreaterEqual(expired.received_ms, now + 1500)
        self.assertIn('2 sessions and 1 signing requests expired while the monitor was not running',
                      self.read_log())
        self.assertEqual(list(self.get_sessions()), ['later'])

        # Announced once: the next start has nothing more to say.
        self.restart()
        self.pump(0.5)
        self.assertEqual(self.signals_named('SessionExpired'), [])
        self.assertEqual(self.signals_named('SigningRequestExpired'), [])
        self.assertNotIn('expired while the monitor', self.read_log())

    def test_thresholds_passed_while_down_warn_once(self):
        now = smtest.now_ms()
        expires = now + 200000
        self.register_session('s', expires,
                              {'warn-thresholds': GLib.Variant('ax', [199300, 198600, 100000])})
        self.kill_and_restart(pause=max(0, (now + 1600 - smtest.now_ms()) / 1000))

        warning = self.wait_for_signal('SessionExpiring')
        self.pump(0.5)
        self.assertEqual(len(self.signals_named('SessionExpiring')), 1)
        self.assertEqual(warning.args[0], 's')
        self.assertEqual(warning.args[2], -(-(expires - warning.received_ms) // 60000))
        self.assertEqual(sorted(self.get_sessions()['s']['warnings-sent']), [198600, 199300])

    def test_presence_after_restart(self):
        self.call('UpdatePresence', 'sxa{sv}', 'bc1qwallet', 10000, {})
        t0 = self.wait_for_signal('PresenceRefreshNeeded').args[1]
        self.kill_and_restart()
        presence = self.call('GetPresence')[0]
        self.assertFalse(presence['owner-connected'])
        self.assertEqual(presence['last-refresh'], t0)
        # The stored owner is gone: ticks fail, no refresh is asked, and the
        # lapse at t0 + ttl ends them.
        last = self.wait_for_signal('PresenceRefreshed', timeout=15,
                                    match=lambda args: args[1] == 0)
        self.assertFalse(last.args[0])
        self.assertGreaterEqual(last.received_ms, t0 + 10000 - 5)
        self.assertTrue(all(not s.args[0] for s in self.signals_named('PresenceRefreshed')))
        self.assertEqual(self.signals_named('PresenceRefreshNeeded'), [])

    def check_moved_aside(self, name, content):
        path = os.path.join(self.state_dir(), name)
        asides = glob.glob(path + '.corrupt-*')
        self.assertEqual(len(asides), 1, (name, content, os.listdir(self.state_dir())))
        with open(asides[0], 'rb') as f:
            self.assertEqual(f.read(), content)
        self.assertIn(path, self.read_log())
        os.unlink(asides[0])

    def test_unusable_state_files_are_moved_aside(self):
        cases = {
            'empty': b'',
            'truncated': b'{"version": 1, "sessions": {"a": "{\'session-id\': <\'a\'>',
            'not json': b'\x00\xffgarbage',
            'wrong top level': b'[1, 2, 3]',
            'version a string': b'{"version": "1"}',
            'no version': b'{"sessions": {}}',
            'future version': b'{"version": 99, "sessions": {}}',
            'sessions an array': b'{"version": 1, "sessions": []}',
            'entry a number': b'{"version": 1, "sessions": {"a": 5}}',
            'entry not a variant': b'{"version": 1, "sessions": {"a": "{not a variant"}}',
            'entry wrong type': b'{"version": 1, "sessions": {"a": "[1, 2]"}}',
            'too deep': b'{"version": 1, "sessions": {"a": "' + b'<' * 300 + b'1' + b'>' * 300
                        + b'"}}',
        }
        os.makedirs(self.state_dir(), exist_ok=True)
        for what, content in cases.items():
            with self.subTest(what):
                self.stop_daemon()
                with open(os.path.join(self.state_dir(), 'state.json'), 'wb') as f:
                    f.write(content)
                self.start_daemon()
                self.assertEqual(self.get_sessions(), {})
                self.check_moved_aside('state.json', content)
                self.assertIn('unusable', self.read_log())
                # And it goes on working and storing.
                self.register_session('fresh', smtest.now_ms() + HOUR)
        self.kill_and_restart()
        self.assertEqual(list(self.get_sessions()), ['fresh'])

    def test_journal_damage(self):
        self.register_session('kept', smtest.now_ms() + HOUR)
        self.stop_daemon(signal.SIGKILL)
        journal = os.path.join(self.state_dir(), 'state.journal')
        with open(journal, 'ab') as f:
            f.write(b'{"section": "sessions", "id": "torn", "entry": "{\'sess')
        self.start_daemon()
        # A torn last line is a write that was never answered: dropped quietly.
        self.assertEqual(list(self.get_sessions()), ['kept'])
        self.assertEqual(glob.glob(journal + '.corrupt-*'), [])

        self.register_session('second', smtest.now_ms() + HOUR)
        self.stop_daemon(signal.SIGKILL)
        with open(journal, 'rb') as f:
            good = f.read()
        # Damaged records (not JSON, a bad checksum, a wrong length, NUL
        # bytes) are skipped one by one: every intact record after them is
        # still replayed, and the file stays where it is.
        record = next(line for line in good.split(b'\n') if b'"second"' in line)
        crc, length, text = record.split(b' ', 2)
        damaged = (b'{"section": 5}\n'
                   + b'00000000 ' + length + b' ' + text.replace(b'second', b'badcrc') + b'\n'
                   + crc + b' 3 ' + text.replace(b'second', b'badlen') + b'\n'
                   + b'\0' * 100 + b'\n' + good)
        with open(journal, 'wb') as f:
            f.write(damaged)
        self.start_daemon()
        self.assertEqual(sorted(self.get_sessions()), ['kept', 'second'])
        self.assertEqual(glob.glob(journal + '.corrupt-*'), [])
        log = self.read_log()
        self.assertIn('skipped 4 damaged records', log)
        self.assertIn('checksum mismatch', log)
        self.assertIn('its header says 3', log)

    def test_unwritable_state_directory(self):
        """A state directory that cannot be made: the daemon says so at start,
        serves reads, and refuses changes rather than acknowledge what a
        restart would lose."""
        self.stop_daemon()
        blocker = os.path.join(self.state_home, 'a-file')
        with open(blocker, 'w') as f:
            f.write('not a directory')
        self.start_daemon(extra_args=['--state-dir', os.path.join(blocker, 'sub')])
        self.assertDBusError(STORAGE_FAILED, 'RegisterSession', 'sxa{sv}', 'memory',
                             smtest.now_ms() + HOUR, {}, contains='Not a directory')
        self.assertEqual(self.get_sessions(), {})
        self.assertIn('Cannot create the state directory', self.read_log())
        self.assertIn('refused', self.read_log())
        self.assertIn(os.path.join(blocker, 'sub'), self.read_log())
        # Writes resume by themselves once the directory can be made.
        os.unlink(blocker)
        self.register_session('later', smtest.now_ms() + HOUR)
        self.stop_daemon(signal.SIGKILL)
        self.start_daemon(extra_args=['--state-dir', os.path.join(blocker, 'sub')])
        self.assertEqual(list(self.get_sessions()), ['later'])

    def test_state_dir_option_and_future_timestamps(self):
        self.stop_daemon()
        state_dir = os.path.join(self.state_home, 'elsewhere')
        os.makedirs(state_dir)
        now = smtest.now_ms()
        future = now + 24 * HOUR
        session = ("{'session-id': <'s'>, 'expires-at': <int64 %d>, "
                   "'registered-at': <int64 %d>, 'metadata': <{'k': <uint32 5>}>}"
                   % (now + 2 * HOUR, future))
        presence = ("{'wallet-address': <'bc1q'>, 'ttl': <int64 60000>, "
                    "'last-refresh': <int64 %d>, 'next-refresh-at': <int64 %d>, "
                    "'owner': <':1.99'>}" % (future, future + 24000))
        with open(os.path.join(state_dir, 'state.json'), 'w') as f:
            f.write('{"version": 1, "from-the-future": {"x": [1]}, "sessions": {"s": "%s"}, '
                    '"presence": "%s"}' % (session, presence))
        self.start_daemon(extra_args=['--state-dir', state_dir])
        # The state is loaded once the name is owned, possibly just after
        # start_daemon() saw the name: the answer bounds the load time.
        restored = self.get_sessions()['s']
        after = smtest.now_ms()

        self.assertTrue(now <= restored['registered-at'] <= after, restored)
        self.assertEqual(self.raw('GetSessions').get_child_value(0)
                         .lookup_value('metadata', None).lookup_value('k', None)
                         .get_type_string(), 'u')
        p = self.call('GetPresence')[0]
        self.assertTrue(now <= p['last-refresh'] <= after, p)
        self.assertLessEqual(p['next-refresh-at'], after + 24000)
        # --state-dir is where the state went.
        self.assertTrue(os.path.exists(os.path.join(state_dir, 'state.journal')))
        self.assertEqual(glob.glob(os.path.join(state_dir, '*.corrupt-*')), [])


if __name__ == '__main__':
    smtest.main()
