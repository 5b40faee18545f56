#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A notification server that never answers Notify must delay notifications
only: other clients' calls are answered at once, deadline signals come on
time, the calls the daemon sends it stay bounded and its RSS stays flat; when
the server answers late, what was withdrawn on its way is closed; when it
leaves, the next server gets everything. SM_HUNG_SOAK_SECONDS overrides the
soak (default 30 s, longer than the daemon's 25 s stall report)."""

import json
import os
import signal
import subprocess
import sys
import time

import dbus
import dbusmock
from gi.repository import Gio, GLib

import notifytest
import smtest
from notifytest import NOTIFY_NAME, NOTIFY_PATH
from smtest import now_ms

HUNG_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hungnotify.py')
# What the issue asks: 50 ms p99 for other clients, deadline signals within
# 20 ms. The machine the tests run on may be shared and loaded, so the 20 ms
# hold for 90 % of the canary signals, and every one comes within 250 ms (a
# main loop blocked by the server made them 20 s late, or dropped them).
# Under valgrind (SM_TEST_SLOWDOWN > 1) only the 1 s bound of the other
# timing tests holds, scaled; the targets are not checked there.
TIMED = smtest.SLOWDOWN == 1
P99_BOUND_MS = 50
SIGNAL_LATE_MS = 20
SIGNAL_LATE_MAX_MS = 250 if TIMED else 1000 * smtest.SLOWDOWN
EARLY_SLACK_MS = 5
# The daemon's bounds on what a server that does not answer can hold
# (SM_NOTIFIER_MAX_NOTIFIES, SM_NOTIFIER_MAX_CLOSES in sm-notifier-calls.c).
MAX_NOTIFIES = 8
MAX_CLOSES = 32
LIVE_REQUESTS = 5


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def uses_asan(pid):
    with open(f'/proc/{pid}/maps') as maps:
        return 'libasan' in maps.read()


def notify_owner(bus):
    try:
        return bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                             'org.freedesktop.DBus', 'GetNameOwner',
                             GLib.Variant('(s)', (NOTIFY_NAME,)), None,
                             Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
    except GLib.Error:
        return None


# Another client, in its own process so its timing is its own: GetPresence
# every 5 ms on its own connection for argv[1] seconds; prints the latencies.
PROBER = '''
import json, os, sys, time
from gi.repository import Gio
conn = Gio.DBusConnection.new_for_address_sync(
    os.environ['DBUS_SESSION_BUS_ADDRESS'],
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
    | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
latencies = []
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    t0 = time.monotonic()
    conn.call_sync('org.musig2.SessionMonitor1', '/org/musig2/SessionMonitor1',
                   'org.musig2.SessionMonitor1', 'GetPresence', None, None,
                   Gio.DBusCallFlags.NO_AUTO_START, 60000, None)
    latencies.append((time.monotonic() - t0) * 1000)
    time.sleep(0.005)
print(json.dumps(latencies))
'''


class HungServerTest(smtest.DaemonTestCase):
    server_args = []

    def setUp(self):
        self.server = subprocess.Popen([sys.executable, HUNG_SERVER] + self.server_args)
        self.addCleanup(self.stop_server)
        self.wait_for(lambda: notify_owner(self.bus) is not None, 10,
                      'the hung server did not take its name')
        super().setUp()

    def stop_server(self):
        if self.server is not None:
            self.server.terminate()
            self.server.wait()
            self.server = None

    def register_request(self, request_id, expires_at):
        return self.call('RegisterSigningRequest', 'sssxa{sv}', request_id, 's1', 'peer1',
                         expires_at, {})

    def counts(self):
        return self.bus.call_sync(NOTIFY_NAME, NOTIFY_PATH, 'org.example.HungNotify', 'Counts',
                                  None, None, Gio.DBusCallFlags.NONE, 5000, None).unpack()

    def assert_on_time(self, name, session_id, due):
        found = [s for s in self.signals_named(name) if s.args[0] == session_id]
        self.assertEqual(len(found), 1, f'{name} of {session_id}: {self.signals}')
        late = found[0].received_ms - due
        self.assertGreaterEqual(late, -EARLY_SLACK_MS, f'{found[0]} early (due {due})')
        self.assertLessEqual(late, SIGNAL_LATE_MAX_MS, f'{found[0]} late (due {due})')
        return late

    def test_hung_server_delays_notifications_only(self):
        soak = float(os.environ.get('SM_HUNG_SOAK_SECONDS', '30'))
        # Something to show, so the daemon is talking to the hung server.
        self.register_request('first', now_ms() + 3600 * 1000)
        self.wait_for(lambda: self.counts()[0] >= 1, 10, 'no Notify reached the server')

        start = time.monotonic()
        t0 = now_ms()
        # Canaries: each warns (with a notification) 1 s before it expires,
        # one every 4 s through the soak.
        canaries = {}
        for i, at in enumerate(range(3000, int(soak * 1000) - 1000, 4000)):
            sid = f'canary-{i}'
            canaries[sid] = t0 + at
            self.register_session(sid, t0 + at, {
                'warn-thresholds': GLib.Variant('ax', [1000])})

        prober = subprocess.Popen([sys.executable, '-c', PROBER, str(soak)],
                                  stdout=subprocess.PIPE, text=True)
        # Churn: requests come and go (each wants to be shown and then
        # withdrawn), sessions warn, while the server answers nothing.
        rss, n, next_sample = [], 0, start
        while time.monotonic() - start < soak:
            self.register_request(f'load-{n}', now_ms() + 3600 * 1000)
            if n >= LIVE_REQUESTS:
                self.call('UnregisterSigningRequest', 'ss', f'load-{n - LIVE_REQUESTS}',
                          'accepted')
            n += 1
            self.pump(0.02)
            if time.monotonic() >= next_sample:
                rss.append((time.monotonic() - start, rss_kib(self.daemon.pid)))
                next_sample += 1.0
        self.wait_for(lambda: len(self.signals_named('SessionExpired')) >= len(canaries), 10,
                      'not every canary expired')
        out, _ = prober.communicate(timeout=60)
        self.assertEqual(prober.returncode, 0, 'the prober failed')
        self.assertIsNone(self.daemon.poll(), 'the daemon died')

        lat = sorted(json.loads(out))
        p99 = lat[int(len(lat) * 0.99)]
        print(f'\n  {n} requests churned; {len(lat)} GetPresence calls: '
              f'p50 {lat[len(lat) // 2]:.1f} ms, p99 {p99:.1f} ms, max {lat[-1]:.1f} ms')
        self.assertGreater(len(lat), soak * 5, 'the prober hardly ran')
        if TIMED:
            self.assertLessEqual(p99, P99_BOUND_MS)

        lates = []
        for sid, expires in canaries.items():
            lates.append(self.assert_on_time('SessionExpiring', sid, expires - 1000))
            lates.append(self.assert_on_time('SessionExpired', sid, expires))
        lates.sort()
        p90 = lates[int(len(lates) * 0.9) - 1]
        print(f'  {len(lates)} canary signals: p50 {lates[len(lates) // 2]} ms, '
              f'p90 {p90} ms, max {lates[-1]} ms late')
        if TIMED:
            self.assertLessEqual(p90, SIGNAL_LATE_MS, f'canary signals late: {lates}')

        # Nothing piles up: the server holds a bounded number of our calls.
        notifies, closes = self.counts()
        print(f'  the hung server holds {notifies} Notify, {closes} CloseNotification')
        self.assertGreaterEqual(notifies, 1)
        self.assertLessEqual(notifies, MAX_NOTIFIES)
        self.assertLessEqual(closes, MAX_CLOSES)
        self.assertIn('has not answered for 25 s', self.read_log())

        print('  RSS (s, KiB): ' + ', '.join(f'{t:.0f}:{k}' for t, k in rss))
        warm = [k for t, k in rss if soak * 0.25 <= t <= soak * 0.5]
        final = rss_kib(self.daemon.pid)
        if warm and TIMED and not uses_asan(self.daemon.pid):
            steady = max(warm)
            self.assertLessEqual(final, steady + 512,
                                 f'RSS grew from a steady {steady} KiB to {final} KiB')

    def test_next_server_gets_what_waited(self):
        # More than the daemon sends a hung server: some wait in the daemon.
        # A Notify it has not answered may still come up, and the close of
        # one withdrawn on its way can only follow its answer: no more than
        # three places on screen, so no more than three go out.
        for i in range(MAX_NOTIFIES + 4):
            self.register_request(f'r{i}', now_ms() + 3600 * 1000 + i)
            if i >= 3:
                self.call('UnregisterSigningRequest', 'ss', f'r{i - 3}', 'accepted')
        self.wait_for(lambda: self.counts()[0] >= 3, 10,
                      f'the server got {self.counts()} calls')
        self.pump(0.5)
        self.assertEqual(self.counts()[0], 3)
        self.stop_server()

        # A working server: the three live requests are shown by it.
        proc, obj = self.spawn_server_template('notification_daemon', {},
                                               stdout=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.terminate(), proc.wait()))
        mock = dbus.Interface(obj, dbusmock.MOCK_IFACE)

        def shown():
            return [c for c in mock.GetCalls() if c[1] == 'Notify']
        self.wait_for(lambda: len(shown()) >= 3, 10, 'the next server got nothing')
        self.pump(0.3)
        self.assertEqual(len(shown()), 3, shown())
        self.assertIsNone(self.daemon.poll())


