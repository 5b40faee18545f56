#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Start-up with a large saved state: no call is answered from a half-loaded
state. Calls sent the moment the daemon's connections appear on the bus (to
their unique names, before the well-known name is owned) and the first ones
to the well-known name either fail because nothing is exported there yet or
see every saved session."""

import time

from gi.repository import Gio, GLib

import smtest

N = 1500


class StartupLoadTest(smtest.DaemonTestCase):
    def register_many(self, n):
        pending = [0]
        errors = []

        def done(conn, result, _data):
            try:
                conn.call_finish(result)
            except GLib.Error as e:
                errors.append(e.message)
            pending[0] -= 1

        expires = smtest.now_ms() + 3600 * 1000
        for i in range(n):
            while pending[0] >= 64:
                self.pump(0.01)
            pending[0] += 1
            self.bus.call(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE, 'RegisterSession',
                          GLib.Variant('(sxa{sv})', (f'load-{i:05d}', expires + i, {
                              'app-id': GLib.Variant('s', 'org.example.Wallet'),
                              'metadata': GLib.Variant('a{sv}', {
                                  'peer': GLib.Variant('s', f'peer {i}')})})),
                          None, Gio.DBusCallFlags.NO_AUTO_START, 60000, None, done, None)
        self.wait_for(lambda: pending[0] == 0, 120 * smtest.SLOWDOWN, 'registrations pending')
        self.assertEqual(errors, [])

    def test_no_call_answered_from_a_half_loaded_state(self):
        self.register_many(N)
        self.stop_daemon()

        replies = []   # (destination, number of sessions)
        refused = []   # (destination, D-Bus error name)

        def got(conn, result, dest):
            try:
                sessions = conn.call_finish(result).unpack()[0]
                replies.append((dest, len(sessions)))
            except GLib.Error as e:
                refused.append((dest, Gio.DBusError.get_remote_error(e)))

        def ask(dest):
            self.bus.call(dest, smtest.OBJECT_PATH, smtest.IFACE, 'GetSessions', None,
                          GLib.VariantType('(aa{sv})'), Gio.DBusCallFlags.NO_AUTO_START,
                          int(60000 * smtest.SLOWDOWN), None, got, dest)

        def on_owner_changed(conn, sender, path, iface, name, params, _data=None):
            subject, old, new = params.unpack()
            # A new connection: ask it at once, before it can have loaded.
            if subject.startswith(':') and old == '' and new == subject:
                ask(subject)

        sub = self.bus.signal_subscribe('org.freedesktop.DBus', 'org.freedesktop.DBus',
                                        'NameOwnerChanged', '/org/freedesktop/DBus', None,
                                        Gio.DBusSignalFlags.NONE, on_owner_changed)
        self.addCleanup(self.bus.signal_unsubscribe, sub)
        # The match rule is in place once a round trip has returned.
        self.bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                           'org.freedesktop.DBus', 'GetId', None, None,
                           Gio.DBusCallFlags.NONE, 5000, None)

        self.start_daemon(wait=False)
        deadline = time.monotonic() + 30 * smtest.SLOWDOWN
        while self.name_owner() is None and time.monotonic() < deadline:
            self.pump(0.001)
        self.assertIsNotNone(self.name_owner(), 'daemon did not take its bus name')
        for _ in range(3):
            ask(smtest.BUS_NAME)
        self.wait_for(lambda: len([r for r in replies if r[0] == smtest.BUS_NAME]) == 3,
                      60 * smtest.SLOWDOWN, 'no answer on the well-known name')
        self.wait_for(lambda: len(replies) + len(refused) >= 4, 10 * smtest.SLOWDOWN,
                      'the unique names were never answered')

        half = [r for r in replies if r[1] != N]
        self.assertEqual(half, [], f'answered from a half-loaded state: {half}')
        # At least one call reached the daemon by its unique name before it
        # could have loaded (else the test proved nothing about the gap).
        self.assertTrue(any(d != smtest.BUS_NAME for d, _ in replies),
                        f'no unique-name call was answered: {refused}')
        # Whatever was refused was refused for a missing object or method (the
        # notifier's connection exports nothing), never answered wrong.
        for dest, name in refused:
            self.assertIn(name, ('org.freedesktop.DBus.Error.UnknownMethod',
                                 'org.freedesktop.DBus.Error.UnknownObject'), dest)


if __name__ == '__main__':
    smtest.main()
