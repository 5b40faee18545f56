#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""System-bus mode keeps each Unix user's data apart.

A private dbus-daemon with a system-bus-like config, the daemon started with
--system on it, and two test users (created with useradd, as root) calling it
through helper processes running as those users (setpriv). One user can
neither see nor unregister another's sessions, requests or presence, and a
user's signals reach only that user's connections.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import smtest
from gi.repository import Gio, GLib

BUS_NAME = smtest.BUS_NAME
OBJECT_PATH = smtest.OBJECT_PATH
IFACE = smtest.IFACE
ERROR_PREFIX = smtest.ERROR_PREFIX
USERS = ('sm-test-alice', 'sm-test-bob')

CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
'''

# Runs as a test user: answers one JSON command per stdin line and records
# every signal of the interface it receives, with its receipt time.
HELPER = r'''
import json, sys, time
from gi.repository import Gio, GLib

bus = Gio.DBusConnection.new_for_address_sync(
    sys.argv[1], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
    | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
signals = []
bus.signal_subscribe(None, 'org.musig2.SessionMonitor1', None, None, None,
                     Gio.DBusSignalFlags.NONE,
                     lambda c, s, p, i, name, params: signals.append(
                         [name, params.unpack(), time.time_ns() // 1000000]))

def reply(obj):
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()

def on_line(channel, condition):
    line = sys.stdin.readline()
    if not line:
        loop.quit()
        return False
    cmd = json.loads(line)
    if cmd['op'] == 'signals':
        reply({'signals': signals})
    elif cmd['op'] == 'whoami':
        reply({'name': bus.get_unique_name()})
    else:
        params = GLib.Variant.parse(None, cmd['params'], None, None) if cmd['params'] else None
        try:
            result = bus.call_sync('org.musig2.SessionMonitor1', '/org/musig2/SessionMonitor1',
                                   'org.musig2.SessionMonitor1', cmd['method'], params, None,
                                   Gio.DBusCallFlags.NO_AUTO_START, 10000, None)
            reply({'ok': result.unpack()})
        except GLib.Error as e:
            reply({'error': Gio.DBusError.get_remote_error(e), 'message': e.message})
    return True

loop = GLib.MainLoop()
GLib.io_add_watch(GLib.IOChannel.unix_new(0), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP,
                  on_line)
reply({'ready': bus.get_unique_name()})
loop.run()
'''


def skip_reason():
    if os.geteuid() != 0:
        return 'needs root to create test users and run callers as them'
    for tool in ('useradd', 'setpriv', 'dbus-daemon'):
        if shutil.which(tool) is None:
            return tool + ' is not installed'
    return None


def ensure_user(name):
    """Creates a system user without a home once; later runs reuse it."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(['useradd', '--system', '--no-create-home', '--home-dir', '/nonexistent',
                        '--shell', '/usr/sbin/nologin', name], check=True)
        return pwd.getpwnam(name)


class UserClient:
    """A helper process running as @user, connected to the bus."""

    def __init__(self, user, address, helper):
        env = {'PATH': '/usr/bin:/bin', 'HOME': '/nonexistent', 'LC_ALL': 'C.UTF-8',
               'PYTHONDONTWRITEBYTECODE': '1'}
        self.uid = user.pw_uid
        self.proc = subprocess.Popen(
            ['setpriv', '--reuid=%d' % user.pw_uid, '--regid=%d' % user.pw_gid,
             '--clear-groups', '/usr/bin/python3', helper, address],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.name = self._read()['ready']

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('helper exited with %s' % self.proc.wait())
        return json.loads(line)

    def _send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + '\n')
        return self._read()

    def _call(self, method, sig, args):
        # The arguments travel as GVariant text: every type survives.
        params = GLib.Variant('(' + sig + ')', args).print_(True) if sig else None
        return self._send(op='call', method=method, params=params)

    def call(self, method, sig='', *args):
        """Returns the out-arguments; raises AssertionError on a D-Bus error."""
        answer = self._call(method, sig, args)
        if 'error' in answer:
            raise AssertionError('%s failed: %s %s' % (method, answer['error'],
                                                       answer['message']))
        return answer['ok']

    def call_error(self, method, sig='', *args):
        """Returns the D-Bus error name of a call that must fail."""
        answer = self._call(method, sig, args)
        if 'error' not in answer:
            raise AssertionError('%s succeeded, expected an error' % method)
        return answer['error']

    def signals(self):
        return self._send(op='signals')['signals']

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def session_ids(client):
    return {s['session-id']: s for s in client.call('GetSessions')[0]}


class SystemUsersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.users = [ensure_user(name) for name in USERS]
        cls.tmp = tempfile.mkdtemp(prefix='sm-system-users-')
        # The test users must reach the socket and the helper.
        os.chmod(cls.tmp, 0o755)
        socket = os.path.join(cls.tmp, 'system_bus_socket')
        config = os.path.join(cls.tmp, 'system.conf')
        with open(config, 'w') as f:
            f.write(CONFIG.format(socket=socket))
        cls.helper = os.path.join(cls.tmp, 'helper.py')
        with open(cls.helper, 'w') as f:
            f.write(HELPER)
        os.chmod(cls.helper, 0o644)
        cls.bus_proc = subprocess.Popen(['dbus-daemon', '--config-file', config, '--nofork',
                                         '--print-address'], stdout=subprocess.PIPE, text=True)
        cls.address = cls.bus_proc.stdout.readline().strip()
        assert cls.address, 'the bus did not start'
        cls.bus = Gio.DBusConnection.new_for_address_sync(
            cls.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    @classmethod
    def tearDownClass(cls):
        cls.bus.close_sync(None)
        cls.bus_proc.terminate()
        cls.bus_proc.wait()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.state_dir = tempfile.mkdtemp(prefix='state-', dir=self.tmp)
        self.root_signals = []
        sub = self.bus.signal_subscribe(None, IFACE, None, None, None, Gio.DBusSignalFlags.NONE,
                                        self._on_signal)
        self.addCleanup(self.bus.signal_unsubscribe, sub)
        self.start_daemon()
        self.alice = UserClient(self.users[0], self.address, self.helper)
        self.addCleanup(self.alice.close)
        self.bob = UserClient(self.users[1], self.address, self.helper)
        self.addCleanup(self.bob.close)

    def tearDown(self):
        self.stop_daemon()

    def _on_signal(self, conn, sender, path, iface, name, params):
        self.root_signals.append([name, params.unpack(), smtest.now_ms()])

    def start_daemon(self):
        env = dict(os.environ)
        env['DBUS_SYSTEM_BUS_ADDRESS'] = self.address
        env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        env.setdefault('G_DEBUG', 'fatal-criticals')
        self.log = tempfile.TemporaryFile(mode='w+')
        self.daemon = subprocess.Popen(
            smtest.DAEMON_WRAPPER + [smtest.DAEMON, '--system', '--verbose',
                                     '--state-dir', self.state_dir],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: self.name_owner() is not None, 10, 'daemon did not take its name')

    def stop_daemon(self, sig=signal.SIGTERM):
        if self.daemon is None:
            return
        self.daemon.send_signal(sig)
        rc = self.daemon.wait(timeout=30 * smtest.SLOWDOWN)
        self.daemon = None
        if sig == signal.SIGTERM:
            self.assertEqual(rc, 0, 'daemon exited with %d\n%s' % (rc, self.read_log()))
        self.wait_for(lambda: self.name_owner() is None, 10, 'bus name still owned')

    def read_log(self):
        self.log.seek(0)
        return self.log.read()

    def name_owner(self):
        return smtest.name_owner(self.bus)

    def root_call(self, method, sig=None, *args):
        params = GLib.Variant('(' + sig + ')', args) if sig else None
        return self.bus.call_sync(BUS_NAME, OBJECT_PATH, IFACE, method, params, None,
                                  Gio.DBusCallFlags.NO_AUTO_START, 10000, None).unpack()

    def pump(self, seconds):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            while ctx.pending():
                ctx.iteration(False)
            time.sleep(0.005)

    def wait_for(self, predicate, timeout, message):
        ctx = GLib.MainContext.default()
        end = time.monotonic() + timeout * smtest.SLOWDOWN
        while not predicate():
            if time.monotonic() > end:
                self.fail(message + '\n' + (self.read_log() if self.daemon else ''))
            ctx.iteration(False) or time.sleep(0.005)

    def wait_for_client_signal(self, client, name, session_id, timeout=5):
        found = []

        def check():
            found[:] = [s for s in client.signals() if s[0] == name and s[1][0] == session_id]
            return found

        self.wait_for(check, timeout, 'no %s for %s' % (name, session_id))
        return found[0]

    # ------------------------------------------------------------------------

    def test_sessions_apart(self):
        self.assertNotEqual(self.alice.uid, self.bob.uid)
        expires_a = smtest.now_ms() + 3600_000
        self.alice.call('RegisterSession', 'sxa{sv}', 'shared', expires_a,
                        {'session-type': GLib.Variant('s', 'alice-type')})
        self.assertIn('shared', session_ids(self.alice))
        self.assertNotIn('owner-uid', session_ids(self.alice)['shared'])

        # Bob sees nothing of it and cannot remove it: NotFound, as for an id
        # nobody has, so its existence does not leak.
        self.assertEqual(session_ids(self.bob), {})
        self.assertEqual(self.bob.call_error('UnregisterSession', 'ss', 'shared', 'aborted'),
                         ERROR_PREFIX + 'NotFound')
        self.assertEqual(session_ids(self.alice)['shared']['expires-at'], expires_a)
        # Nor does root, which is just another user here.
        self.assertEqual(self.root_call('GetSessions'), ([],))

        # Bob's "shared" is his own and leaves Alice's alone.
        expires_b = expires_a + 60_000
        self.bob.call('RegisterSession', 'sxa{sv}', 'shared', expires_b, {})
        self.assertEqual(session_ids(self.bob)['shared']['expires-at'], expires_b)
        self.assertEqual(session_ids(self.bob)['shared']['session-type'], 'signing')
        self.assertEqual(session_ids(self.alice)['shared']['expires-at'], expires_a)
        self.assertEqual(session_ids(self.alice)['shared']['session-type'], 'alice-type')

        # Alice ends hers: she hears of it, Bob (with a session of the same
        # id) and root do not, and Bob's stays.
        self.alice.call('UnregisterSession', 'ss', 'shared', 'completed')
        sig = self.wait_for_client_signal(self.alice, 'SessionUnregistered', 'shared')
        self.assertEqual(sig[1], ['shared', 'completed'])
        self.assertEqual(session_ids(self.alice), {})
        self.assertIn('shared', session_ids(self.bob))
        self.pump(0.3)
        self.assertEqual([s for s in self.bob.signals() if s[0] == 'SessionUnregistered'], [])
        self.assertEqual(self.root_signals, [])

    def test_signals_reach_only_their_user(self):
        # Bob and root have called, so they are known callers too.
        session_ids(self.bob)
        self.root_call('GetSessions')
        now = smtest.now_ms()
        expires = now + 1500
        self.alice.call('RegisterSession', 'sxa{sv}', 'soon', expires,
                        {'warn-thresholds': GLib.Variant('ax', [1000])})
        warning = self.wait_for_client_signal(self.alice, 'SessionExpiring', 'soon')
        expired = self.wait_for_client_signal(self.alice, 'SessionExpired', 'soon')
        self.assertGreaterEqual(warning[2], expires - 1000 - 5)
        self.assertLessEqual(warning[2], expires - 1000 + 1000)
        self.assertGreaterEqual(expired[2], expires - 5)
        self.assertLessEqual(expired[2], expires + 1000)
        self.assertEqual(expired[1], ['soon', 'signing'])
        self.pump(0.3)
        self.assertEqual(self.bob.signals(), [])
        self.assertEqual(self.root_signals, [])

    def test_requests_and_presence_apart(self):
        expires = smtest.now_ms() + 600_000
        self.alice.call('RegisterSigningRequest', 'sssxa{sv}', 'req-1', 'sess-1', 'peer-1',
                        expires, {'amount': GLib.Variant('s', '1 BTC')})
        self.assertEqual([r['request-id'] for r in self.alice.call('GetSigningRequests')[0]],
                         ['req-1'])
        self.assertEqual(self.bob.call('GetSigningRequests'), [[]])
        self.assertEqual(self.bob.call_error('UnregisterSigningRequest', 'ss', 'req-1', 'rejected'),
                         ERROR_PREFIX + 'NotFound')
        self.assertEqual(len(self.alice.call('GetSigningRequests')[0]), 1)

        self.alice.call('UpdatePresence', 'sxa{sv}', 'addr-alice', 60_000, {})
        self.assertEqual(self.bob.call('GetPresence'), [{}])
        self.bob.call('UpdatePresence', 'sxa{sv}', 'addr-bob', 120_000, {})
        alice = self.alice.call('GetPresence')[0]
        bob = self.bob.call('GetPresence')[0]
        self.assertEqual((alice['wallet-address'], alice['ttl'], alice['owner']),
                         ('addr-alice', 60_000, self.alice.name))
        self.assertEqual((bob['wallet-address'], bob['ttl'], bob['owner']),
                         ('addr-bob', 120_000, self.bob.name))

        # Each hears its own first tick only.
        self.wait_for_client_signal(self.alice, 'PresenceRefreshNeeded', 'addr-alice')
        self.wait_for_client_signal(self.bob, 'PresenceRefreshNeeded', 'addr-bob')
        self.assertEqual({s[1][0] for s in self.alice.signals() if s[0] == 'PresenceRefreshNeeded'},
                         {'addr-alice'})
        self.assertEqual({s[1][0] for s in self.bob.signals() if s[0] == 'PresenceRefreshNeeded'},
                         {'addr-bob'})

        # Bob stopping his presence leaves Alice's running.
        self.bob.call('StopPresence')
        self.assertEqual(self.bob.call('GetPresence'), [{}])
        self.assertEqual(self.alice.call('GetPresence')[0]['wallet-address'], 'addr-alice')
        self.pump(0.2)
        self.assertEqual(self.root_signals, [])

    def test_separation_survives_restart(self):
        expires = smtest.now_ms() + 3600_000
        self.alice.call('RegisterSession', 'sxa{sv}', 'durable',
                        expires, {'metadata': GLib.Variant('a{sv}', {'n': GLib.Variant('u', 7)})})
        self.alice.call('RegisterSigningRequest', 'sssxa{sv}', 'req-d', 'durable', 'peer',
                        expires, {})
        self.bob.call('RegisterSession', 'sxa{sv}', 'bobs', expires, {})
        short = smtest.now_ms() + 500
        self.bob.call('RegisterSession', 'sxa{sv}', 'bobs-short', short,
                      {'warn-thresholds': GLib.Variant('ax', [100])})
        self.stop_daemon(signal.SIGKILL)
        time.sleep(max(0, short - smtest.now_ms()) / 1000 + 0.2)
        self.start_daemon()
        # What expired while it was down is counted for every user.
        self.wait_for(lambda: 'expired while the monitor was not running' in self.read_log(), 5,
                      'no catch-up count logged')
        self.assertIn('1 sessions and 0 signing requests expired', self.read_log())

        self.assertEqual(set(session_ids(self.alice)), {'durable'})
        self.assertEqual(session_ids(self.alice)['durable']['metadata'], {'n': 7})
        self.assertNotIn('owner-uid', session_ids(self.alice)['durable'])
        self.assertEqual([r['request-id'] for r in self.alice.call('GetSigningRequests')[0]],
                         ['req-d'])
        self.assertEqual(set(session_ids(self.bob)), {'bobs'})
        self.assertEqual(self.bob.call('GetSigningRequests'), [[]])
        self.assertEqual(self.bob.call_error('UnregisterSession', 'ss', 'durable', ''),
                         ERROR_PREFIX + 'NotFound')
        self.assertIn('durable', session_ids(self.alice))


if __name__ == '__main__':
    reason = skip_reason()
    if reason is not None:
        print('SKIP: ' + reason)
        sys.exit(77)
    smtest.main()