class FailingServerTest(HungServerTest):
    """A server that refuses the first Notify and answers after."""

    server_args = ['--notify', 'fail-first']
    test_hung_server_delays_notifications_only = None
    test_next_server_gets_what_waited = None

    def test_failed_notify_is_retried(self):
        self.register_request('r1', now_ms() + 3600 * 1000)
        self.wait_for(lambda: self.counts()[0] >= 1, 10, 'no Notify')
        failed = time.monotonic()
        self.wait_for(lambda: self.counts()[0] >= 2, 10, 'the failed Notify was not retried')
        # Retried after a pause (5 s, in whole seconds), not in a loop.
        self.assertGreaterEqual(time.monotonic() - failed, 3.5)
        self.pump(0.5)
        self.assertEqual(self.counts(), (2, 0))
        self.assertIn('Could not show a notification', self.read_log())
        # Shown now: withdrawing it closes the id the server returned.
        self.call('UnregisterSigningRequest', 'ss', 'r1', 'accepted')
        self.wait_for(lambda: self.counts()[1] == 1, 5, 'not closed')


class CloseHangServerTest(HungServerTest):
    """A server that answers Notify but never CloseNotification."""

    server_args = ['--notify', 'answer']
    test_hung_server_delays_notifications_only = None
    test_next_server_gets_what_waited = None

    def test_closes_are_bounded(self):
        n = 3 * MAX_CLOSES
        for i in range(n):
            self.register_request(f'r{i}', now_ms() + 3600 * 1000)
            self.wait_for(lambda i=i: self.counts()[0] >= i + 1, 5, 'not shown')
            self.call('UnregisterSigningRequest', 'ss', f'r{i}', 'accepted')
        self.pump(0.5)
        notifies, closes = self.counts()
        self.assertEqual(notifies, n)
        self.assertEqual(closes, MAX_CLOSES)
        self.assertIn('does not answer CloseNotification', self.read_log())
        t0 = time.monotonic()
        self.call('GetPresence')
        self.assertLess(time.monotonic() - t0, 0.5 * smtest.SLOWDOWN)


