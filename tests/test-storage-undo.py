#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A change whose journal write or fdatasync fails after sm_store_prepare()
succeeded (EIO: a disk error, or a file system without fallocate that runs
out of room at the write) is refused with StorageFailed and changes nothing,
in memory either; the next changes are written again, and what was
acknowledged survives kill -9.

The daemon runs under tests/power-cut-shim.c (LD_PRELOAD): creating the file
$SM_SHIM_FAULT holding "write" or "sync" makes the next write or sync of the
journal fail with EIO."""

import os
import signal
import tempfile

from gi.repository import Gio, GLib

import smtest

HOUR = 3600 * 1000
STORAGE_FAILED = smtest.ERROR_PREFIX + 'StorageFailed'


class StorageUndoTest(smtest.DaemonTestCase):

    shim = os.environ.get('SM_POWER_CUT_SHIM')

    def setUp(self):
        if not self.shim or not os.path.exists(self.shim):
            self.skipTest('the fault shim is not built (SM_POWER_CUT_SHIM)')
        if smtest.DAEMON_WRAPPER:
            self.skipTest('the shim is preloaded into the daemon itself, not its wrapper')
        self.fault = os.path.join(tempfile.mkdtemp(prefix='sm-fault-'), 'fault')
        self.addCleanup(os.rmdir, os.path.dirname(self.fault))
        self.addCleanup(lambda: os.path.exists(self.fault) and os.unlink(self.fault))
        super().setUp()
        self.later = smtest.now_ms() + HOUR

    def daemon_env(self):
        env = super().daemon_env()
        env['LD_PRELOAD'] = self.shim
        env['SM_SHIM_FAULT'] = self.fault
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'
        return env

    def fail_next(self, kind):
        with open(self.fault, 'w') as f:
            f.write(kind)

    def assertRefused(self, method, signature, *args):
        message = self.assertDBusError(STORAGE_FAILED, method, signature, *args)
        self.assertIn('Input/output error', message)
        # The fault was used by this call, not by something else.
        self.assertFalse(os.path.exists(self.fault))

    def expiries(self):
        return {k: v['expires-at'] for k, v in self.get_sessions().items()}

    def check_undo(self, kind):
        self.register_session('a', self.later)
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'req', 'a', 'peer', self.later, {})
        self.call('UpdatePresence', 'sxa{sv}', 'wallet', HOUR, {})
        presence = self.call('GetPresence')[0]
        requests = self.call('GetSigningRequests')
        before = self.expiries()
        self.signals.clear()

        # A new session: refused, gone again, and announced gone.
        self.fail_next(kind)
        self.assertRefused('RegisterSession', 'sxa{sv}', 'b', self.later, {})
        self.assertEqual(self.expiries(), before)
        gone = self.wait_for_signal('SessionUnregistered', match=lambda a: a[0] == 'b')
        self.assertEqual(gone.args[1], 'storage-failed')
        # A re-registration: the old expiry is back.
        self.fail_next(kind)
        self.assertRefused('RegisterSession', 'sxa{sv}', 'a', self.later + 5000, {})
        self.assertEqual(self.expiries(), before)
        # An unregistration: the session is back.
        self.fail_next(kind)
        self.assertRefused('UnregisterSession', 'ss', 'a', 'done')
        self.assertEqual(self.expiries(), before)
        # Requests and presence alike.
        self.fail_next(kind)
        self.assertRefused('RegisterSigningRequest', 'sssxa{sv}', 'req2', 'a', 'peer',
                           self.later, {})
        self.fail_next(kind)
        self.assertRefused('UnregisterSigningRequest', 'ss', 'req', 'accepted')
        self.assertEqual(self.call('GetSigningRequests'), requests)
        self.fail_next(kind)
        self.assertRefused('UpdatePresence', 'sxa{sv}', 'wallet2', 120000, {})
        self.assertEqual(self.call('GetPresence')[0]['wallet-address'], 'wallet')
        self.assertEqual(self.call('GetPresence')[0]['ttl'], presence['ttl'])
        self.fail_next(kind)
        self.assertRefused('StopPresence', None)
        self.assertEqual(self.call('GetPresence')[0]['wallet-address'], 'wallet')

        # Writes resume by themselves; what is acknowledged survives kill -9,
        # what was refused does not come back.
        self.register_session('c', self.later)
        self.call('UnregisterSigningRequest', 'ss', 'req', 'accepted')
        self.stop_daemon(signal.SIGKILL)
        self.start_daemon()
        self.assertEqual(self.expiries(), dict(before, c=self.later))
        self.assertEqual(self.call('GetSigningRequests'), ([],))
        self.assertEqual(self.call('GetPresence')[0]['wallet-address'], 'wallet')

    def test_write_fails(self):
        self.check_undo('write')

    def test_sync_fails(self):
        self.check_undo('sync')

    def test_sync_failure_refuses_the_whole_batch(self):
        """Changes of one batch share one fdatasync: when it fails, all of
        them are refused and taken back, newest first."""
        self.register_session('a', self.later)
        before = self.expiries()
        self.fail_next('sync')
        results = {}

        def done(conn, result, name):
            try:
                conn.call_finish(result)
                results[name] = 'ok'
            except GLib.Error as e:
                results[name] = Gio.DBusError.get_remote_error(e)

        calls = (('n', self.later), ('a', self.later + 1), ('a', self.later + 2))
        for name, expires in calls:
            self.bus.call(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE, 'RegisterSession',
                          GLib.Variant('(sxa{sv})', (name, expires, {})), None,
                          Gio.DBusCallFlags.NO_AUTO_START, 10000, None, done,
                          '%s@%d' % (name, expires))
        self.wait_for(lambda: len(results) == 3, 10, 'no answers')
        # The first one's record is the one whose sync fails; the others are
        # either acknowledged or refused, and the state shows exactly the
        # acknowledged ones (the last acknowledged expiry of 'a').
        self.assertEqual(results['n@%d' % self.later], STORAGE_FAILED)
        expected = dict(before)
        for name, expires in calls:
            outcome = results['%s@%d' % (name, expires)]
            self.assertIn(outcome, ('ok', STORAGE_FAILED))
            if outcome == 'ok':
                expected[name] = expires
        self.assertEqual(self.expiries(), expected)
        self.stop_daemon(signal.SIGKILL)
        self.start_daemon()
        self.assertEqual(self.expiries(), expected)

if __name__ == '__main__':
    smtest.main()
