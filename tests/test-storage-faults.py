#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Storage faults: a change is acknowledged only once it is on disk, and one
that cannot be made durable fails with StorageFailed and changes nothing.
A full disk, exhausted inodes, a read-only state directory and a journal that
is a directory each refuse changes honestly; when the storage recovers,
writes resume by themselves and everything acknowledged survives kill -9.

The file-system cases mount a small tmpfs: they run as root (CI) and skip
with the reason elsewhere."""

import errno
import json
import os
import resource
import signal
import subprocess
import tempfile

from gi.repository import GLib

import smtest

HOUR = 3600 * 1000
STORAGE_FAILED = smtest.ERROR_PREFIX + 'StorageFailed'
CTL = os.environ.get('SM_CTL', os.path.join(os.path.dirname(smtest.DAEMON), 'session-monitorctl'))


def is_storage_failed(error):
    return STORAGE_FAILED in error.message


class StorageFaultsTest(smtest.DaemonTestCase):

    def setUp(self):
        super().setUp()
        # Each test starts its own daemon on the state directory it sets up.
        self.stop_daemon()

    def mount_tmpfs(self, options):
        if os.geteuid() != 0:
            self.skipTest('needs root to mount a small tmpfs (runs as root in CI)')
        mountpoint = tempfile.mkdtemp(prefix='sm-test-mnt-')
        result = subprocess.run(['mount', '-t', 'tmpfs', '-o', options, 'tmpfs', mountpoint],
                                capture_output=True, text=True)
        if result.returncode != 0:
            os.rmdir(mountpoint)
            self.skipTest('cannot mount a tmpfs here: ' + result.stderr.strip())
        self.addCleanup(os.rmdir, mountpoint)
        self.addCleanup(subprocess.run, ['umount', '-l', mountpoint])
        return mountpoint

    def remount(self, mountpoint, options):
        subprocess.run(['mount', '-o', 'remount,' + options, mountpoint], check=True)

    def start_on(self, state_dir):
        self.start_daemon(extra_args=['--state-dir', state_dir])

    def try_register(self, session_id, options=None):
        """True when acknowledged, False when refused with StorageFailed."""
        try:
            self.register_session(session_id, smtest.now_ms() + HOUR, options)
            return True
        except GLib.Error as e:
            self.assertTrue(is_storage_failed(e), e.message)
            self.assertIn('nothing was changed', e.message)
            return False

    def ctl_status(self):
        result = subprocess.run([CTL, '--json', 'status'], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def kill_and_restart(self, state_dir):
        self.stop_daemon(signal.SIGKILL)
        self.start_on(state_dir)

    def test_full_disk_refuses_then_recovers(self):
        """Issue 10.1: a 64 KiB state directory fills up; refused calls change
        nothing, acknowledged ones all survive kill -9, including those made
        after space came back."""
        mountpoint = self.mount_tmpfs('size=64k,mode=0700')
        state_dir = os.path.join(mountpoint, 'session-monitor')
        self.start_on(state_dir)
        # Monitoring goes on while nothing can be written.
        soon = smtest.now_ms() + 3000
        self.register_session('soon', soon)
        metadata = {'metadata': GLib.Variant('a{sv}', {'note': GLib.Variant('s', 'x' * 1024)})}
        acked, refused = ['soon'], []
        for i in range(80):
            (acked if self.try_register('full-%02d' % i, metadata) else refused).append(
                'full-%02d' % i)
        self.assertGreater(len(refused), 0, 'the disk never filled up')
        self.assertGreater(len(acked), 0)
        self.assertEqual(sorted(self.get_sessions()), sorted(acked))
        self.assertIn('No space left on device', self.read_log())
        expired = self.wait_for_signal('SessionExpired', timeout=10,
                                       match=lambda args: args[0] == 'soon')
        self.assertGreaterEqual(expired.received_ms, soon - 5)
        acked.remove('soon')
        # Reads and unregistering what does not exist behave as before.
        self.assertDBusError(smtest.ERROR_PREFIX + 'NotFound', 'UnregisterSession', 'ss',
                             'absent', '')

        self.remount(mountpoint, 'size=4m')
        for i in range(10):
            self.assertTrue(self.try_register('after-%d' % i, metadata))
            acked.append('after-%d' % i)
        self.kill_and_restart(state_dir)
        # 'soon' expired (its removal may only reach the disk with the next
        # snapshot; at worst it is announced again as expired while down).
        self.assertEqual(sorted(set(self.get_sessions()) - {'soon'}), sorted(acked))

    def test_read_only_state_directory(self):
        """Issue 10.2: a read-only state directory at start: said so, reads
        go on, changes are refused until it is writable again."""
        mountpoint = self.mount_tmpfs('size=1m,mode=0700')
        state_dir = os.path.join(mountpoint, 'session-monitor')
        self.start_on(state_dir)
        self.register_session('before', smtest.now_ms() + HOUR)
        self.stop_daemon()
        self.remount(mountpoint, 'ro')
        self.start_on(state_dir)
        self.assertIn('Read-only file system', self.read_log())
        self.assertEqual(list(self.get_sessions()), ['before'])
        self.assertFalse(self.try_register('refused'))
        self.assertEqual(list(self.get_sessions()), ['before'])
        with self.assertRaises(GLib.Error) as cm:
            self.call('UnregisterSession', 'ss', 'before', '')
        self.assertTrue(is_storage_failed(cm.exception), cm.exception.message)
        self.assertEqual(list(self.get_sessions()), ['before'])
        # session-monitorctl status finds the daemon's state directory (its
        # --state-dir here) and says it cannot persist.
        status = self.ctl_status()
        self.assertEqual(status['state-dir'], state_dir)
        self.assertIsNotNone(status['storage-problem'])
        result = subprocess.run([CTL, 'status'], capture_output=True, text=True, timeout=30)
        self.assertIn('cannot persist changes', result.stdout)

        self.remount(mountpoint, 'rw')
        self.assertIsNone(self.ctl_status()['storage-problem'])
        self.assertTrue(self.try_register('after'))
        self.kill_and_restart(state_dir)
        self.assertEqual(sorted(self.get_sessions()), ['after', 'before'])

    def test_file_size_limit(self):
        """A write the system refuses (here RLIMIT_FSIZE: EFBIG; needs no
        root) is StorageFailed, changes nothing, and writes resume as soon as
        the limit is lifted. The daemon is not killed by SIGXFSZ."""
        state_dir = os.path.join(self.state_home, 'limited')
        self.start_on(state_dir)
        self.register_session('a', smtest.now_ms() + HOUR)
        size = os.stat(os.path.join(state_dir, 'state.journal')).st_size
        soft, hard = resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE, (size + 10, hard))
        with self.assertRaises(GLib.Error) as cm:
            self.register_session('b', smtest.now_ms() + HOUR)
        self.assertTrue(is_storage_failed(cm.exception), cm.exception.message)
        self.assertIn('File too large', cm.exception.message)
        self.assertEqual(list(self.get_sessions()), ['a'])
        self.assertIsNone(self.daemon.poll())

        resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE, (soft, hard))
        self.assertTrue(self.try_register('c'))
        self.kill_and_restart(state_dir)
        self.assertEqual(sorted(self.get_sessions()), ['a', 'c'])

    def test_journal_is_a_directory(self):
        """Issue 10.2: state.journal is a directory at start: it is set aside
        (logged), a new journal takes its place, and what is acknowledged
        survives kill -9."""
        state_dir = os.path.join(self.state_home, 'elsewhere')
        journal = os.path.join(state_dir, 'state.journal')
        os.makedirs(os.path.join(journal, 'inside'))
        self.start_on(state_dir)
        self.register_session('kept', smtest.now_ms() + HOUR)
        self.assertTrue(os.path.isfile(journal))
        asides = [n for n in os.listdir(state_dir) if n.startswith('state.journal.corrupt-')]
        self.assertEqual(len(asides), 1, os.listdir(state_dir))
        self.assertTrue(os.path.isdir(os.path.join(state_dir, asides[0], 'inside')))
        self.assertIsNone(self.ctl_status()['storage-problem'])
        self.kill_and_restart(state_dir)
        self.assertEqual(list(self.get_sessions()), ['kept'])

    def test_inodes_exhausted_during_rotation(self):
        """Issue 10.3: the journal cannot be created anew when a compaction
        rotates it (no inodes left): changes are refused, not silently
        dropped, and once inodes are given back every later acknowledged
        change survives kill -9."""
        mountpoint = self.mount_tmpfs('size=16m,nr_inodes=64,mode=0700')
        state_dir = os.path.join(mountpoint, 'session-monitor')
        self.start_on(state_dir)
        self.register_session('first', smtest.now_ms() + HOUR)
        # The compaction every start begins must be over first: one still
        # writing its snapshot when the inodes run out fails, and giving its
        # old journal back frees the inode the next rotation then takes
        # (CI once saw 2 500 changes acknowledged that way, none refused).
        self.wait_for(lambda: os.path.exists(os.path.join(state_dir, 'state.json'))
                      and not os.path.exists(os.path.join(state_dir, 'state.journal.old')),
                      10, 'the start-up compaction did not end')
        fillers = []
        while True:
            path = os.path.join(mountpoint, 'filler-%d' % len(fillers))
            try:
                open(path, 'w').close()
            except OSError as e:
                self.assertEqual(e.errno, errno.ENOSPC)
                break
            fillers.append(path)
        # Enough changes to rotate the journal (it is rotated once it holds
        # 1 MiB, about 700 of these): the new one cannot be created.
        metadata = {'metadata': GLib.Variant('a{sv}', {'note': GLib.Variant('s', 'x' * 1024)})}
        acked, refused = ['first'], []
        for i in range(2500):
            (acked if self.try_register('r-%04d' % i, metadata) else refused).append(
                'r-%04d' % i)
            if len(refused) >= 20:
                break
        self.assertGreater(len(refused), 0, 'the journal was never rotated')
        self.assertIn('No space left on device', self.read_log())
        self.assertEqual(sorted(self.get_sessions()), sorted(acked))

        for path in fillers:
            os.unlink(path)
        for i in range(300):
            self.assertTrue(self.try_register('later-%03d' % i))
            acked.append('later-%03d' % i)
        self.kill_and_restart(state_dir)
        self.assertEqual(sorted(self.get_sessions()), sorted(acked))


if __name__ == '__main__':
    smtest.main()