class StoppedServerTest(notifytest.NotifyTestCase):
    """dbusmock's server stopped (SIGSTOP) and continued."""

    def test_withdrawn_on_its_way_is_closed(self):
        # Stopped once the daemon knows its capabilities, not before.
        self.wait_for(lambda: 'ready (body-markup' in self.read_log(), 10, 'server not ready')
        os.kill(self.mock_proc.pid, signal.SIGSTOP)
        try:
            self.register_request('gone', now_ms() + 3600 * 1000)
            self.pump(0.2)
            t0 = time.monotonic()
            self.call('UnregisterSigningRequest', 'ss', 'gone', 'cancelled')
            self.register_request('stays', now_ms() + 3600 * 1000)
            self.call('GetPresence')
            self.assertLess((time.monotonic() - t0) * 1000, 1000 * smtest.SLOWDOWN)
        finally:
            os.kill(self.mock_proc.pid, signal.SIGCONT)
        # The server answers late: the id of the withdrawn one is closed.
        gone = self.wait_for_notification(lambda n: True)
        stays = self.wait_for_notification(lambda n: True, count=2)
        self.wait_for_close(gone.id)
        self.pump(0.3)
        self.assertNotIn(stays.id, self.closed_ids())
        self.assertEqual(len(self.notifications()), 2, self.calls())


if __name__ == '__main__':
    smtest.main()
