#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start-up with a large saved state: no call is answered from a half-loaded
state. A call is sent to the daemon's connection by its unique name the
moment that connection asks the bus for the well-known name (seen by a bus
monitor), before it owns it, and the first calls to the well-known name go
out as soon as it is owned. The daemon loads its state once it owns the
name, so these calls reach it before or while it loads: each must wait for
the state and see every saved session.

Only the connection that requests the name is called: the daemon has
another one (GLib's shared connection, for notifications), and a call that
reaches a GDBus connection while it is still being set up makes GLib 2.74
raise a CRITICAL (check_unclosed), fatal under G_DEBUG=fatal-criticals."""

import os
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

    def watch_name_requests(self, on_request):
        """Calls on_request(unique name) in the main context when a
        connection asks the bus for the daemon's name, before the bus
        answers it. A monitor sees the RequestName call itself, so no other
        connection of the daemon is ever called."""
        monitor = Gio.DBusConnection.new_for_address_sync(
            os.environ['DBUS_SESSION_BUS_ADDRESS'],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.addCleanup(monitor.close_sync, None)

        def on_message(_conn, message, incoming):
            # GDBus's worker thread: hand over to the main context. The
            # calls seen are kept from GDBus's dispatch, which would answer
            # them (a monitor must not send); the reply to BecomeMonitor
            # goes through.
            if not incoming or message.get_message_type() != Gio.DBusMessageType.METHOD_CALL:
                return message
            body = message.get_body()
            if (message.get_member() == 'RequestName' and body is not None
                    and body[0] == smtest.BUS_NAME):
                GLib.idle_add(on_request, message.get_sender())
            return None

        monitor.add_filter(on_message)
        rule = (f"type='method_call',interface='org.freedesktop.DBus',member='RequestName',"
                f"arg0='{smtest.BUS_NAME}'")
        monitor.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                          'org.freedesktop.DBus.Monitoring', 'BecomeMonitor',
                          GLib.Variant('(asu)', ([rule], 0)), None,
                          Gio.DBusCallFlags.NONE, 5000, None)

    def test_no_call_answered_from_a_half_loaded_state(self):
        self.register_many(N)
        self.stop_daemon()

        replies = []   # (destination, number of sessions)
        refused = []   # (destination, D-Bus error name, message)
        early = []     # unique names called as soon as they requested the name

        def got(conn, result, dest):
            try:
                sessions = conn.call_finish(result).unpack()[0]
                replies.append((dest, len(sessions)))
            except GLib.Error as e:
                refused.append((dest, Gio.DBusError.get_remote_error(e), e.message))

        def ask(dest):
            self.bus.call(dest, smtest.OBJECT_PATH, smtest.IFACE, 'GetSessions', None,
                          GLib.VariantType('(aa{sv})'), Gio.DBusCallFlags.NO_AUTO_START,
                          int(60000 * smtest.SLOWDOWN), None, got, dest)

        def on_request(unique):
            # The connection that will own the name, as soon as it asks for
            # it: its object is exported, and it must not answer before it
            # has loaded.
            early.append(unique)
            ask(unique)
            return GLib.SOURCE_REMOVE

        self.watch_name_requests(on_request)
        self.start_daemon(wait=False)
        deadline = time.monotonic() + 30 * smtest.SLOWDOWN
        while self.name_owner() is None and time.monotonic() < deadline:
            self.pump(0.001)
        owner = self.name_owner()
        self.assertIsNotNone(owner, 'daemon did not take its bus name')
        for _ in range(3):
            ask(smtest.BUS_NAME)
        # The monitor's thread may hand its sighting over a little after
        # the name is owned: the call to the unique name may follow those.
        self.wait_for(lambda: early, 10, "the daemon's RequestName was not seen")
        self.wait_for(lambda: len(replies) + len(refused) >= 3 + len(early),
                      60 * smtest.SLOWDOWN, 'calls were not answered')

        self.assertEqual(refused, [], 'calls refused during the load')
        half = [r for r in replies if r[1] != N]
        self.assertEqual(half, [], f'answered from a half-loaded state: {half}')
        # The connection called the moment it asked for the name is the one
        # that owns it (else the test proved nothing about that gap).
        self.assertEqual(early, [owner])
        self.assertIn((owner, N), replies)


if __name__ == '__main__':
    smtest.main()
