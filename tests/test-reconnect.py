#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A message GDBus cannot decode costs the daemon its bus connection (GLib
2.74 rejects some valid messages, e.g. an a{yg} holding "(xxs)" inside a
variant). The daemon must reconnect at once and go on serving everything it
had: same process, same sessions, presence owner still watched, signals
still delivered."""

import os
import signal
import subprocess
import tempfile
import time

import smtest
from gi.repository import Gio, GLib

# A call found by the D-Bus fuzz test (seed 1663734996) that GLib 2.74
# cannot decode; whether it fails depends on the alignment of what comes
# before the a{yg}, so it is kept whole.
POISON = GLib.Variant('(sxa{sv})', ('AK7\u07ba\\\u04b1t5\u0286\\;6~', 0, {
    'session-type': GLib.Variant('a{yg}', {0xff: 's', 0x82: '(xxs)', 0x00: 's'}),
    'warn-thresholds': GLib.Variant('ax', [60000, -1, 2**63 - 1, 2**63 - 1, 600000, 600000,
                                           2**63 - 1, 474560463, 60000, -2**63, 2429564818,
                                           -2**63, 600000, -2**63, 1, 600000, 1]),
    'warn-before-minutes': GLib.Variant('u', 1694974344),
    'metadata': GLib.Variant('a{sv}', {')\tʣ': GLib.Variant('ad', []),
                                       '': GLib.Variant('d', -9.9999999999999991e-309),
                                       'D<': GLib.Variant('(o)', ('/',))}),
    'app-id': GLib.Variant('s', ''),
    'url': GLib.Variant('s', '\ufeff\u007f\U000d8ba3ĲŨ\u001bJ-w\U000ef0b7'),
    '!\u0657\x1b\ua885Ć(\u0688\U00057763': GLib.Variant('x', 0)}))


class ReconnectTest(smtest.DaemonTestCase):
    def send_poison(self):
        with self.assertRaises(GLib.Error) as cm:
            self.bus.call_sync(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE,
                               'RegisterSession', POISON, None,
                               Gio.DBusCallFlags.NO_AUTO_START, 5000, None)
        remote = Gio.DBusError.get_remote_error(cm.exception)
        if remote != 'org.freedesktop.DBus.Error.NoReply':
            # A GLib that decodes the message answers it like any bad call.
            self.assertEqual(remote, smtest.ERROR_PREFIX + 'InvalidArgs')
            self.skipTest('this GLib decodes the message; nothing to recover from')
        self.wait_for(lambda: self.name_owner() is not None, 10, 'daemon did not come back')

    def test_serves_on_after_undecodable_messages(self):
        pid = self.daemon.pid
        now = smtest.now_ms()
        self.register_session('kept', now + 3_600_000,
                              {'metadata': GLib.Variant('a{sv}', {'n': GLib.Variant('u', 7)})})
        self.call('UpdatePresence', 'sxa{sv}', 'bc1qkept', 60_000, {})

        for _ in range(10):
            self.send_poison()
        self.assertIsNone(self.daemon.poll(), 'daemon exited')
        self.assertEqual(self.daemon.pid, pid)
        self.assertIn('Lost the connection to the bus; reconnected', self.read_log())

        sessions = self.get_sessions()
        self.assertEqual(set(sessions), {'kept'})
        self.assertEqual(sessions['kept']['metadata'], {'n': 7})
        # Our connection is still on the bus: the owner watch was made anew.
        presence = self.call('GetPresence')[0]
        self.assertEqual(presence['owner'], self.bus.get_unique_name())
        self.wait_for(lambda: self.call('GetPresence')[0]['owner-connected'], 5,
                      'presence owner not watched again after reconnecting')

        # Signals still reach clients, on time.
        due = smtest.now_ms() + 1500
        self.register_session('after', due, {'warn-thresholds': GLib.Variant('ax', [1000])})
        expired = self.wait_for_signal('SessionExpired', timeout=10,
                                       match=lambda a: a[0] == 'after')
        self.assertGreaterEqual(expired.received_ms, due - 5)
        warned = self.wait_for_signal('SessionExpiring', match=lambda a: a[0] == 'after')
        self.assertLess(warned.received_ms, expired.received_ms)


    def start_on_own_bus(self, log):
        """A bus of the test's own (the class bus must outlive the test) and a
        daemon on it that answers; returns (bus, daemon)."""
        bus = subprocess.Popen(['dbus-daemon', '--session', '--nofork', '--print-address=1'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(bus.wait)
        self.addCleanup(bus.terminate)
        address = bus.stdout.readline().strip()
        env = dict(self.daemon_env(), DBUS_SESSION_BUS_ADDRESS=address,
                   G_DEBUG='fatal-criticals')
        daemon = subprocess.Popen(smtest.DAEMON_WRAPPER + [smtest.DAEMON, '--verbose'],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        end = time.monotonic() + 10 * smtest.SLOWDOWN
        while True:
            try:
                conn.call_sync(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE,
                               'GetSessions', None, None,
                               Gio.DBusCallFlags.NO_AUTO_START, 1000, None)
                break
            except GLib.Error:
                self.assertLess(time.monotonic(), end, 'daemon never answered')
                time.sleep(0.05)
        conn.close_sync(None)
        return bus, daemon

    def test_exits_when_the_bus_is_gone(self):
        """When the bus itself goes away reconnecting fails: the daemon exits
        with status 1, cleanly (no critical, which the tests make fatal), and
        by its own decision: no connection of its (GLib's shared one that
        libnotify and the notification server watch use included) raises
        SIGTERM when the bus closes it."""
        with tempfile.TemporaryFile(mode='w+') as log:
            bus, daemon = self.start_on_own_bus(log)
            bus.terminate()
            bus.wait()
            rc = daemon.wait(timeout=30 * smtest.SLOWDOWN)
            log.seek(0)
            output = log.read()
        self.assertEqual(rc, 1, output)
        self.assertIn('Lost the connection to the bus and cannot reconnect', output)
        self.assertNotIn('Terminating on signal', output)
        self.assertNotIn('CRITICAL', output)
        self.assertNotIn('WARNING', output)

    def test_no_bus_at_start(self):
        """No bus to start on: the notifier says so, the daemon exits 1."""
        env = dict(self.daemon_env(), G_DEBUG='fatal-criticals',
                   DBUS_SESSION_BUS_ADDRESS='unix:path=' + os.path.join(self.state_home, 'no-bus'))
        proc = subprocess.run(smtest.DAEMON_WRAPPER + [smtest.DAEMON, '--verbose'], env=env,
                              capture_output=True, text=True, timeout=30 * smtest.SLOWDOWN)
        output = proc.stdout + proc.stderr
        self.assertEqual(proc.returncode, 1, output)
        self.assertIn('No session bus for notifications', output)
        self.assertNotIn('CRITICAL', output)

    def assert_clean_stop(self, rc, output):
        self.assertEqual(rc, 0, output)
        self.assertIn('Terminating on signal', output)
        for noise in ('WARNING', 'CRITICAL', 'reconnect', 'rror'):
            self.assertNotIn(noise, output)

    def test_sigint_as_the_bus_goes_away(self):
        """Ctrl+C on dbus-run-session signals the bus and the daemon at once:
        that is a shutdown, exit 0 without a word about the bus."""
        with tempfile.TemporaryFile(mode='w+') as log:
            bus, daemon = self.start_on_own_bus(log)
            bus.send_signal(signal.SIGINT)
            daemon.send_signal(signal.SIGINT)
            bus.wait()
            rc = daemon.wait(timeout=30 * smtest.SLOWDOWN)
            log.seek(0)
            output = log.read()
        self.assert_clean_stop(rc, output)

    def test_sigterm_just_after_the_bus_went_away(self):
        """The bus may die first and the signal be seen a moment later: the
        daemon waits a little before calling the lost bus a failure."""
        with tempfile.TemporaryFile(mode='w+') as log:
            bus, daemon = self.start_on_own_bus(log)
            bus.terminate()
            bus.wait()
            time.sleep(0.2)
            self.assertIsNone(daemon.poll(), 'daemon exited before its grace period')
            daemon.terminate()
            rc = daemon.wait(timeout=30 * smtest.SLOWDOWN)
            log.seek(0)
            output = log.read()
        self.assert_clean_stop(rc, output)


if __name__ == '__main__':
    smtest.main()
