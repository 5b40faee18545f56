#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The state files: only regular files are read (a FIFO or a symbolic link in
their place is set aside, never waited on or followed), temporary snapshots
a kill -9 left are removed, set-aside names never collide, restored entries
are checked as API calls are, and compaction keeps the journal bounded under
sustained pipelined load."""

import glob
import json
import os
import random
import re
import signal
import threading
import time

from gi.repository import Gio, GLib

import smtest

HOUR = 3600 * 1000
DAY = 24 * HOUR
MIB = 1024 * 1024
# SM_JOURNAL_MIN_COMPACT_BYTES in src/sm-store-private.h.
MIN_COMPACT_BYTES = 1 * MIB


class StateFilesTest(smtest.DaemonTestCase):

    def state_dir(self):
        return os.path.join(self.state_home, 'session-monitor')

    def path(self, name):
        return os.path.join(self.state_dir(), name)

    def restart(self, before=None, sig=None):
        self.stop_daemon(sig)
        if before is not None:
            before()
        self.signals.clear()
        self.start_daemon()

    def settle(self):
        """Restarts so that the start-up compaction puts everything in the
        snapshot, and waits for it to finish."""
        self.restart(sig=signal.SIGKILL)
        self.wait_for(lambda: not os.path.exists(self.path('state.journal.old'))
                      and not glob.glob(self.path('state.json.tmp-*')), 10,
                      'the start-up compaction did not finish')

    def set_aside(self, name):
        return sorted(glob.glob(self.path(name + '.corrupt-*')))

    # FIFOs and links ---------------------------------------------------------

    def check_fifo_in_place_of(self, name):
        self.register_session('kept', smtest.now_ms() + HOUR)
        self.settle()

        def make_fifo():
            os.unlink(self.path(name))
            os.mkfifo(self.path(name), 0o600)
        # start_daemon() fails after 10 s if the daemon hangs on the FIFO.
        self.restart(make_fifo, signal.SIGKILL)
        aside = self.set_aside(name)
        self.assertEqual(len(aside), 1, os.listdir(self.state_dir()))
        self.assertTrue(os.path.lexists(aside[0]))
        self.assertIn('is not a regular file', self.read_log())
        # The daemon goes on with a regular file, and it persists.
        self.register_session('after', smtest.now_ms() + HOUR)
        self.restart(sig=signal.SIGKILL)
        self.assertIn('after', self.get_sessions())
        self.assertTrue(os.path.isfile(self.path('state.journal')))

    def test_fifo_at_snapshot(self):
        self.check_fifo_in_place_of('state.json')

    def test_fifo_at_journal(self):
        self.check_fifo_in_place_of('state.journal')
        # The changes around the FIFO: the snapshot kept 'kept'.
        self.assertIn('kept', self.get_sessions())

    def test_dangling_symlink_at_journal_is_not_followed(self):
        target = os.path.join(self.state_home, 'elsewhere', 'target')
        self.register_session('kept', smtest.now_ms() + HOUR)
        self.settle()

        def make_link():
            os.unlink(self.path('state.journal'))
            os.symlink(target, self.path('state.journal'))
        self.restart(make_link, signal.SIGKILL)
        self.register_session('after', smtest.now_ms() + HOUR)
        self.assertFalse(os.path.lexists(target))
        self.assertFalse(os.path.islink(self.path('state.journal')))
        self.assertEqual(len(self.set_aside('state.journal')), 1)
        self.assertTrue(os.path.islink(self.set_aside('state.journal')[0]))
        self.restart(sig=signal.SIGKILL)
        self.assertEqual(set(self.get_sessions()), {'kept', 'after'})

    def test_symlink_at_snapshot_is_not_read(self):
        now = smtest.now_ms()
        outside = os.path.join(self.state_home, 'outside.json')
        entry = GLib.Variant('a{sv}', {'session-id': GLib.Variant('s', 'outside'),
                                       'expires-at': GLib.Variant('x', now + HOUR)})
        with open(outside, 'w') as f:
            json.dump({'version': 1, 'sessions': {'outside': entry.print_(True)}}, f)

        def make_link():
            for name in os.listdir(self.state_dir()):
                os.unlink(self.path(name))
            os.symlink(outside, self.path('state.json'))
        self.restart(make_link, signal.SIGKILL)
        self.assertNotIn('outside', self.get_sessions())
        self.assertEqual(len(self.set_aside('state.json')), 1)
        self.assertTrue(os.path.islink(self.set_aside('state.json')[0]))
        # The target is left as it was.
        with open(outside) as f:
            self.assertIn('outside', f.read())

    # Set-aside names ---------------------------------------------------------

    def test_set_asides_in_the_same_second_keep_both(self):
        # Every name a set-aside in the next few seconds would take is
        # already there: none may be overwritten.
        self.stop_daemon()
        sentinels = {}
        for delta in range(-1, 15):
            stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(time.time() + delta))
            name = self.path('state.json.corrupt-' + stamp)
            sentinels[name] = 'sentinel %d' % delta
            with open(name, 'w') as f:
                f.write(sentinels[name])
        for attempt in ('first', 'second'):
            with open(self.path('state.json'), 'w') as f:
                f.write('{"corrupt": "%s"' % attempt)
            self.start_daemon()
            self.stop_daemon()
        for name, text in sentinels.items():
            with open(name) as f:
                self.assertEqual(f.read(), text)
        contents = []
        for name in self.set_aside('state.json'):
            with open(name) as f:
                contents.append(f.read())
        self.assertIn('{"corrupt": "first"', contents)
        self.assertIn('{"corrupt": "second"', contents)
        self.start_daemon()

    # Leftovers of a kill -9 during compaction ----------------------------------

    def test_kill9_during_compaction_leaves_nothing_and_loses_nothing(self):
        now = smtest.now_ms()
        metadata = {'blob': GLib.Variant('s', 'm' * 30000)}
        acknowledged = {}
        for round_ in range(3):
            # What a kill -9 in mid-write leaves, in both naming schemes.
            for name in ('state.json.tmp-Ab3xYz', 'state.json.Qw9ErT'):
                with open(self.path(name), 'w') as f:
                    f.write('{"version": 1, "sessions": {')
            stop = threading.Event()
            killer = threading.Timer(random.uniform(0.2, 1.2), stop.set)
            killer.start()
            i = 0
            # Enough changes that compactions run while the kill comes.
            while not stop.is_set():
                sid = 's%03d' % (i % 120)
                expires = now + HOUR + round_ * 100000 + i
                self.register_session(sid, expires, {'metadata': GLib.Variant('a{sv}', metadata)})
                acknowledged[sid] = expires
                i += 1
            self.stop_daemon(signal.SIGKILL)
            self.signals.clear()
            self.start_daemon()
            sessions = self.get_sessions()
            self.assertEqual({k: v['expires-at'] for k, v in sessions.items()}, acknowledged)
            self.wait_for(lambda: not glob.glob(self.path('state.json.*')), 10,
                          'leftovers: %r' % os.listdir(self.state_dir()))
            self.assertIn('Removed the unfinished snapshot', self.read_log())

    # Restored entries go through the API's checks --------------------------------

    def test_hand_made_state_out_of_range(self):
        now = smtest.now_ms()
        v = GLib.Variant

        def session(sid, **fields):
            d = {'session-id': v('s', sid), 'expires-at': v('x', now + HOUR)}
            d.update(fields)
            return v('a{sv}', d).print_(True)

        def request(rid, **fields):
            d = {'request-id': v('s', rid), 'session-id': v('s', 'ok'),
                 'from-peer-id': v('s', 'peer'), 'expires-at': v('x', now + HOUR)}
            d.update(fields)
            return v('a{sv}', d).print_(True)

        state = {
            'version': 1,
            'sessions': {
                'ok': session('ok', **{'registered-at': v('x', now - HOUR)}),
                'negative-registered': session('negative-registered',
                                               **{'registered-at': v('x', -5)}),
                'years-ahead': session('years-ahead',
                                       **{'expires-at': v('x', now + 3 * 365 * DAY)}),
                'registered-years-ahead': session(
                    'registered-years-ahead',
                    **{'registered-at': v('x', now + 3 * 365 * DAY),
                       'expires-at': v('x', now + 3 * 365 * DAY + HOUR)}),
                'negative-threshold': session(
                    'negative-threshold', **{'warn-thresholds': v('ax', [-1])}),
                'control-id\n': session('control-id\n'),
            },
            'requests': {
                'r-ok': request('r-ok'),
                'r-years-ahead': request('r-years-ahead',
                                         **{'expires-at': v('x', now + 5 * 365 * DAY)}),
                'r-negative-registered': request('r-negative-registered',
                                                 **{'registered-at': v('x', -1)}),
            },
            'presence': v('a{sv}', {
                'wallet-address': v('s', 'bc1q'), 'ttl': v('x', 60000),
                'last-refresh': v('x', -100), 'next-refresh-at': v('x', now + 1000),
                'owner': v('s', ':1.1')}).print_(True),
        }

        def write_state():
            for name in os.listdir(self.state_dir()):
                os.unlink(self.path(name))
            with open(self.path('state.json'), 'w') as f:
                json.dump(state, f)
        self.restart(write_state, signal.SIGKILL)

        self.assertEqual(set(self.get_sessions()), {'ok'})
        self.assertEqual([r['request-id'] for r in self.call('GetSigningRequests')[0]], ['r-ok'])
        self.assertEqual(self.call('GetPresence')[0], {})
        log = self.read_log()
        for bad in ('negative-registered', 'years-ahead', 'registered-years-ahead',
                    'negative-threshold', 'r-years-ahead', 'r-negative-registered'):
            self.assertIn('entry "%s"' % bad, log)
        # Set aside, not destroyed: a file in the snapshot's format holds them.
        rejected = glob.glob(self.path('state.json.rejected-*'))
        self.assertEqual(len(rejected), 1, os.listdir(self.state_dir()))
        with open(rejected[0]) as f:
            aside = json.load(f)
        self.assertEqual(set(aside['sessions']),
                         set(state['sessions']) - {'ok'})
        self.assertEqual(set(aside['requests']), {'r-years-ahead', 'r-negative-registered'})
        self.assertIn('presence', aside)
        self.assertEqual(os.stat(rejected[0]).st_mode & 0o777, 0o600)
        # The rest loads, and what loaded persists without them.
        self.restart(sig=signal.SIGKILL)
        self.assertEqual(set(self.get_sessions()), {'ok'})

    # Compaction keeps up --------------------------------------------------------

    def test_sustained_pipelined_churn_keeps_the_journal_bounded(self):
        """200 live sessions of 16 KiB metadata re-registered with 64 calls in
        flight for 20 s: state.journal + state.journal.old never exceed
        2 * (max(1 MiB, 2 * snapshot) + one change). The issue's case:
        SM_CHURN_METADATA_KIB=63 SM_CHURN_SECONDS=60."""
        duration = float(os.environ.get('SM_CHURN_SECONDS', '20'))
        in_flight = 64
        now = smtest.now_ms()
        # A string: GetSessions unpacks an 'ay' byte by byte, slowly.
        kib = int(os.environ.get('SM_CHURN_METADATA_KIB', '16'))
        metadata = GLib.Variant('a{sv}', {'blob': GLib.Variant('s', os.urandom(kib * 512).hex())})
        ctx = GLib.MainContext.default()
        state = {'pending': 0, 'done': 0, 'errors': []}
        sizes = {'journals': 0, 'snapshot': 0, 'samples': 0}

        def sample():
            def size(name):
                try:
                    return os.stat(self.path(name)).st_size
                except FileNotFoundError:
                    return 0
            sizes['journals'] = max(sizes['journals'],
                                    size('state.journal') + size('state.journal.old'))
            sizes['snapshot'] = max(sizes['snapshot'], size('state.json'))
            sizes['samples'] += 1

        def done(conn, res, _):
            try:
                conn.call_finish(res)
            except GLib.Error as e:
                state['errors'].append(e.message)
            state['pending'] -= 1
            state['done'] += 1

        def send(i):
            params = GLib.Variant('(sxa{sv})', ('churn-%03d' % (i % 200), now + HOUR + i,
                                               {'metadata': metadata}))
            self.bus.call(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE, 'RegisterSession',
                          params, None, Gio.DBusCallFlags.NO_AUTO_START, 60000, None, done,
                          None)
            state['pending'] += 1

        i = 0
        end = time.monotonic() + duration
        next_sample = 0
        while time.monotonic() < end:
            while state['pending'] < in_flight:
                send(i)
                i += 1
            ctx.iteration(True)
            if time.monotonic() >= next_sample:
                sample()
                next_sample = time.monotonic() + 0.02
        while state['pending'] > 0:
            ctx.iteration(True)
        sample()
        self.assertEqual(state['errors'], [])
        live = sizes['snapshot']
        line = kib * 1024 * 4 // 3 + 4096
        bound = 2 * (max(MIN_COMPACT_BYTES, 2 * live) + line)
        print('%d calls in %.0f s, %.1f MB journaled; largest snapshot %.2f MB, journals at most '
              '%.2f MB (bound %.2f MB), %d samples' % (
                  state['done'], duration, state['done'] * len(metadata.get_data_as_bytes().get_data()) / 1e6,
                  live / 1e6, sizes['journals'] / 1e6, bound / 1e6, sizes['samples']))
        self.assertGreater(state['done'], 1000, 'too little load to mean anything')
        self.assertGreater(live, 200 * kib * 1024)
        self.assertLessEqual(sizes['journals'], bound)

        waits = [int(w) for w in re.findall(r'waited (\d+) ms', self.read_log())]
        print('the write path waited for the snapshot writer %d times, at most %d ms' % (
            len(waits), max(waits, default=0)))

        # Start-up replay stays proportional to the live state.
        sessions = self.get_sessions()
        self.stop_daemon(signal.SIGKILL)
        started = time.monotonic()
        self.start_daemon()
        print('restart with the state loaded: %.2f s' % (time.monotonic() - started))
        self.assertEqual({k: v['expires-at'] for k, v in self.get_sessions().items()},
                         {k: v['expires-at'] for k, v in sessions.items()})


if __name__ == '__main__':
    smtest.main()
