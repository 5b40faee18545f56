# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared harness for the integration tests.

Each test class gets its own private session bus (dbusmock's DBusTestCase),
never the developer's, and each test its own daemon with a temporary
XDG_STATE_HOME. Signals are recorded with their receipt time so tests can
assert order and "never early".
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import dbusmock
from gi.repository import Gio, GLib

BUS_NAME = 'org.musig2.SessionMonitor1'
OBJECT_PATH = '/org/musig2/SessionMonitor1'
IFACE = 'org.musig2.SessionMonitor1'
ERROR_PREFIX = 'org.musig2.SessionMonitor1.Error.'

DAEMON = os.environ.get('SM_DAEMON', os.path.join(
    os.path.dirname(__file__), '..', '_build', 'src', 'session-monitor'))
# Optional command prefix for the daemon, e.g. "valgrind --error-exitcode=1 ...".
DAEMON_WRAPPER = os.environ.get('SM_DAEMON_WRAPPER', '').split()
# Under valgrind everything is slower: scale every timeout by this.
SLOWDOWN = float(os.environ.get('SM_TEST_SLOWDOWN', '1'))


def now_ms():
    return time.time_ns() // 1_000_000


def name_owner(bus):
    """The unique name owning the daemon's bus name on @bus, or None."""
    try:
        return bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                             'org.freedesktop.DBus', 'GetNameOwner',
                             GLib.Variant('(s)', (BUS_NAME,)), None,
                             Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
    except GLib.Error:
        return None


class Signal:
    def __init__(self, name, args, received_ms):
        self.name = name
        self.args = args
        self.received_ms = received_ms

    def __repr__(self):
        return f'{self.name}{self.args!r}@{self.received_ms}'


class DaemonTestCase(dbusmock.DBusTestCase):
    """Starts a private bus per class and a fresh daemon per test."""

    daemon_args = []

    @classmethod
    def setUpClass(cls):
        cls.start_session_bus()
        # A GDBus connection (dbusmock's get_dbus() returns a dbus-python one,
        # which has none of the Gio calls this harness makes).
        cls.bus = Gio.DBusConnection.new_for_address_sync(
            os.environ['DBUS_SESSION_BUS_ADDRESS'],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def setUp(self):
        self.state_home = tempfile.mkdtemp(prefix='sm-test-state-')
        self.addCleanup(shutil.rmtree, self.state_home, ignore_errors=True)
        self.signals = []
        self.daemon = None
        self._sub = self.bus.signal_subscribe(
            BUS_NAME, IFACE, None, OBJECT_PATH, None,
            Gio.DBusSignalFlags.NONE, self._on_signal)
        self.addCleanup(self.bus.signal_unsubscribe, self._sub)
        self.start_daemon()

    def tearDown(self):
        self.stop_daemon()

    # Daemon lifecycle -----------------------------------------------------

    def daemon_env(self):
        env = dict(os.environ)
        env['XDG_STATE_HOME'] = self.state_home
        env.setdefault('G_DEBUG', 'fatal-criticals')
        return env

    def start_daemon(self, extra_args=(), wait=True):
        argv = DAEMON_WRAPPER + [DAEMON, '--verbose'] + list(self.daemon_args) + list(extra_args)
        self.daemon_log = tempfile.TemporaryFile(mode='w+')
        self.daemon = subprocess.Popen(argv, env=self.daemon_env(),
                                       stdout=self.daemon_log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_for(lambda: self.name_owner() is not None, 10,
                          'daemon did not take its bus name')
            # The state loads once the name is owned, in the daemon's main
            # loop: an answered call comes after it, so tests see it loaded.
            self.call('GetPresence')

    def stop_daemon(self, sig=None):
        """Stops the daemon; by default cleanly, and then checks it exited 0."""
        if self.daemon is None:
            return
        if sig is None:
            self.daemon.terminate()
        else:
            self.daemon.send_signal(sig)
        try:
            rc = self.daemon.wait(timeout=30 * SLOWDOWN)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            rc = self.daemon.wait()
            self.fail('daemon did not exit on signal\n' + self.read_log())
        log = self.read_log()
        self.daemon = None
        if sig is None:
            self.assertEqual(rc, 0, 'daemon exited with %d\n%s' % (rc, log))
        self.wait_for(lambda: self.name_owner() is None, 10, 'bus name still owned')
        return rc

    def read_log(self):
        self.daemon_log.seek(0)
        return self.daemon_log.read()

    def name_owner(self):
        return name_owner(self.bus)

    # Calls ------------------------------------------------------------------

    def call(self, method, signature=None, *args, bus=None):
        """Calls a method and returns its unpacked out-arguments tuple."""
        params = GLib.Variant('(' + signature + ')', args) if signature else None
        result = (bus or self.bus).call_sync(BUS_NAME, OBJECT_PATH, IFACE, method, params,
                                             None, Gio.DBusCallFlags.NO_AUTO_START,
                                             int(10000 * SLOWDOWN), None)
        return result.unpack()

    def assertDBusError(self, error_name, method, signature, *args, contains=None):
        """Asserts the call fails with exactly @error_name; returns the message."""
        with self.assertRaises(GLib.Error) as cm:
            self.call(method, signature, *args)
        remote = Gio.DBusError.get_remote_error(cm.exception)
        self.assertEqual(remote, error_name, cm.exception.message)
        if contains is not None:
            self.assertIn(contains, cm.exception.message)
        return cm.exception.message

    def register_session(self, session_id, expires_at, options=None):
        return self.call('RegisterSession', 'sxa{sv}', session_id, expires_at, options or {})

    def get_sessions(self):
        return {s['session-id']: s for s in self.call('GetSessions')[0]}

    # Signals ------------------------------------------------------------------

    def _on_signal(self, conn, sender, path, iface, name, params):
        self.signals.append(Signal(name, params.unpack(), now_ms()))

    def pump(self, seconds=0.0):
        """Runs the main context for @seconds (at least one iteration)."""
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while True:
            while ctx.pending():
                ctx.iteration(False)
            if time.monotonic() >= end:
                return
            time.sleep(0.001)

    def wait_for(self, predicate, timeout, message='condition not met'):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + timeout * SLOWDOWN
        while not predicate():
            if time.monotonic() > end:
                self.fail(message + (('\n' + self.read_log()) if self.daemon else ''))
            ctx.iteration(False) or time.sleep(0.002)
        return True

    def signals_named(self, name):
        return [s for s in self.signals if s.name == name]

    def wait_for_signal(self, name, timeout=5, count=1, match=None):
        def found():
            return [s for s in self.signals_named(name)
                    if match is None or match(s.args)]
        self.wait_for(lambda: len(found()) >= count, timeout,
                      'no %s signal (have %r)' % (name, self.signals))
        return found()[count - 1]


def main():
    unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout, verbosity=2))
