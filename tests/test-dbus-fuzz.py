#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzes the D-Bus surface with well-formed but random calls.

Thousands of calls to every method: unicode ids of boundary byte lengths,
a{sv} options holding every D-Bus type (nested) under every known key and
random ones, extreme int64 times and ttls. Each call must succeed or fail
with one of the contract's error names, and the daemon must survive.
The seed is printed; SM_FUZZ_SEED=N reproduces a run, SM_FUZZ_CALLS=N sets
how many calls are made.
"""

import os
import random
import sys
import time

import smtest
from gi.repository import Gio, GLib

ALLOWED_ERRORS = {
    smtest.ERROR_PREFIX + 'InvalidArgs',
    smtest.ERROR_PREFIX + 'NotFound',
    smtest.ERROR_PREFIX + 'LimitExceeded',
    'org.freedesktop.DBus.Error.NotSupported',  # methods not implemented yet
}

METHODS = {
    # name: (in signature, out signature)
    'RegisterSession': ('sxa{sv}', ''),
    'UnregisterSession': ('ss', ''),
    'RegisterSigningRequest': ('sssxa{sv}', ''),
    'UnregisterSigningRequest': ('ss', ''),
    'UpdatePresence': ('sxa{sv}', ''),
    'StopPresence': ('', ''),
    'GetSessions': ('', 'aa{sv}'),
    'GetSigningRequests': ('', 'aa{sv}'),
    'GetPresence': ('', 'a{sv}'),
}

OPTION_KEYS = {
    'RegisterSession': {'session-type': 's', 'warn-thresholds': 'ax', 'warn-before-minutes': 'u',
                        'metadata': 'a{sv}', 'app-id': 's', 'url': 's'},
    'RegisterSigningRequest': {'from-nickname': 's', 'amount': 's', 'purpose': 's',
                               'app-id': 's', 'url': 's'},
    'UpdatePresence': {'nickname': 's', 'avatar': 's', 'peer-id': 's'},
}

INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
DAY_MS = 24 * 3600 * 1000
BASIC = 'ybnqiuxtdsogh'


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.valid = False  # when set, aim for calls the contract accepts

    def char(self):
        r = self.r.random()
        if r < 0.5 or (self.valid and r < 0.6):
            return chr(self.r.randrange(0x20, 0x7f))
        if r < 0.6:
            return chr(self.r.choice([0x01, 0x09, 0x0a, 0x1b, 0x7f, 0x85, 0x202e, 0x2066, 0xfeff]))
        if r < 0.8:
            return chr(self.r.randrange(0xa0, 0x800))
        if r < 0.9:
            return chr(self.r.randrange(0x800, 0xd800))
        return chr(self.r.randrange(0x10000, 0x10ffff))

    def text(self, max_chars=40):
        return ''.join(self.char() for _ in range(self.r.randrange(0, max_chars + 1)))

    def text_of_bytes(self, n):
        """A valid UTF-8 string of exactly n bytes (multi-byte chars included)."""
        out, size = [], 0
        while size < n:
            c = self.char() if n - size >= 4 else chr(self.r.randrange(0x21, 0x7f))
            b = len(c.encode())
            if size + b <= n:
                out.append(c)
                size += b
        return ''.join(out)

    def id(self, known=()):
        r = self.r.random()
        if known and r < 0.25:
            return self.r.choice(known)
        if self.valid:
            return self.text_of_bytes(self.r.choice([1, 2, 16, 254, 255]))
        if r < 0.6:
            return self.text_of_bytes(self.r.choice([0, 1, 254, 255, 256, 257, 1024]))
        return self.text(60)

    def time(self, now):
        if self.valid:
            return now + self.r.choice([1000, 60_000, 29 * DAY_MS, self.r.randrange(1, DAY_MS)])
        return self.r.choice([
            INT64_MIN, INT64_MIN + 1, -1, 0, 1, now - 1, now, now + 1,
            now + self.r.randrange(0, 10_000), now + 30 * DAY_MS, now + 30 * DAY_MS + 1000,
            now + self.r.randrange(-DAY_MS, 60 * DAY_MS), INT64_MAX, INT64_MAX - 1,
            self.r.randrange(INT64_MIN, INT64_MAX)])

    def ttl(self):
        if self.valid:
            return self.r.choice([10_000, 7 * DAY_MS, self.r.randrange(10_000, 7 * DAY_MS)])
        return self.r.choice([INT64_MIN, -1, 0, 1, 9_999, 10_000, 10_001, 7 * DAY_MS,
                              7 * DAY_MS + 1, INT64_MAX, self.r.randrange(INT64_MIN, INT64_MAX),
                              self.r.randrange(10_000, 7 * DAY_MS)])

    def signature(self, depth=0):
        r = self.r.random()
        if depth >= 3 or r < 0.55:
            return self.r.choice(BASIC)
        if r < 0.65:
            return 'v'
        if r < 0.8:
            return 'a' + self.signature(depth + 1)
        if r < 0.9:
            return 'a{' + self.r.choice('sxyuo') + self.signature(depth + 1) + '}'
        return '(' + ''.join(self.signature(depth + 1)
                             for _ in range(self.r.randrange(1, 4))) + ')'

    def value(self, sig, depth=0):
        """A Python value for GLib.Variant(sig, value); sig is one complete type."""
        c = sig[0]
        ints = {'y': (0, 255), 'n': (-2**15, 2**15 - 1), 'q': (0, 2**16 - 1),
                'i': (-2**31, 2**31 - 1), 'u': (0, 2**32 - 1), 'x': (INT64_MIN, INT64_MAX),
                't': (0, 2**64 - 1), 'h': (0, 0)}
        if c in ints:
            lo, hi = ints[c]
            return self.r.choice([lo, hi, 0 if lo <= 0 else lo, self.r.randint(lo, hi)])
        if c == 'b':
            return self.r.random() < 0.5
        if c == 'd':
            return self.r.choice([0.0, -0.0, 1e308, -1e-308, float('inf'), float('nan'),
                                  self.r.uniform(-1e9, 1e9)])
        if c == 's':
            return self.text(30)
        if c == 'o':
            return self.r.choice(['/', '/a', '/org/musig2/x_1', '/' + '/'.join(
                'p%d' % i for i in range(self.r.randrange(1, 6)))])
        if c == 'g':
            return self.r.choice(['', 's', 'a{sv}', '(xxs)', 'aay'])
        if c == 'v':
            inner = self.signature(depth + 1)
            return GLib.Variant(inner, self.value(inner, depth + 1))
        if sig.startswith('a{'):
            k, v = sig[2], sig[3:-1]
            return {self.value(k, depth + 1): self.value(v, depth + 1)
                    for _ in range(self.r.randrange(0, 4))}
        if c == 'a':
            return [self.value(sig[1:], depth + 1) for _ in range(self.r.randrange(0, 4))]
        if c == '(':
            return tuple(self.value(s, depth + 1) for s in split_types(sig[1:-1]))
        raise ValueError(sig)

    def vardict(self, depth=0):
        return {self.text(12): self.variant(depth + 1) for _ in range(self.r.randrange(0, 5))}

    def variant(self, depth=0):
        sig = self.signature(depth)
        return GLib.Variant(sig, self.value(sig, depth))

    def thresholds(self):
        if self.valid:
            return [self.r.randrange(1, 30 * DAY_MS) for _ in range(self.r.randrange(1, 17))]
        n = self.r.choice([0, 1, 2, 4, 16, 17, 40])
        return [self.r.choice([INT64_MIN, -1, 0, 1, 60_000, 600_000, INT64_MAX,
                               self.r.randrange(1, 30 * DAY_MS)]) for _ in range(n)]

    def options(self, method):
        opts = {}
        for key, right in OPTION_KEYS.get(method, {}).items():
            r = self.r.random()
            if r < 0.4:
                continue
            if r < 0.8 or self.valid:  # the right type, random (boundary) content
                if right == 'ax':
                    opts[key] = GLib.Variant('ax', self.thresholds())
                elif right == 'a{sv}':
                    opts[key] = GLib.Variant('a{sv}', self.metadata())
                elif right == 's':
                    opts[key] = GLib.Variant('s', self.text(20) if self.valid else self.r.choice(
                        [self.text(20), self.text_of_bytes(self.r.choice([0, 4096, 4097]))]))
                else:
                    opts[key] = GLib.Variant(right, self.value(right))
            else:  # any type at all, nested
                opts[key] = self.variant()
        for _ in range(self.r.randrange(0, 3)):
            opts[self.text(10)] = self.variant()
        return opts

    def metadata(self):
        if self.r.random() < 0.05 and not self.valid:  # around the 64 KiB limit
            size = self.r.choice([65536 - 64, 65536 + 64, 200_000])
            return {'blob': GLib.Variant('ay', bytes(size))}
        return self.vardict()

    def call_args(self, method, now, known_sessions):
        g = self
        if method == 'RegisterSession':
            return (g.id(known_sessions), g.time(now), g.options(method))
        if method == 'UnregisterSession':
            return (g.id(known_sessions), g.r.choice(['', 'completed', 'aborted', g.text(30),
                                                      g.text_of_bytes(256)]))
        if method == 'RegisterSigningRequest':
            return (g.id(), g.id(known_sessions), g.id(), g.time(now), g.options(method))
        if method == 'UnregisterSigningRequest':
            return (g.id(), g.r.choice(['', 'accepted', 'rejected', 'expired', 'cancelled',
                                        'Accepted', g.text(10)]))
        if method == 'UpdatePresence':
            return (g.id(), g.ttl(), g.options(method))
        return ()


def split_types(sig):
    """Splits a concatenation of complete types into the types."""
    out, i = [], 0
    while i < len(sig):
        j = i
        while sig[j] == 'a':
            j += 1
        if sig[j] in '({':
            depth = 0
            while True:
                depth += sig[j] in '({'
                depth -= sig[j] in ')}'
                j += 1
                if depth == 0:
                    break
        else:
            j += 1
        out.append(sig[i:j])
        i = j
    return out


def contains_fd(sig):
    return 'h' in sig


NO_REPLY = 'org.freedesktop.DBus.Error.NoReply'


class DBusFuzzTest(smtest.DaemonTestCase):
    def decode_failures(self):
        return self.read_log().count('Error decoding D-Bus message')

    def test_random_calls(self):
        seed = int(os.environ.get('SM_FUZZ_SEED', random.randrange(2**32)))
        calls = int(os.environ.get('SM_FUZZ_CALLS', str(int(4000 / smtest.SLOWDOWN))))
        print(f'\nSM_FUZZ_SEED={seed} SM_FUZZ_CALLS={calls}', flush=True)
        rng = random.Random(seed)
        gen = Gen(rng)
        known_sessions = []
        outcomes = {}
        null_fd = os.open('/dev/null', os.O_RDONLY)
        self.addCleanup(os.close, null_fd)
        deadline = time.monotonic() + 50 * smtest.SLOWDOWN
        decode_failures = 0

        for n in range(calls):
            if time.monotonic() > deadline:
                print(f'stopping after {n} calls: time budget spent')
                break
            method = rng.choice(list(METHODS))
            in_sig, out_sig = METHODS[method]
            gen.valid = rng.random() < 0.5
            args = gen.call_args(method, smtest.now_ms(), known_sessions)
            params = GLib.Variant('(' + in_sig + ')', args) if in_sig else None
            # Values of type h index into the message's fd list: send one fd.
            fds = Gio.UnixFDList.new_from_array([os.dup(null_fd)]) \
                if params is not None and contains_fd(params.print_(True)) else None
            try:
                reply, _ = self.bus.call_with_unix_fd_list_sync(
                    smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE, method, params, None,
                    Gio.DBusCallFlags.NO_AUTO_START, int(10000 * smtest.SLOWDOWN), fds, None)
                outcome = 'ok'
                self.assertEqual(reply.get_type_string(), '(' + out_sig + ')',
                                 f'seed {seed} call {n}: {method} reply type')
                if method == 'RegisterSession':
                    known_sessions.append(args[0])
            except GLib.Error as e:
                outcome = Gio.DBusError.get_remote_error(e)
                if outcome == NO_REPLY and self.decode_failures() > decode_failures:
                    # GLib 2.74's GDBus cannot decode some valid messages
                    # (e.g. an empty "ad" inside a variant) and drops the
                    # connection: the daemon must reconnect and go on
                    # serving, with the same process and its state.
                    decode_failures = self.decode_failures()
                    self.wait_for(lambda: self.name_owner() is not None, 10,
                                  f'seed {seed} call {n}: daemon did not come back')
                    self.assertIsNone(self.daemon.poll(), f'seed {seed}: daemon died at {n}')
                    self.get_sessions()
                elif outcome not in ALLOWED_ERRORS:
                    self.fail(f'seed {seed} call {n}: {method}{args!r:.2000} failed with '
                              f'{outcome}: {e.message}\n{self.read_log()[-4000:]}')
                self.assertTrue(e.message, f'seed {seed} call {n}: empty error message')
            outcomes[(method, outcome)] = outcomes.get((method, outcome), 0) + 1
            if n % 200 == 0:
                self.pump()  # drop the signals the calls caused
                self.signals.clear()
                self.assertIsNone(self.daemon.poll(), f'seed {seed}: daemon died by call {n}')

        for (method, outcome), count in sorted(outcomes.items()):
            print(f'  {method:26} {outcome.rsplit(".", 1)[-1]:14} {count}')
        # Every method was reached and valid calls did succeed.
        self.assertEqual({m for m, _ in outcomes}, set(METHODS))
        self.assertGreater(outcomes.get(('RegisterSession', 'ok'), 0), 0)
        self.assertGreater(outcomes.get(('RegisterSession', smtest.ERROR_PREFIX + 'InvalidArgs'),
                                        0), 0)
        # Still alive and consistent: it answers, and lists what it was given.
        sessions = self.get_sessions()
        for s in sessions.values():
            self.assertEqual(s['session-id'].encode() != b'', True)
            self.assertLessEqual(len(s['session-id'].encode()), 255)
        self.assertIsNone(self.daemon.poll())


if __name__ == '__main__':
    smtest.main()
