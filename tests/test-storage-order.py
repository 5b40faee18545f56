#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Error order on a disk that cannot be written: every bad call gets the
contract's error naming its argument (InvalidArgs, NotFound, LimitExceeded),
whatever the disk's state; only a valid change gets StorageFailed.

The disk is broken without root: a file-size limit (RLIMIT_FSIZE, set on the
running daemon with prlimit) below the journal's size refuses every write."""

import os
import resource

from gi.repository import Gio, GLib

import smtest

HOUR = 3600 * 1000
PREFIX = smtest.ERROR_PREFIX
STORAGE_FAILED = PREFIX + 'StorageFailed'


class StorageOrderTest(smtest.DaemonTestCase):

    def setUp(self):
        super().setUp()
        self.stop_daemon()
        self.state_dir = os.path.join(self.state_home, 'order')
        self.start_daemon(extra_args=['--state-dir', self.state_dir])
        # Something to unregister with a bad reason while the disk is broken.
        self.register_session('kept', smtest.now_ms() + HOUR)
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'req', 'kept', 'peer',
                  smtest.now_ms() + HOUR, {})
        self.call('UpdatePresence', 'sxa{sv}', 'wallet', 60000, {})
        self.before = self.call('GetSessions')
        size = os.stat(os.path.join(self.state_dir, 'state.journal')).st_size
        soft, hard = resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE, (size, hard))
        self.addCleanup(self.lift_limit, soft, hard)

    def lift_limit(self, soft, hard):
        if self.daemon is not None:
            resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE, (soft, hard))

    def test_invalid_arguments_before_storage(self):
        later = smtest.now_ms() + HOUR
        bad_type = {'warn-before-minutes': GLib.Variant('s', 'ten')}
        too_big = {'metadata': GLib.Variant('a{sv}', {'x': GLib.Variant('s', 'y' * 70000)})}
        cases = [
            ('InvalidArgs', 'session_id', 'RegisterSession', 'sxa{sv}', '', later, {}),
            ('InvalidArgs', 'expires_at', 'RegisterSession', 'sxa{sv}', 'new', 0, {}),
            ('InvalidArgs', 'warn-before-minutes', 'RegisterSession', 'sxa{sv}', 'new', later,
             bad_type),
            ('InvalidArgs', 'metadata', 'RegisterSession', 'sxa{sv}', 'new', later, too_big),
            ('InvalidArgs', 'reason', 'UnregisterSession', 'ss', 'kept', 'bad\x01reason'),
            ('NotFound', 'session_id', 'UnregisterSession', 'ss', 'absent', ''),
            ('InvalidArgs', 'from_peer_id', 'RegisterSigningRequest', 'sssxa{sv}', 'r2', 'kept',
             '', later, {}),
            ('InvalidArgs', 'expires_at', 'RegisterSigningRequest', 'sssxa{sv}', 'r2', 'kept',
             'peer', -1, {}),
            ('InvalidArgs', 'reason', 'UnregisterSigningRequest', 'ss', 'req', 'whatever'),
            ('NotFound', 'request_id', 'UnregisterSigningRequest', 'ss', 'absent', ''),
            ('InvalidArgs', 'ttl', 'UpdatePresence', 'sxa{sv}', 'wallet', 1, {}),
            ('InvalidArgs', 'wallet_address', 'UpdatePresence', 'sxa{sv}', '', 60000, {}),
        ]
        for error, argument, method, signature, *args in cases:
            with self.subTest(method=method, argument=argument):
                self.assertDBusError(PREFIX + error, method, signature, *args, contains=argument)
        self.assertEqual(self.call('GetSessions'), self.before)
        self.assertIsNone(self.daemon.poll())

    def test_limit_exceeded_before_storage(self):
        """A change past the byte budget is LimitExceeded, not StorageFailed."""
        # 64 KiB of metadata per session: the budget (16 MiB) is reached well
        # before 300 sessions; the disk refuses all of them anyway.
        self.lift_limit(resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        blob = {'metadata': GLib.Variant('a{sv}', {'b': GLib.Variant('s', 'z' * 60000)})}
        for i in range(400):
            try:
                self.register_session('big-%03d' % i, smtest.now_ms() + HOUR, blob)
            except GLib.Error as e:
                self.assertEqual(Gio.DBusError.get_remote_error(e), PREFIX + 'LimitExceeded', e.message)
                break
        else:
            self.fail('the byte budget was never reached')
        size = os.stat(os.path.join(self.state_dir, 'state.journal')).st_size
        resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
        self.assertDBusError(PREFIX + 'LimitExceeded', 'RegisterSession', 'sxa{sv}', 'one-more',
                             smtest.now_ms() + HOUR, blob, contains='session_id')

    def test_valid_changes_get_storage_failed(self):
        later = smtest.now_ms() + HOUR
        cases = [
            ('RegisterSession', 'sxa{sv}', 'new', later, {}),
            ('RegisterSession', 'sxa{sv}', 'kept', later + 1, {}),
            ('UnregisterSession', 'ss', 'kept', 'done'),
            ('RegisterSigningRequest', 'sssxa{sv}', 'r2', 'kept', 'peer', later, {}),
            ('UnregisterSigningRequest', 'ss', 'req', 'accepted'),
            ('UpdatePresence', 'sxa{sv}', 'wallet2', 60000, {}),
            ('StopPresence', None),
        ]
        for method, signature, *args in cases:
            with self.subTest(method=method, args=args):
                message = self.assertDBusError(STORAGE_FAILED, method, signature, *args)
                self.assertIn('File too large', message)
        # Nothing changed, in memory either.
        self.assertEqual(self.call('GetSessions'), self.before)
        self.assertEqual([r['request-id'] for r in self.call('GetSigningRequests')[0]], ['req'])
        self.assertEqual(self.call('GetPresence')[0]['wallet-address'], 'wallet')


if __name__ == '__main__':
    smtest.main()
