#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stress: 8 concurrent clients on their own bus connections for 20 s.

Each client registers, re-registers, unregisters and queries sessions in its
own id space (so a model it keeps is exact), sometimes sends a call and
hangs up before the reply, then reconnects. Some sessions are short-lived and
left alone so that warnings and expiries fire under the load. Afterwards: the
daemon answers, GetSessions equals the union of the models, every
SessionUnregistered/SessionExpiring/SessionExpired came exactly once (none
early), and the daemon's RSS did not grow past its steady state.
SM_STRESS_SECONDS overrides the duration.
"""

import collections
import os
import random
import threading
import time

import smtest
from gi.repository import Gio, GLib

CLIENTS = 8
LONG_IDS = 40          # per client, re-registered and unregistered at random
HOUR_MS = 3600 * 1000
SHORT_WARN_MS = 500    # the one warning of a short-lived session


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


class Client(threading.Thread):
    def __init__(self, index, address, stop_at, seed):
        super().__init__(name=f'client-{index}', daemon=True)
        self.index = index
        self.address = address
        self.stop_at = stop_at
        self.rng = random.Random(seed)
        self.model = {}            # long-lived id -> expires_at
        self.short = {}            # short-lived id -> expires_at (left to expire)
        self.unregistered = collections.Counter()  # (id, reason) -> successful unregisters
        self.ops = collections.Counter()
        self.error = None
        self.conn = None
        self.serial = 0

    def connect(self):
        self.conn = Gio.DBusConnection.new_for_address_sync(
            self.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)

    def call(self, method, sig, *args):
        params = GLib.Variant('(' + sig + ')', args) if sig else None
        return self.conn.call_sync(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE, method,
                                   params, None, Gio.DBusCallFlags.NO_AUTO_START,
                                   int(30000 * smtest.SLOWDOWN), None).unpack()

    def new_reason(self):
        self.serial += 1
        return f'c{self.index}-r{self.serial}'

    def long_id(self):
        return f'c{self.index}-s{self.rng.randrange(LONG_IDS)}'

    def options(self):
        return {'metadata': GLib.Variant('a{sv}', {
            'client': GLib.Variant('u', self.index),
            'n': GLib.Variant('x', self.serial),
            'label': GLib.Variant('s', 'stress ✓ ' * self.rng.randrange(5))})}

    def register(self, sid):
        expires = smtest.now_ms() + HOUR_MS + self.rng.randrange(60_000)
        self.call('RegisterSession', 'sxa{sv}', sid, expires, self.options())
        self.model[sid] = expires
        self.ops['register'] += 1

    def unregister(self, sid):
        reason = self.new_reason()
        try:
            self.call('UnregisterSession', 'ss', sid, reason)
        except GLib.Error as e:
            if Gio.DBusError.get_remote_error(e) != smtest.ERROR_PREFIX + 'NotFound':
                raise
            assert sid not in self.model, f'{sid} is in the model but the daemon said NotFound'
            self.ops['unregister-notfound'] += 1
            return
        assert sid in self.model, f'{sid} was unregistered but the model did not have it'
        del self.model[sid]
        self.unregistered[(sid, reason)] += 1
        self.ops['unregister'] += 1

    def query(self):
        sessions = self.call('GetSessions', '')[0]
        mine = {s['session-id']: s['expires-at'] for s in sessions
                if s['session-id'].startswith(f'c{self.index}-s')}
        assert mine == self.model, f'client {self.index}: GetSessions {mine} != model {self.model}'
        self.ops['query'] += 1

    def register_short(self):
        sid = f'c{self.index}-x{self.serial}'
        self.serial += 1
        expires = smtest.now_ms() + 1500 + self.rng.randrange(1500)
        self.call('RegisterSession', 'sxa{sv}', sid, expires,
                  {'warn-thresholds': GLib.Variant('ax', [SHORT_WARN_MS])})
        self.short[sid] = expires
        self.ops['register-short'] += 1

    def hang_up_mid_call(self):
        """Sends a call, makes sure it left, and disconnects before the reply."""
        sid = self.long_id()
        if sid in self.model and self.rng.random() < 0.5:
            reason = self.new_reason()
            msg = Gio.DBusMessage.new_method_call(smtest.BUS_NAME, smtest.OBJECT_PATH,
                                                  smtest.IFACE, 'UnregisterSession')
            msg.set_body(GLib.Variant('(ss)', (sid, reason)))
            del self.model[sid]
            self.unregistered[(sid, reason)] += 1
        else:
            expires = smtest.now_ms() + HOUR_MS
            msg = Gio.DBusMessage.new_method_call(smtest.BUS_NAME, smtest.OBJECT_PATH,
                                                  smtest.IFACE, 'RegisterSession')
            msg.set_body(GLib.Variant('(sxa{sv})', (sid, expires, {})))
            self.model[sid] = expires
        self.conn.send_message(msg, Gio.DBusSendMessageFlags.NONE)
        self.conn.flush_sync(None)
        self.conn.close_sync(None)
        self.connect()
        self.ops['hang-up'] += 1

    def run(self):
        try:
            self.connect()
            while time.monotonic() < self.stop_at:
                r = self.rng.random()
                if r < 0.35:
                    self.register(self.long_id())
                elif r < 0.6:
                    self.unregister(self.long_id())
                elif r < 0.75:
                    self.query()
                elif r < 0.82:
                    self.register_short()
                elif r < 0.85:
                    self.hang_up_mid_call()
                else:
                    sid = self.long_id()  # re-register one we hold, if any
                    self.register(sid if not self.model else self.rng.choice(list(self.model)))
            self.query()
        except Exception as e:  # reported by the main thread
            self.error = e
        finally:
            if self.conn is not None:
                self.conn.close_sync(None)


class StressTest(smtest.DaemonTestCase):
    def test_concurrent_clients(self):
        seconds = float(os.environ.get('SM_STRESS_SECONDS', '20'))
        seed = int(os.environ.get('SM_STRESS_SEED', random.randrange(2**32)))
        print(f'\nSM_STRESS_SEED={seed} SM_STRESS_SECONDS={seconds}', flush=True)
        address = os.environ['DBUS_SESSION_BUS_ADDRESS']
        start = time.monotonic()
        clients = [Client(i, address, start + seconds, seed + i) for i in range(CLIENTS)]
        for c in clients:
            c.start()

        # The main thread records signals (self.signals) and samples the RSS.
        rss = []
        next_sample = start
        while any(c.is_alive() for c in clients):
            self.pump(0.05)
            if time.monotonic() >= next_sample:
                rss.append((time.monotonic() - start, rss_kib(self.daemon.pid)))
                next_sample += 1.0
        for c in clients:
            c.join()
            self.assertIsNone(c.error, f'client {c.index}: {c.error!r}')

        # Let every short-lived session warn and expire, then compare.
        last_short = max((e for c in clients for e in c.short.values()), default=0)
        self.wait_for(lambda: smtest.now_ms() > last_short + 1000, 10)
        self.pump(0.5)
        self.assertIsNone(self.daemon.poll(), 'the daemon died')

        ops = sum((c.ops for c in clients), collections.Counter())
        print('  operations: ' + ', '.join(f'{k} {v}' for k, v in sorted(ops.items())))
        self.assertGreater(ops['register'], 100)
        self.assertGreater(ops['unregister'], 50)
        self.assertGreater(ops['hang-up'], 5)

        model = {sid: exp for c in clients for sid, exp in c.model.items()}
        sessions = self.get_sessions()
        self.assertEqual({sid: s['expires-at'] for sid, s in sessions.items()}, model)

        # Every signal exactly once, and none of a kind we did not cause.
        got_unreg = collections.Counter(tuple(s.args) for s in self.signals_named(
            'SessionUnregistered'))
        want_unreg = sum((c.unregistered for c in clients), collections.Counter())
        self.assertEqual(got_unreg, want_unreg)

        short = {sid: exp for c in clients for sid, exp in c.short.items()}
        expired = collections.Counter(s.args[0] for s in self.signals_named('SessionExpired'))
        self.assertEqual(expired, collections.Counter(short.keys()))
        expiring = collections.Counter(s.args[0] for s in self.signals_named('SessionExpiring'))
        self.assertEqual(expiring, collections.Counter(short.keys()))
        late = []
        for s in self.signals:
            if s.name not in ('SessionExpired', 'SessionExpiring'):
                continue
            due = short[s.args[0]] - (SHORT_WARN_MS if s.name == 'SessionExpiring' else 0)
            self.assertGreaterEqual(s.received_ms, due - 5, f'{s} fired early (due {due})')
            late.append(s.received_ms - due)
        late.sort()
        print(f'  {len(late)} deadline signals under load: p50 {late[len(late) // 2]} ms, '
              f'max {late[-1]} ms late')
        self.assertLessEqual(late[-1], 1000 * smtest.SLOWDOWN)

        # Memory: the live set is bounded, so after warming up RSS stays flat.
        print('  RSS (s, KiB): ' + ', '.join(f'{t:.0f}:{k}' for t, k in rss))
        warm = [k for t, k in rss if seconds * 0.25 <= t <= seconds * 0.6]
        final = rss_kib(self.daemon.pid)
        # AddressSanitizer quarantines freed memory, so RSS there says nothing
        # about leaks (LSan checks those at exit instead).
        if warm and smtest.SLOWDOWN == 1 and not uses_asan(self.daemon.pid):
            steady = max(warm)
            self.assertLessEqual(final, steady * 1.15 + 1024,
                                 f'RSS grew from a steady {steady} KiB to {final} KiB')


def uses_asan(pid):
    with open(f'/proc/{pid}/maps') as maps:
        return 'libasan' in maps.read()


if __name__ == '__main__':
    smtest.main()
