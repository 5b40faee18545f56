#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tools/run-daemon where no session bus is reachable: it starts a private
bus, prints its address, and Ctrl+C (SIGINT to the whole foreground process
group, as a terminal sends it) or SIGTERM to the script stops the daemon
with status 0 and no warning, then the bus, and leaves nothing in TMPDIR.
Runs the built daemon (SM_DAEMON), so nothing is installed or built."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from gi.repository import Gio, GLib

import smtest

SCRIPT = os.path.join(os.environ.get('SM_SOURCE_DIR',
                                     os.path.join(os.path.dirname(__file__), '..')),
                      'tools', 'run-daemon')
# What /work/shared/tools/fresh-debian refuses after the address line.
NOISE = re.compile(r'WARNING|CRITICAL|reconnect|[Ee]rror')


def as_from_a_terminal():
    # A terminal's foreground job: its own process group, SIGINT at its
    # default (a test runner may have it ignored).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.setsid()


class RunDaemonTest(unittest.TestCase):
    def setUp(self):
        self.tmpdir = tempfile.mkdtemp(prefix='sm-test-run-daemon-')
        self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.state = tempfile.mkdtemp(prefix='sm-test-state-')
        self.addCleanup(shutil.rmtree, self.state, ignore_errors=True)
        self.env = dict(os.environ, TMPDIR=self.tmpdir, XDG_STATE_HOME=self.state,
                        SM_DAEMON=smtest.DAEMON)
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.new_log()

    def new_log(self):
        # Appended to by the processes, read through a file of its own:
        # they never share a file offset with the reader.
        fd, self.log_path = tempfile.mkstemp(prefix='sm-test-run-daemon-log-')
        os.close(fd)
        self.addCleanup(os.unlink, self.log_path)

    def start(self, *args, env=None):
        with open(self.log_path, 'a') as log:
            proc = subprocess.Popen([SCRIPT] + list(args), env=env or self.env,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=as_from_a_terminal)
        self.addCleanup(self.kill_group, proc)
        return proc

    def kill_group(self, proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def output(self):
        with open(self.log_path) as log:
            return log.read()

    def wait_for_address(self, proc):
        end = time.monotonic() + 20 * smtest.SLOWDOWN
        while time.monotonic() < end:
            # As fresh-debian reads it: the first DBUS_SESSION_BUS_ADDRESS=.
            match = re.search(r'DBUS_SESSION_BUS_ADDRESS=([^ ;\n]*)', self.output())
            if match:
                return match.group(1)
            self.assertIsNone(proc.poll(), 'run-daemon exited:\n' + self.output())
            time.sleep(0.05)
        self.fail('no bus address printed:\n' + self.output())

    def connect(self, address):
        return Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def get_sessions(self, address):
        conn = self.connect(address)
        end = time.monotonic() + 10 * smtest.SLOWDOWN
        try:
            while True:
                try:
                    return conn.call_sync(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE,
                                          'GetSessions', None, None,
                                          Gio.DBusCallFlags.NO_AUTO_START, 2000,
                                          None).unpack()
                except GLib.Error:
                    self.assertLess(time.monotonic(), end, 'daemon never answered\n'
                                    + self.output())
                    time.sleep(0.05)
        finally:
            conn.close_sync(None)

    def wait_exit(self, proc, what=''):
        """The exit status; Ctrl+C must stop it within 5 s (fresh-debian)."""
        try:
            return proc.wait(timeout=5 * smtest.SLOWDOWN)
        except subprocess.TimeoutExpired:
            ps = subprocess.run(['ps', '-o', 'pid,stat,args', '-s', str(proc.pid)],
                                capture_output=True, text=True).stdout
            self.fail('run-daemon still running 5 s after the signal %s\n%s%s'
                      % (what, ps, self.output()))

    def assert_all_gone(self, address):
        self.assertEqual(os.listdir(self.tmpdir), [], 'left behind in TMPDIR')
        path = re.match(r'unix:path=([^,]+)', address)
        self.assertIsNotNone(path, address)
        self.assertFalse(os.path.exists(path.group(1)), 'bus socket left behind')
        with self.assertRaises(GLib.Error):
            self.connect(address)

    def assert_clean_stop(self, send):
        proc = self.start()
        address = self.wait_for_address(proc)
        self.assertTrue(address.startswith('unix:path=' + self.tmpdir + '/'), address)
        self.assertEqual(self.get_sessions(address), ([],))
        send(proc)
        rc = self.wait_exit(proc)
        output = self.output()
        self.assertEqual(rc, 0, output)
        after = output[output.index('DBUS_SESSION_BUS_ADDRESS='):]
        self.assertIsNone(NOISE.search(after), output)
        self.assert_all_gone(address)

    def test_ctrl_c_stops_daemon_and_bus(self):
        self.assert_clean_stop(lambda proc: os.killpg(proc.pid, signal.SIGINT))

    def test_sigterm_stops_daemon_and_bus(self):
        self.assert_clean_stop(lambda proc: proc.terminate())

    def test_daemon_failure_is_passed_on(self):
        """A daemon that cannot start: its status, and the bus is gone."""
        proc = self.start('--no-such-option')
        address = self.wait_for_address(proc)
        self.assertEqual(self.wait_exit(proc), 1, self.output())
        self.assertIn('Unknown option --no-such-option', self.output())
        self.assert_all_gone(address)

    def test_bus_that_does_not_start(self):
        """A dbus-daemon that fails: its own words are shown, exit 1."""
        bindir = os.path.join(self.state, 'bin')
        os.mkdir(bindir)
        fake = os.path.join(bindir, 'dbus-daemon')
        with open(fake, 'w') as f:
            f.write('#!/bin/sh\necho "fake bus: cannot listen" >&2\nexit 1\n')
        os.chmod(fake, 0o755)
        env = dict(self.env, PATH=bindir + os.pathsep + self.env['PATH'])
        proc = self.start(env=env)
        rc = self.wait_exit(proc)
        output = self.output()
        self.assertEqual(rc, 1, output)
        self.assertIn('the private session bus did not start', output)
        self.assertIn('fake bus: cannot listen', output)
        self.assertNotIn('DBUS_SESSION_BUS_ADDRESS=', output)
        self.assertEqual(os.listdir(self.tmpdir), [], 'left behind in TMPDIR')


if __name__ == '__main__':
    smtest.main()
