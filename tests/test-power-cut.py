#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Power cut: every change acknowledged before the cut loads back.

The daemon runs under tests/power-cut-shim.c (LD_PRELOAD), which logs each
open, write, truncate, sync, rename and unlink it makes in its state
directory with a CLOCK_MONOTONIC time stamp. The test drives changes (and
the compactions they trigger) and notes when each reply arrived. It then
replays the log up to many cut points, keeping only what was synced: a
file's data as of its last fsync/fdatasync, the directory's names as of its
last fsync. A name created or renamed but not synced is lost, a write not
synced is lost. Each resulting directory is loaded by a fresh daemon, and
every change whose reply arrived before the cut must be there.

SM_POWER_CUT_TRUST_JOURNAL_WRITES=1 counts writes to state.journal as synced
(for checking the snapshot and directory syncs alone while the journal's
own fdatasync is missing)."""

import os
import random
import shutil
import signal
import tempfile
import time

from gi.repository import GLib

import smtest

HOUR = 3600 * 1000
O_CREAT = 0o100
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_DIRECTORY = 0o200000
O_DSYNC = 0o10000  # (O_SYNC includes it)


class Disk:
    """What the log says is in the directory, and what of it is durable."""

    def __init__(self, directory, trust_journal_writes=False):
        self.directory = directory
        self.trust_journal_writes = trust_journal_writes
        self.names = {}          # path -> inode
        self.durable_names = {}  # path -> inode, as of the last directory sync
        self.data = {}           # inode -> bytearray
        self.durable = {}        # inode -> bytes, as of its last sync
        self.fds = {}            # fd -> [inode or 'dir', position, append, path, dsync]
        self.next_inode = 0

    def apply(self, op):
        kind, args = op[1], op[2:]
        if kind == 'open':
            fd, path, flags = int(args[0]), bytes.fromhex(args[1]).decode(), int(args[2])
            if path == self.directory or flags & O_DIRECTORY:
                self.fds[fd] = ['dir', 0, False, path, False]
                return
            if path not in self.names:
                assert flags & O_CREAT, 'opened %s, which the log never created' % path
                self.next_inode += 1
                self.names[path] = self.next_inode
                self.data[self.next_inode] = bytearray()
            inode = self.names[path]
            if flags & O_TRUNC:
                del self.data[inode][:]
            self.fds[fd] = [inode, 0, bool(flags & O_APPEND), path, bool(flags & O_DSYNC)]
        elif kind == 'write':
            fd, offset, hexdata = int(args[0]), int(args[1]), args[2]
            data = b'' if hexdata == '-' else bytes.fromhex(hexdata)
            entry = self.fds[fd]
            buf = self.data[entry[0]]
            if offset < 0:
                offset = len(buf) if entry[2] else entry[1]
                entry[1] = offset + len(data)
            if len(buf) < offset:
                buf.extend(b'\0' * (offset - len(buf)))
            buf[offset:offset + len(data)] = data
            # An O_DSYNC/O_SYNC write returns once its data is on disk.
            if entry[4] or self.trust_journal_writes and os.path.basename(entry[3]).startswith(
                    'state.journal'):
                self.durable[entry[0]] = bytes(buf)
        elif kind == 'lseek':
            self.fds[int(args[0])][1] = int(args[1])
        elif kind == 'truncate':
            buf = self.data[self.fds[int(args[0])][0]]
            length = int(args[1])
            del buf[length:]
            buf.extend(b'\0' * (length - len(buf)))
        elif kind == 'sync':
            inode = self.fds[int(args[0])][0]
            if inode == 'dir':
                self.durable_names = dict(self.names)
            else:
                self.durable[inode] = bytes(self.data[inode])
        elif kind == 'close':
            self.fds.pop(int(args[0]), None)
        elif kind == 'dup':
            # The same open file: its position and the inode it syncs.
            self.fds[int(args[1])] = self.fds[int(args[0])]
        elif kind == 'rename':
            old, new = (bytes.fromhex(a).decode() for a in args)
            self.names[new] = self.names.pop(old)
        elif kind == 'unlink':
            self.names.pop(bytes.fromhex(args[0]).decode(), None)
        else:
            raise AssertionError('unknown operation %r' % kind)

    def materialize(self, target):
        os.makedirs(target, mode=0o700)
        for path, inode in self.durable_names.items():
            name = os.path.relpath(path, self.directory)
            with open(os.path.join(target, name), 'wb') as f:
                f.write(self.durable.get(inode, b''))
            os.chmod(os.path.join(target, name), 0o600)


class PowerCutTest(smtest.DaemonTestCase):

    shim = os.environ.get('SM_POWER_CUT_SHIM')

    def setUp(self):
        if not self.shim or not os.path.exists(self.shim):
            self.skipTest('the power-cut shim is not built (SM_POWER_CUT_SHIM)')
        if smtest.DAEMON_WRAPPER:
            self.skipTest('the shim is preloaded into the daemon itself, not its wrapper')
        fd, self.shim_log = tempfile.mkstemp(prefix='sm-power-cut-', suffix='.log')
        os.close(fd)
        self.addCleanup(os.unlink, self.shim_log)
        self.use_shim = True
        super().setUp()

    def daemon_env(self):
        env = super().daemon_env()
        if self.use_shim:
            env['LD_PRELOAD'] = self.shim
            env['SM_SHIM_DIR'] = os.path.join(self.state_home, 'session-monitor')
            env['SM_SHIM_LOG'] = self.shim_log
            # A sanitized daemon: the shim comes before the ASan runtime.
            env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':verify_asan_link_order=0'
        return env

    def churn(self, n_calls):
        """Registers and unregisters; returns [(sent_ns, ack_ns, id, registered,
        expires)]: expiries only grow, and an unregistration names the expiry
        it ended."""
        rng = random.Random(1234)
        now = smtest.now_ms()
        # A string: GetSessions unpacks an 'ay' byte by byte, slowly.
        metadata = {'blob': GLib.Variant('s', '%x' % rng.getrandbits(8192 * 4))}
        live = {}
        acks = []
        for i in range(n_calls):
            sid = 's%02d' % rng.randrange(60)
            sent = time.monotonic_ns()
            if sid in live and rng.random() < 0.2:
                self.call('UnregisterSession', 'ss', sid, 'completed')
                acks.append((sent, time.monotonic_ns(), sid, False, live.pop(sid)))
            else:
                expires = now + HOUR + i
                self.register_session(sid, expires,
                                      {'metadata': GLib.Variant('a{sv}', metadata)})
                live[sid] = expires
                acks.append((sent, time.monotonic_ns(), sid, True, expires))
        return acks

    def read_ops(self):
        ops = []
        with open(self.shim_log) as f:
            for line in f:
                fields = line.split()
                ops.append([int(fields[0])] + fields[1:])
        return ops

    def loaded_after_cut(self, disk, label):
        """Starts a daemon on what @disk holds durably; returns its sessions."""
        home = tempfile.mkdtemp(prefix='sm-power-cut-home-')
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        disk.materialize(os.path.join(home, 'session-monitor'))
        saved = self.state_home
        self.state_home = home
        self.use_shim = False
        try:
            self.start_daemon()
            sessions = {k: v['expires-at'] for k, v in self.get_sessions().items()}
            log = self.read_log()
            self.stop_daemon(signal.SIGKILL)
        finally:
            self.state_home = saved
        return sessions, log

    def test_acknowledged_changes_survive_a_power_cut_anywhere(self):
        trust = os.environ.get('SM_POWER_CUT_TRUST_JOURNAL_WRITES') == '1'
        # About 11 KB a change: a compaction every 100 or so, more than 4.
        started = time.monotonic()
        acks = self.churn(int(os.environ.get('SM_POWER_CUT_CALLS', '600')))
        self.stop_daemon(signal.SIGKILL)
        ops = self.read_ops()
        kinds = [op[1] for op in ops]
        print('%d changes, %d logged operations: %s' % (
            len(acks), len(ops), {k: kinds.count(k) for k in sorted(set(kinds))}))
        self.assertGreater(kinds.count('rename'), 4, 'too few compactions to mean anything')

        # Cut after each rename, unlink and directory sync (where ordering
        # mistakes show), and at random points elsewhere.
        rng = random.Random(int(os.environ.get('SM_POWER_CUT_SEED', '42')))
        interesting = [i for i, op in enumerate(ops) if op[1] in ('rename', 'unlink')]
        n_cuts = int(os.environ.get('SM_POWER_CUT_POINTS', '25'))
        cuts = set(rng.sample(interesting, min(len(interesting), n_cuts)))
        cuts |= set(rng.sample(range(len(ops)), min(len(ops), n_cuts)))
        cuts.add(len(ops) - 1)
        cuts = sorted(cuts)

        directory = os.path.join(self.state_home, 'session-monitor')
        disk = Disk(directory, trust)
        applied = 0
        failures = []
        for cut in cuts:
            while applied <= cut:
                disk.apply(ops[applied])
                applied += 1
            cut_ns = ops[cut + 1][0] if cut + 1 < len(ops) else time.monotonic_ns()
            expected = {}
            in_flight = None
            for sent_ns, ack_ns, sid, registered, expires in acks:
                if ack_ns < cut_ns:
                    expected[sid] = (registered, expires)
                elif sent_ns < cut_ns:
                    in_flight = (sid, registered)
            sessions, log = self.loaded_after_cut(disk, cut)
            for sid, (registered, expires) in expected.items():
                got = sessions.get(sid)
                # A later change may have been made durable before its
                # reply: a registration only ever moves the expiry on.
                # So may an unregistration: the call under way at the cut.
                if in_flight == (sid, False) and got is None:
                    continue
                if registered and (got is None or got < expires):
                    failures.append('cut after op %d (%s): %s acknowledged with expiry %d, '
                                    'loaded %r' % (cut, ops[cut][1], sid, expires, got))
                if not registered and got is not None and got <= expires:
                    failures.append('cut after op %d (%s): %s unregistered, loaded back' % (
                        cut, ops[cut][1], sid))
            self.assertNotIn('CRITICAL', log)
        print('%d cut points checked in %.0f s, %d losses' % (
            len(cuts), time.monotonic() - started, len(failures)))
        self.assertEqual(failures[:10], [], '%d acknowledged changes lost' % len(failures))


if __name__ == '__main__':
    smtest.main()
