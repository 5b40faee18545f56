#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Byte budgets and option caps over the bus: the options dict at 128 KiB and
one byte more, variants nested 16 and 17 deep (and the 58 that once broke
every later GetSessions), the per-user byte budget reached (LimitExceeded
naming it; a smaller re-registration still works, unregistering frees), a
GetSessions at the full budget answered intact even where the D-Bus form is
8 times the GVariant form, the daemon's memory at that worst case, and a
restored state file past the caps."""

import base64
import json
import os

from gi.repository import Gio, GLib

import smtest
from smtest import ERROR_PREFIX, now_ms

BUDGET = 16 * 1024 * 1024
OPTIONS_MAX = 128 * 1024
HOUR = 3600 * 1000
# The system bus's default message limit; D-Bus's array limit is 64 MiB.
SYSTEM_BUS_MESSAGE_MAX = 32 * 1024 * 1024


def status_kib(pid, field):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def uses_asan(pid):
    with open(f'/proc/{pid}/maps') as f:
        return 'libasan' in f.read()


def array_of(type_string, n, byte=0):
    """An ay or a(y) of @n bytes, built from the bytes (PyGObject would take
    seconds for a list of them)."""
    return GLib.Variant.new_from_bytes(GLib.VariantType(type_string),
                                       GLib.Bytes(bytes([byte]) * n), True)


def padded(size):
    """Options (an unknown key) of exactly @size bytes serialized."""
    probe = GLib.Variant('a{sv}', {'pad': array_of('ay', size)}).get_size()
    options = {'pad': array_of('ay', size - (probe - size))}
    assert GLib.Variant('a{sv}', options).get_size() == size
    return options


def chain(extra):
    """A string inside @extra variants."""
    v = GLib.Variant('s', 'x')
    for _ in range(extra):
        v = GLib.Variant('v', v)
    return v


def nested_options(levels, in_metadata=False):
    """Variants nested @levels deep, a value of the dict being level 1."""
    if in_metadata:
        return {'metadata': GLib.Variant('a{sv}', {'m': chain(levels - 2)})}
    return {'deep': chain(levels - 1)}


class BudgetsTest(smtest.DaemonTestCase):

    def state_dir(self):
        return os.path.join(self.state_home, 'session-monitor')

    def raw_call(self, method, signature=None, *args):
        """The whole reply message, to check it arrived intact."""
        message = Gio.DBusMessage.new_method_call(smtest.BUS_NAME, smtest.OBJECT_PATH,
                                                  smtest.IFACE, method)
        if signature:
            message.set_body(GLib.Variant('(' + signature + ')', args))
        reply, _ = self.bus.send_message_with_reply_sync(
            message, Gio.DBusSendMessageFlags.NONE, int(60000 * smtest.SLOWDOWN), None)
        if reply.get_message_type() == Gio.DBusMessageType.ERROR:
            reply.to_gerror()
        return reply

    def session_entries(self):
        """GetSessions' entries as GVariants, id → entry (unpacking large
        metadata in Python would take seconds)."""
        sessions = self.raw_call('GetSessions').get_body().get_child_value(0)
        entries = (sessions.get_child_value(i) for i in range(sessions.n_children()))
        return {e.lookup_value('session-id', None).get_string(): e for e in entries}

    def fill(self, prefix, options, limit=5000):
        """Registers sessions until LimitExceeded; returns (ids, message)."""
        expires = now_ms() + HOUR
        ids = []
        for i in range(limit):
            session_id = '%s%04d' % (prefix, i)
            try:
                self.register_session(session_id, expires + i, options)
            except GLib.Error as e:
                self.assertEqual(Gio.DBusError.get_remote_error(e), ERROR_PREFIX + 'LimitExceeded',
                                 e.message)
                return ids, e.message
            ids.append(session_id)
        self.fail('no LimitExceeded after %d sessions' % limit)

    def test_options_size_cap(self):
        expires = now_ms() + HOUR
        self.register_session('at-cap', expires, padded(OPTIONS_MAX))
        message = self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'RegisterSession',
                                       'sxa{sv}', 'over-cap', expires, padded(OPTIONS_MAX + 1))
        self.assertIn('options', message)
        self.assertIn(str(OPTIONS_MAX + 1), message)
        self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'RegisterSigningRequest', 'sssxa{sv}',
                             'r', 'at-cap', 'peer', expires, padded(OPTIONS_MAX + 1))
        self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'UpdatePresence', 'sxa{sv}',
                             'bc1q', 60000, padded(OPTIONS_MAX + 1))
        # Many small unknown keys count as much as one big one.
        many = {'k%06d' % i: GLib.Variant('b', True) for i in range(20000)}
        self.assertGreater(GLib.Variant('a{sv}', many).get_size(), OPTIONS_MAX)
        self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'RegisterSession', 'sxa{sv}',
                             'many', expires, many)
        self.assertEqual(sorted(self.get_sessions()), ['at-cap'])
        self.assertEqual(self.call('GetSigningRequests')[0], [])
        self.assertEqual(self.call('GetPresence')[0], {})

    def test_nesting_cap(self):
        expires = now_ms() + HOUR
        for in_metadata in (False, True):
            self.register_session('ok', expires, nested_options(16, in_metadata))
            message = self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'RegisterSession',
                                           'sxa{sv}', 'deep', expires,
                                           nested_options(17, in_metadata))
            self.assertIn('variants are nested more than 16', message)
        self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'RegisterSigningRequest', 'sssxa{sv}',
                             'r', 'ok', 'peer', expires, nested_options(17))
        self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'UpdatePresence', 'sxa{sv}',
                             'bc1q', 60000, nested_options(17))
        # The 16 levels come back exactly, in a valid reply.
        metadata = self.get_sessions()['ok']['metadata']
        self.assertEqual(metadata, {'m': 'x'})
        self.assertNotIn('deep', self.get_sessions())

    def test_deep_metadata_that_broke_get_sessions(self):
        """Accepted once, it made every later GetSessions reply invalid."""
        expires = now_ms() + HOUR
        self.register_session('plain', expires)
        self.assertDBusError(ERROR_PREFIX + 'InvalidArgs', 'RegisterSession', 'sxa{sv}',
                             'deep', expires, nested_options(58, True))
        self.assertEqual(sorted(self.get_sessions()), ['plain'])
        self.stop_daemon()
        self.start_daemon()
        self.assertEqual(sorted(self.get_sessions()), ['plain'])

    def test_budget_reached(self):
        # About 64 KiB of metadata each: the budget, not the count, stops it.
        big = {'metadata': GLib.Variant('a{sv}', {'blob': array_of('ay', 65000)})}
        baseline_rss = status_kib(self.daemon.pid, 'VmRSS')
        ids, message = self.fill('s', big)
        self.assertIn("the caller's byte budget", message)
        self.assertIn(str(BUDGET) + ' bytes', message)
        self.assertIn('s%04d' % len(ids), message)
        self.assertGreater(len(ids), BUDGET // 65600)
        self.assertLessEqual(len(ids), BUDGET // 65000)
        self.assertEqual(sorted(self.session_entries()), ids)

        # Signing requests and presence share it: fill what is left.
        expires = now_ms() + HOUR
        purpose = {'purpose': GLib.Variant('s', 'p' * 4000)}
        n_requests = 0
        while True:
            try:
                self.call('RegisterSigningRequest', 'sssxa{sv}', 'r%d' % n_requests, 's0000',
                          'peer', expires, purpose)
            except GLib.Error as e:
                self.assertEqual(Gio.DBusError.get_remote_error(e), ERROR_PREFIX + 'LimitExceeded')
                self.assertIn("the caller's byte budget", e.message)
                break
            n_requests += 1
            self.assertLess(n_requests, 100)
        message = self.assertDBusError(
            ERROR_PREFIX + 'LimitExceeded', 'UpdatePresence', 'sxa{sv}', 'bc1q', 60000,
            {'nickname': GLib.Variant('s', 'n' * 4000), 'avatar': GLib.Variant('s', 'a' * 4000)})
        self.assertIn("the caller's byte budget", message)
        self.assertEqual(self.call('GetPresence')[0], {})
        self.assertEqual(len(self.session_entries()), len(ids))
        self.check_rss(baseline_rss)

        # Re-registering an existing id with a smaller entry works, and
        # frees room for a new one; so does unregistering.
        self.register_session('s0000', expires)
        self.assertEqual(self.session_entries()['s0000'].lookup_value('metadata', None)
                         .n_children(), 0)
        self.register_session('extra1', expires, big)
        self.assertDBusError(ERROR_PREFIX + 'LimitExceeded', 'RegisterSession', 'sxa{sv}',
                             'extra2', expires, big)
        self.call('UnregisterSession', 'ss', 's0001', 'completed')
        self.register_session('extra2', expires, big)
        # Growing an existing one back past the budget is refused, and
        # leaves it as it was.
        self.assertDBusError(ERROR_PREFIX + 'LimitExceeded', 'RegisterSession', 'sxa{sv}',
                             's0000', expires + 1, big)
        self.assertEqual(self.session_entries()['s0000'].lookup_value('expires-at', None)
                         .get_int64(), expires)

        # All of it survives a restart: the restored state fits its budget.
        before = sorted(self.session_entries())
        self.stop_daemon()
        self.start_daemon()
        self.assertEqual(sorted(self.session_entries()), before)
        self.assertEqual(len(self.call('GetSigningRequests')[0]), n_requests)
        self.assertNotIn('Dropping', self.read_log())

    def test_get_sessions_at_full_budget(self):
        """An a(y) is 8 times larger on the bus than as a GVariant: counted
        by its GVariant size alone, the budget would allow a 128 MiB reply,
        past D-Bus's 64 MiB array limit (the bus would disconnect us)."""
        n = 65000
        metadata = GLib.Variant('a{sv}', {'y': array_of('a(y)', n, 7)})
        self.assertLess(metadata.get_size(), 64 * 1024)
        baseline_rss = status_kib(self.daemon.pid, 'VmRSS')
        ids, message = self.fill('w', {'metadata': metadata})
        self.assertIn('byte budget', message)
        self.assertGreaterEqual(len(ids), BUDGET // (8 * n + 1000))
        self.assertLessEqual(len(ids), BUDGET // (8 * n))

        reply = self.raw_call('GetSessions')
        sessions = reply.get_body().get_child_value(0)
        size = len(reply.to_blob(Gio.DBusCapabilityFlags.NONE))
        print('  GetSessions at the full budget: %d sessions, %d bytes on the bus'
              % (sessions.n_children(), size))
        self.assertEqual(sessions.n_children(), len(ids))
        for i in range(sessions.n_children()):
            ys = sessions.get_child_value(i).lookup_value('metadata', None).lookup_value('y', None)
            self.assertEqual(ys.get_type_string(), 'a(y)')
            self.assertEqual(ys.n_children(), n)
        self.assertLess(size, BUDGET + 1024 * 1024)
        self.assertLess(size, SYSTEM_BUS_MESSAGE_MAX)
        self.check_rss(baseline_rss)

    def check_rss(self, baseline_rss):
        """The daemon's memory at the full budget, after a GetSessions."""
        rss = status_kib(self.daemon.pid, 'VmRSS')
        peak = status_kib(self.daemon.pid, 'VmHWM')
        print('  RSS: %d KiB at start, %d KiB at the full budget, peak %d KiB (budget %d KiB)'
              % (baseline_rss, rss, peak, BUDGET // 1024))
        if smtest.SLOWDOWN == 1 and not uses_asan(self.daemon.pid):
            self.assertLess(peak - baseline_rss, 4 * BUDGET // 1024)

    def test_restored_state_past_the_caps(self):
        """A state file that exceeds a cap: the entries past it are dropped
        and logged, the rest loads, and GetSessions answers."""
        self.stop_daemon()
        expires = now_ms() + HOUR

        def entry(session_id, metadata):
            value = GLib.Variant('a{sv}', {
                'session-id': GLib.Variant('s', session_id),
                'expires-at': GLib.Variant('x', expires),
                'registered-at': GLib.Variant('x', now_ms()),
                'metadata': metadata,
            })
            return 'base64:' + base64.b64encode(value.get_data_as_bytes().get_data()).decode()

        blob = GLib.Variant('a{sv}', {'blob': array_of('ay', 65000)})
        sessions = {'big%03d' % i: entry('big%03d' % i, blob) for i in range(300)}
        sessions['deep'] = entry('deep', GLib.Variant('a{sv}', {'m': chain(57)}))
        sessions['small'] = entry('small', GLib.Variant('a{sv}', {'k': GLib.Variant('u', 5)}))
        os.makedirs(self.state_dir(), exist_ok=True)
        with open(os.path.join(self.state_dir(), 'state.json'), 'w') as f:
            json.dump({'version': 1, 'sessions': sessions}, f)

        self.start_daemon()
        restored = sorted(self.session_entries())
        log = self.read_log()
        self.assertNotIn('deep', restored)
        n_big = len([s for s in restored if s.startswith('big')])
        self.assertGreater(n_big, 200)
        self.assertLess(n_big, 300)
        self.assertIn('Dropping sessions entry "deep"', log)
        self.assertIn('variants are nested more than 16', log)
        self.assertIn("the caller's byte budget", log)
        self.assertEqual(log.count('Dropping sessions entry'), 302 - len(restored))
        # What was dropped stays dropped: the next start loads the same.
        self.stop_daemon()
        self.start_daemon()
        self.assertEqual(sorted(self.session_entries()), restored)


if __name__ == '__main__':
    smtest.main()
