#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Session methods, signals and errors over a real private bus."""

import os

from gi.repository import Gio, GLib

import smtest
from smtest import ERROR_PREFIX, now_ms

INVALID = ERROR_PREFIX + 'InvalidArgs'
NOT_FOUND = ERROR_PREFIX + 'NotFound'

# GetSessions entry keys and their exact D-Bus types (the contract).
REQUIRED_KEYS = {
    'session-id': 's',
    'expires-at': 'x',
    'registered-at': 'x',
    'session-type': 's',
    'metadata': 'a{sv}',
    'warn-thresholds': 'ax',
    'warnings-sent': 'ax',
}
OPTIONAL_KEYS = {'app-id': 's', 'url': 's'}
# Not in the contract's list; the daemon adds it for its own restore.
TOLERATED_KEYS = {'warn-before-minutes': 'u'}

MINUTE = 60000


def metadata():
    return {
        'u': GLib.Variant('u', 7),
        'i': GLib.Variant('i', -7),
        'x': GLib.Variant('x', -(2 ** 63)),
        't': GLib.Variant('t', 2 ** 64 - 1),
        'q': GLib.Variant('q', 3),
        'y': GLib.Variant('y', 200),
        'b': GLib.Variant('b', True),
        'd': GLib.Variant('d', 0.25),
        's': GLib.Variant('s', "O'Brien & Sons <Ltd>"),
        'o': GLib.Variant('o', '/org/example/Obj'),
        'ay': GLib.Variant('ay', b'\x00\x01\xff'),
        'as': GLib.Variant('as', ['a', 'b']),
        'nested': GLib.Variant('a{sv}', {'depth': GLib.Variant('q', 2),
                                         'inner': GLib.Variant('a{sv}', {
                                             'k': GLib.Variant('u', 1)})}),
        'v': GLib.Variant('v', GLib.Variant('u', 9)),
    }


