#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""session-monitorctl against the real daemon on a private bus: every
command, text and --json output parsed, watch --json lines for each signal
type, and clear errors with distinct exit codes."""

import json
import os
import re
import signal
import subprocess
import time

from gi.repository import GLib

import smtest

CTL = os.environ.get('SM_CTL', os.path.join(os.path.dirname(smtest.DAEMON), 'session-monitorctl'))


class CtlTest(smtest.DaemonTestCase):
    def ctl(self, *args, rc=0):
        proc = subprocess.run([CTL] + list(args), capture_output=True, text=True, timeout=30)
        if rc is not None:
            self.assertEqual(proc.returncode, rc, '%r: %s%s' % (args, proc.stdout, proc.stderr))
        return proc

    def ctl_json(self, *args):
        return json.loads(self.ctl('--json', *args).stdout)

    def start_follow(self, *args, ready='(Ctrl+C to stop)'):
        """Starts a long-running ctl command and waits until it is listening."""
        proc = subprocess.Popen([CTL] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is not None or proc.kill())
        line = proc.stderr.readline()
        self.assertIn(ready, line)
        return proc

    def stop_follow(self, proc):
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        return out

    def test_help_and_version(self):
        self.assertRegex(self.ctl('--version').stdout, r'^session-monitorctl \d+\.\d+')
        for command in ('list', 'register', 'unregister', 'request', 'unregister-request',
                        'presence', 'stop-presence', 'watch', 'status'):
            out = self.ctl(command, '--help').stdout
            self.assertIn('session-monitorctl ' + command, out)
            self.assertIn('--json', out)
        self.assertIn('stop-presence', self.ctl('--help').stdout)
        proc = self.ctl('frobnicate', rc=2)
        self.assertIn('unknown command', proc.stderr)

    def test_status(self):
        out = self.ctl('status').stdout
        self.assertIn('is running on the session bus', out)
        status = self.ctl_json('status')
        self.assertTrue(status['running'])
        self.assertEqual(status['pid'], self.daemon.pid)
        self.assertEqual(status['sessions'], 0)
        self.assertIsNone(status['next-expiry'])
        self.register_session('s1', smtest.now_ms() + 600000)
        status = self.ctl_json('status')
        self.assertEqual(status['sessions'], 1)
        self.assertEqual(status['next-expiry'], self.get_sessions()['s1']['expires-at'])

    def test_register_list_unregister(self):
        before = smtest.now_ms()
        out = self.ctl('register', 'demo', '--expires-in', '10m', '--type', 'refund',
                       '--thresholds', '5m,90s', '--metadata', 'k=v', '--metadata', 'n=1',
                       '--url', 'app://x').stdout
        self.assertIn('Registered session demo, expires in', out)
        session = self.get_sessions()['demo']
        self.assertGreaterEqual(session['expires-at'], before + 600000)
        self.assertLessEqual(session['expires-at'], smtest.now_ms() + 600000)
        self.assertEqual(session['session-type'], 'refund')
        self.assertEqual(list(session['warn-thresholds']), [300000, 90000])
        self.assertEqual(session['metadata'], {'k': 'v', 'n': '1'})
        self.assertEqual(session['url'], 'app://x')

        text = self.ctl('list').stdout
        row = [l for l in text.splitlines() if l.startswith('demo ')]
        self.assertEqual(len(row), 1, text)
        self.assertRegex(row[0], r'refund\s+in (9 min \d+ s|10 min)')
        self.assertIn('No signing requests pending.', text)
        self.assertIn('No presence configured.', text)

        listed = self.ctl_json('list')
        self.assertEqual(listed['sessions'][0]['session-id'], 'demo')
        self.assertEqual(listed['sessions'][0]['expires-at'], session['expires-at'])
        self.assertEqual(listed['sessions'][0]['metadata'], {'k': 'v', 'n': '1'})
        self.assertEqual(listed['signing-requests'], [])
        self.assertIsNone(listed['presence'])

        result = self.ctl_json('unregister', 'demo', '--reason', 'completed')
        self.assertEqual(result, {'session-id': 'demo', 'reason': 'completed'})
        self.assertEqual(self.wait_for_signal('SessionUnregistered').args, ('demo', 'completed'))
        self.assertEqual(self.get_sessions(), {})

    def test_register_expires_at(self):
        when = smtest.now_ms() + 3600000
        when -= when % 1000
        iso = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(when / 1000))
        result = self.ctl_json('register', 'iso', '--expires-at', iso)
        self.assertEqual(result['expires-at'], when)
        self.assertEqual(self.get_sessions()['iso']['expires-at'], when)

    def test_errors(self):
        proc = self.ctl('unregister', 'nope', rc=4)
        self.assertIn('not found', proc.stderr)
        self.assertIn('nope', proc.stderr)
        proc = self.ctl('register', 'far', '--expires-in', '40d', rc=5)
        self.assertIn('invalid argument: expires_at', proc.stderr)
        proc = self.ctl('register', 'bad', '--expires-in', '10x', rc=2)
        self.assertIn('bad duration', proc.stderr)
        self.ctl('register', 'both', '--expires-in', '1m', '--expires-at', '2030-01-01T00:00:00Z',
                 rc=2)
        self.ctl('register', '--expires-in', '1m', rc=2)
        self.ctl('register', 'x', '--expires-at', 'tomorrow', rc=2)
        self.ctl('request', 'r', '--expires-in', '1m', rc=2)
        # Nothing of that reached the daemon.
        self.assertEqual(self.get_sessions(), {})

    def test_requests(self):
        result = self.ctl_json('request', 'r1', '--session', 's1', '--from', 'peer1',
                               '--expires-in', '5m', '--nickname', 'Bob', '--amount', '1 BTC')
        self.assertEqual(result['request-id'], 'r1')
        requests = {r['request-id']: r for r in self.call('GetSigningRequests')[0]}
        self.assertEqual(requests['r1']['from-peer-id'], 'peer1')
        self.assertEqual(requests['r1']['from-nickname'], 'Bob')
        self.assertEqual(requests['r1']['amount'], '1 BTC')
        self.assertIn('Bob (peer1)', self.ctl('list').stdout)
        self.assertEqual(self.ctl_json('list')['signing-requests'][0]['session-id'], 's1')
        self.ctl('unregister-request', 'r1', '--reason', 'accepted')
        self.assertEqual(self.call('GetSigningRequests')[0], [])
        proc = self.ctl('unregister-request', 'r1', rc=4)
        self.assertIn('not found', proc.stderr)
        self.ctl('unregister-request', 'r1', '--reason', 'bogus', rc=None)

    def test_presence(self):
        mark = os.path.join(self.state_home, 'refreshed')
        proc = self.start_follow('--json', 'presence', '--wallet', 'bc1qaddr', '--ttl', '10s',
                                 '--nickname', 'Al', '--exec', 'echo "$SM_WALLET_ADDRESS $SM_LAST_REFRESH" >> ' + mark)
        # The first tick comes at once and runs the command.
        self.wait_for(lambda: os.path.exists(mark) and open(mark).read().endswith('\n'), 10,
                      'the --exec command did not run')
        wallet, last = open(mark).read().split()
        self.assertEqual(wallet, 'bc1qaddr')
        presence = self.call('GetPresence')[0]
        self.assertEqual(presence['wallet-address'], 'bc1qaddr')
        self.assertEqual(presence['last-refresh'], int(last))
        self.assertTrue(presence['owner-connected'])
        self.assertEqual(presence['nickname'], 'Al')
        text = self.ctl('list').stdout
        self.assertIn('Presence of bc1qaddr: ttl 10 s, refreshed every 4 s', text)
        self.assertIn('(connected)', text)
        self.assertTrue(self.ctl_json('list')['presence']['owner-connected'])

        out = self.stop_follow(proc)
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual(lines[0]['signal'], 'PresenceRefreshNeeded')
        self.assertEqual(lines[0]['wallet-address'], 'bc1qaddr')
        self.assertEqual(lines[0]['last-refresh'], int(last))
        # Interrupted, it stops the presence it owns.
        self.assertEqual(dict(self.call('GetPresence')[0]), {})

    def test_stop_presence(self):
        self.call('UpdatePresence', 'sxa{sv}', 'addr', 60000, {})
        self.assertNotEqual(dict(self.call('GetPresence')[0]), {})
        self.assertEqual(self.ctl_json('stop-presence'), {'stopped': True})
        self.assertEqual(dict(self.call('GetPresence')[0]), {})
        self.assertIn('Presence stopped.', self.ctl('stop-presence').stdout)

    def test_watch_json(self):
        proc = self.start_follow('watch', '--json')
        now = smtest.now_ms()
        self.register_session('warn', now + 1500, {'warn-thresholds': GLib.Variant('ax', [1000])})
        self.register_session('gone', now - 1000)
        self.register_session('bye', now + 3600000)
        self.call('UnregisterSession', 'ss', 'bye', 'aborted')
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'req', 'warn', 'peer', now + 1000, {})
        self.call('UpdatePresence', 'sxa{sv}', 'addr', 60000, {})
        self.wait_for_signal('SessionExpired', count=2)
        self.wait_for_signal('SigningRequestExpired')
        self.wait_for_signal('PresenceRefreshed')
        self.pump(0.2)
        out = self.stop_follow(proc)
        lines = [json.loads(l) for l in out.splitlines()]
        by_signal = {}
        for line in lines:
            self.assertIsInstance(line['received-at'], int)
            by_signal.setdefault(line['signal'], []).append(line)
        expiring = by_signal['SessionExpiring'][0]
        self.assertEqual(expiring['session-id'], 'warn')
        self.assertEqual(expiring['expires-at'], now + 1500)
        self.assertEqual(expiring['minutes-remaining'], 1)
        self.assertEqual(expiring['session-type'], 'signing')
        self.assertGreaterEqual(expiring['received-at'], now + 500 - 5)
        self.assertEqual({l['session-id'] for l in by_signal['SessionExpired']}, {'warn', 'gone'})
        self.assertEqual(by_signal['SessionUnregistered'][0]['reason'], 'aborted')
        self.assertEqual(by_signal['SigningRequestExpired'][0]['request-id'], 'req')
        self.assertEqual(by_signal['PresenceRefreshNeeded'][0]['wallet-address'], 'addr')
        self.assertIs(by_signal['PresenceRefreshed'][0]['success'], True)
        self.assertGreater(by_signal['PresenceRefreshed'][0]['next-refresh-at'], now)
        # The same stream in text form.
        self.assertEqual(len(lines), len(self.signals))

    def test_watch_text(self):
        proc = self.start_follow('watch')
        self.register_session('gone', smtest.now_ms() - 1000)
        self.wait_for_signal('SessionExpired')
        self.pump(0.2)
        out = self.stop_follow(proc)
        self.assertRegex(out, r'\d\d:\d\d:\d\d\.\d{3} SessionExpired session-id=gone '
                              r'session-type=signing\n')

    def test_countdown_rounds_to_the_second(self):
        # 3 s registered is a few ms less than 3 s when printed: "in 3 s".
        out = self.ctl('register', 'quick', '--expires-in', '3s').stdout
        self.assertIn('Registered session quick, expires in 3 s (', out)
        self.assertIn('expires in 3 s (', self.ctl('request', 'rq', '--session', 's',
                                                   '--from', 'p', '--expires-in', '3s').stdout)

    def test_watch_countdown_is_the_true_remainder(self):
        # The warning comes with 1.7 s left: watch prints the remainder at
        # the moment it prints (its own clock is on the line), rounded to the
        # second ("in 2 s"), not cut ("in 1 s").
        proc = self.start_follow('watch')
        expires = smtest.now_ms() + 3000
        self.register_session('w', expires, {'warn-thresholds': GLib.Variant('ax', [1700])})
        self.wait_for_signal('SessionExpiring')
        self.pump(0.2)
        out = self.stop_follow(proc)
        m = re.search(r'^(\d\d):(\d\d):(\d\d)\.(\d{3}) SessionExpiring session-id=w '
                      r'expires-at=\S+ \S+ \((in \d+ s|now)\)', out, re.M)
        self.assertIsNotNone(m, out)
        due = time.localtime(expires / 1000)
        due_of_day = ((due.tm_hour * 60 + due.tm_min) * 60 + due.tm_sec) * 1000 + expires % 1000
        printed_of_day = ((int(m[1]) * 60 + int(m[2])) * 60 + int(m[3])) * 1000 + int(m[4])
        left = (due_of_day - printed_of_day) % 86400000
        self.assertLessEqual(left, 1700 + 5, 'never printed before the warning')
        expected = 'in %d s' % ((left + 500) // 1000) if left >= 500 else 'now'
        self.assertEqual(m[5], expected, 'printed with %d ms left' % left)

    def test_list_escapes_peer_text(self):
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'r1', 's1', 'peer1',
                  smtest.now_ms() + 600000,
                  {'from-nickname': GLib.Variant('s', 'Bob\x1b[2J\n\u202eevil')})
        out = self.ctl('list').stdout
        self.assertIn('Bob\\x1b[2J\\n\\u202eevil (peer1)', out)
        self.assertNotIn('\x1b', out)
        self.assertNotIn('\u202e', out)

    def test_no_daemon(self):
        self.stop_daemon()
        proc = self.ctl('list', rc=3)
        self.assertIn('not running on the session bus', proc.stderr)
        self.assertIn('systemctl --user start session-monitor', proc.stderr)
        proc = self.ctl('register', 'x', '--expires-in', '1m', rc=3)
        self.assertIn('not running', proc.stderr)
        proc = self.ctl('status', rc=3)
        self.assertIn('not running', proc.stdout)
        self.assertEqual(self.ctl('--json', 'status', rc=3).stdout.strip(),
                         '{"running":false,"bus":"session"}')


if __name__ == '__main__':
    smtest.main()