class SessionsDBusTest(smtest.DaemonTestCase):

    # Helpers ---------------------------------------------------------------

    def get_sessions_raw(self):
        """GetSessions as GLib.Variants, so types can be checked exactly."""
        reply = self.bus.call_sync(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE,
                                   'GetSessions', None, GLib.VariantType('(aa{sv})'),
                                   Gio.DBusCallFlags.NO_AUTO_START,
                                   int(10000 * smtest.SLOWDOWN), None)
        return reply.get_child_value(0)

    def entries(self):
        out = {}
        raw = self.get_sessions_raw()
        for i in range(raw.n_children()):
            entry = raw.get_child_value(i)
            fields = {}
            for j in range(entry.n_children()):
                kv = entry.get_child_value(j)
                fields[kv.get_child_value(0).get_string()] = kv.get_child_value(1).get_variant()
            out[fields['session-id'].get_string()] = fields
        return out

    def assert_entry_types(self, fields, with_optional=()):
        expected = dict(REQUIRED_KEYS)
        for key in with_optional:
            expected[key] = OPTIONAL_KEYS[key]
        extra = set(fields) - set(expected) - set(TOLERATED_KEYS)
        self.assertEqual(extra, set(), 'unexpected keys in a GetSessions entry')
        for key, type_string in expected.items():
            self.assertIn(key, fields)
            self.assertEqual(fields[key].get_type_string(), type_string, key)
        for key, type_string in TOLERATED_KEYS.items():
            if key in fields:
                self.assertEqual(fields[key].get_type_string(), type_string, key)

    # Tests ------------------------------------------------------------------

    def test_register_defaults(self):
        expires = now_ms() + 20 * MINUTE
        before = now_ms()
        self.assertEqual(self.register_session('plain', expires), ())
        after = now_ms()

        entries = self.entries()
        self.assertEqual(list(entries), ['plain'])
        fields = entries['plain']
        self.assert_entry_types(fields)
        self.assertEqual(fields['expires-at'].get_int64(), expires)
        self.assertGreaterEqual(fields['registered-at'].get_int64(), before)
        self.assertLessEqual(fields['registered-at'].get_int64(), after)
        self.assertEqual(fields['session-type'].get_string(), 'signing')
        self.assertEqual(fields['warn-thresholds'].unpack(), [600000, 300000, 120000, 60000])
        self.assertEqual(fields['warnings-sent'].unpack(), [])
        self.assertEqual(fields['metadata'].n_children(), 0)
        self.assertNotIn('app-id', fields)
        self.assertNotIn('url', fields)
        # Nothing is due for twenty minutes: no signal yet.
        self.pump(0.2)
        self.assertEqual(self.signals, [])

    def test_register_all_options(self):
        expires = now_ms() + 20 * MINUTE
        meta = metadata()
        self.register_session('full', expires, {
            'session-type': GLib.Variant('s', 'nonce-exchange'),
            'warn-thresholds': GLib.Variant('ax', [1000, 900000, 2000]),
            'warn-before-minutes': GLib.Variant('u', 2),
            'metadata': GLib.Variant('a{sv}', meta),
            'app-id': GLib.Variant('s', 'org.example.Wallet'),
            'url': GLib.Variant('s', 'wallet://sessions/full'),
            'unknown-key-is-ignored': GLib.Variant('i', 1),
        })
        fields = self.entries()['full']
        self.assert_entry_types(fields, ('app-id', 'url'))
        self.assertEqual(fields['session-type'].get_string(), 'nonce-exchange')
        self.assertEqual(fields['app-id'].get_string(), 'org.example.Wallet')
        self.assertEqual(fields['url'].get_string(), 'wallet://sessions/full')
        self.assertEqual(sorted(fields['warn-thresholds'].unpack(), reverse=True),
                         [900000, 2000, 1000])

        # Metadata comes back with every type exactly as sent.
        got = fields['metadata']
        sent = GLib.Variant('a{sv}', meta)
        self.assertTrue(got.equal(sent), '%s != %s' % (got.print_(True), sent.print_(True)))
        for key, value in meta.items():
            returned = got.lookup_value(key, None)
            self.assertIsNotNone(returned, key)
            self.assertEqual(returned.get_type_string(), value.get_type_string(), key)
        self.assertEqual(got.lookup_value('u', None).get_uint32(), 7)
        self.assertEqual(got.lookup_value('ay', None).get_data_as_bytes().get_data(),
                         b'\x00\x01\xff')

    def test_reregister_replaces(self):
        first = now_ms() + 20 * MINUTE
        second = first + 5 * MINUTE
        self.register_session('s', first, {'session-type': GLib.Variant('s', 'a')})
        self.register_session('s', second, {'warn-thresholds': GLib.Variant('ax', [5000])})
        entries = self.entries()
        self.assertEqual(list(entries), ['s'])
        self.assertEqual(entries['s']['expires-at'].get_int64(), second)
        # Replaced, not merged: options not given again fall back to defaults.
        self.assertEqual(entries['s']['session-type'].get_string(), 'signing')
        self.assertEqual(entries['s']['warn-thresholds'].unpack(), [5000])

    def test_get_sessions_order_and_count(self):
        base = now_ms() + 20 * MINUTE
        for i, offset in enumerate([3, 1, 2]):
            self.register_session('id-%d' % i, base + offset * 1000)
        sessions = self.call('GetSessions')[0]
        self.assertEqual(len(sessions), 3)
        self.assertEqual({s['session-id'] for s in sessions}, {'id-0', 'id-1', 'id-2'})

    def test_unregister(self):
        expires = now_ms() + 20 * MINUTE
        self.register_session('done', expires)
        self.register_session('empty-reason', expires)
        self.register_session('stays', expires)

        self.assertEqual(self.call('UnregisterSession', 'ss', 'done', 'completed'), ())
        self.call('UnregisterSession', 'ss', 'empty-reason', '')
        self.wait_for_signal('SessionUnregistered', count=2)
        got = [s.args for s in self.signals_named('SessionUnregistered')]
        self.assertEqual(got, [('done', 'completed'), ('empty-reason', 'unregistered')])
        self.assertEqual(list(self.entries()), ['stays'])

        # Not monitored any more: NotFound, naming the argument and the id.
        message = self.assertDBusError(NOT_FOUND, 'UnregisterSession', 'ss', 'done', '')
        self.assertIn('session_id', message)
        self.assertIn('done', message)
        self.assertDBusError(NOT_FOUND, 'UnregisterSession', 'ss', 'never-registered', 'x')
        self.pump(0.1)
        self.assertEqual(len(self.signals_named('SessionUnregistered')), 2)
        self.assertEqual(list(self.entries()), ['stays'])

    def test_signals_are_broadcast(self):
        # A second, unrelated connection sees the signal too (no destination).
        other = Gio.DBusConnection.new_for_address_sync(
            os.environ['DBUS_SESSION_BUS_ADDRESS'],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        seen = []
        other.signal_subscribe(None, smtest.IFACE, 'SessionUnregistered', smtest.OBJECT_PATH,
                               None, Gio.DBusSignalFlags.NONE,
                               lambda *a: seen.append(a[5].unpack()))
        self.register_session('b', now_ms() + 20 * MINUTE)
        self.call('UnregisterSession', 'ss', 'b', 'aborted')
        self.wait_for(lambda: seen, 5, 'second connection saw no signal')
        self.assertEqual(seen, [('b', 'aborted')])
        other.close_sync(None)

    def test_invalid_args(self):
        now = now_ms()
        ok = now + 20 * MINUTE
        self.register_session('keep', ok, {'metadata': GLib.Variant('a{sv}', metadata())})
        before = self.get_sessions_raw()

        def opts(**kw):
            return {k.replace('_', '-'): v for k, v in kw.items()}

        cases = [
            ('empty id', '', ok, {}, 'session_id'),
            ('id of 256 bytes', 'x' * 256, ok, {}, 'session_id'),
            ('id with a newline', 'a\nb', ok, {}, 'session_id'),
            ('id with ESC', 'a\x1bb', ok, {}, 'session_id'),
            ('expires_at 0', 's', 0, {}, 'expires_at'),
            ('expires_at negative', 's', -1, {}, 'expires_at'),
            ('expires_at > 30 days ahead', 's', now + 31 * 24 * 60 * MINUTE, {}, 'expires_at'),
            ('session-type wrong type', 's', ok,
             opts(session_type=GLib.Variant('u', 1)), 'session-type'),
            ('warn-thresholds empty', 's', ok,
             opts(warn_thresholds=GLib.Variant('ax', [])), 'warn-thresholds'),
            ('warn-thresholds 17 values', 's', ok,
             opts(warn_thresholds=GLib.Variant('ax', list(range(1, 18)))), 'warn-thresholds'),
            ('warn-thresholds with 0', 's', ok,
             opts(warn_thresholds=GLib.Variant('ax', [1000, 0])), 'warn-thresholds'),
            ('warn-thresholds negative', 's', ok,
             opts(warn_thresholds=GLib.Variant('ax', [-5])), 'warn-thresholds'),
            ('warn-thresholds as ai', 's', ok,
             opts(warn_thresholds=GLib.Variant('ai', [1000])), 'warn-thresholds'),
            ('warn-before-minutes as i', 's', ok,
             opts(warn_before_minutes=GLib.Variant('i', 5)), 'warn-before-minutes'),
            ('metadata as s', 's', ok, opts(metadata=GLib.Variant('s', '{}')), 'metadata'),
            ('metadata over 64 KiB', 's', ok,
             opts(metadata=GLib.Variant('a{sv}', {'blob': GLib.Variant('ay', bytes(65536))})),
             'metadata'),
            ('app-id as b', 's', ok, opts(app_id=GLib.Variant('b', True)), 'app-id'),
            ('url as x', 's', ok, opts(url=GLib.Variant('x', 1)), 'url'),
            # A bad re-registration of an existing id leaves it as it was.
            ('bad re-register', 'keep', ok + 1,
             opts(warn_thresholds=GLib.Variant('ax', [])), 'warn-thresholds'),
        ]
        for what, session_id, expires_at, options, arg in cases:
            with self.subTest(what):
                message = self.assertDBusError(INVALID, 'RegisterSession', 'sxa{sv}',
                                               session_id, expires_at, options)
                self.assertIn(arg, message)
                # The daemon still answers, and nothing changed.
                self.assertTrue(self.get_sessions_raw().equal(before))

        for what, session_id, reason in [
                ('reason of 256 bytes', 'keep', 'r' * 256),
                ('reason with a tab', 'keep', 'a\tb'),
                ('empty id', '', '')]:
            with self.subTest(what):
                message = self.assertDBusError(INVALID, 'UnregisterSession', 'ss',
                                               session_id, reason)
                self.assertIn('reason' if session_id else 'session_id', message)
                self.assertTrue(self.get_sessions_raw().equal(before))

        self.pump(0.1)
        self.assertEqual(self.signals, [])

        # The edges that are still fine.
        self.register_session('y' * 255, ok)
        self.register_session('thirty-days', now_ms() + 30 * 24 * 60 * MINUTE - 5000)
        self.call('UnregisterSession', 'ss', 'keep', 'r' * 255)
        self.assertEqual(set(self.entries()), {'y' * 255, 'thirty-days'})

    def test_wrong_signature(self):
        # GDBus rejects a call whose arguments do not match the XML; the
        # daemon is unaffected.
        with self.assertRaises(GLib.Error) as cm:
            self.call('RegisterSession', 'sia{sv}', 's', 5, {})
        self.assertEqual(Gio.DBusError.get_remote_error(cm.exception),
                         'org.freedesktop.DBus.Error.InvalidArgs')
        self.assertEqual(self.call('GetSessions'), ([],))

    def test_expired_in_the_past(self):
        self.register_session('late', now_ms() - 1000, {'session-type': GLib.Variant('s', 't')})
        sig = self.wait_for_signal('SessionExpired')
        self.assertEqual(sig.args, ('late', 't'))
        self.pump(0.2)
        self.assertEqual([s.name for s in self.signals], ['SessionExpired'])
        self.assertEqual(self.call('GetSessions'), ([],))


if __name__ == '__main__':
    smtest.main()
