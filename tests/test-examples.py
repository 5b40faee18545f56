#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The client examples in examples/ against the daemon on a private bus, as
a desktop wallet runs them: register a session, receive SessionExpiring and
then SessionExpired (never early), and list the state after a daemon
restart. Python with PyGObject, and JavaScript (Node) with dbus-next from
npm, installed here into the build directory (never into the source tree)."""

import json
import os
import shutil
import subprocess
import sys

import smtest
from smtest import now_ms

SOURCE_DIR = os.environ.get('SM_SOURCE_DIR', os.path.join(os.path.dirname(__file__), '..'))
BUILD_DIR = os.environ.get('SM_BUILD_DIR', os.path.join(SOURCE_DIR, '_build'))
EXAMPLES = os.path.join(SOURCE_DIR, 'examples')


def js_example_dir():
    """A copy of examples/js with its npm dependencies; (dir, None) or (None, why)."""
    node, npm = shutil.which('node'), shutil.which('npm')
    if node is None or npm is None:
        return None, 'node or npm not installed (Debian: nodejs npm)'
    work = os.path.join(BUILD_DIR, 'examples-js')
    os.makedirs(work, exist_ok=True)
    for name in ('package.json', 'session-monitor-client.js'):
        shutil.copy(os.path.join(EXAMPLES, 'js', name), work)
    if not os.path.isdir(os.path.join(work, 'node_modules', 'dbus-next')):
        proc = subprocess.run([npm, 'install', '--no-audit', '--no-fund', '--omit=dev'],
                              cwd=work, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            return None, 'npm install failed: ' + proc.stderr.strip()[-400:]
    return work, None


class ExampleMixin:
    def command(self):
        raise NotImplementedError

    def run_example(self, *args, timeout=60):
        proc = subprocess.run(self.command() + list(args), capture_output=True, text=True,
                              timeout=timeout)
        self.assertEqual(proc.returncode, 0, proc.stderr + proc.stdout)
        return proc.stdout

    def test_warning_expiry_and_state_after_restart(self):
        start = now_ms()
        out = self.run_example('watch', 'ex-soon', '3', 'ex-keep')
        events = [json.loads(line) for line in out.splitlines() if line.strip()]
        mine = [e for e in events if e['args'][0] == 'ex-soon']
        self.assertEqual([e['signal'] for e in mine], ['SessionExpiring', 'SessionExpired'], out)
        expiring = mine[0]['args']
        self.assertEqual(expiring[2], 1)  # minutes_remaining = ceil(2 s / 60 s)
        self.assertEqual(expiring[3], 'signing')
        self.assertGreaterEqual(expiring[1], start + 3000)
        # The daemon saw the same thing, and not early.
        expired = self.wait_for_signal('SessionExpired', match=lambda a: a[0] == 'ex-soon')
        self.assertGreaterEqual(expired.received_ms, expiring[1] - 5)

        self.stop_daemon()
        self.start_daemon()
        listed = json.loads(self.run_example('list'))
        self.assertEqual([s['session-id'] for s in listed], ['ex-keep'])
        self.assertGreater(listed[0]['expires-at'], now_ms() + 3000_000)


class TestPythonExample(ExampleMixin, smtest.DaemonTestCase):
    def command(self):
        return [sys.executable, os.path.join(EXAMPLES, 'python', 'session_monitor_client.py')]


class TestJsExample(ExampleMixin, smtest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        cls.js_dir, why = js_example_dir()
        if cls.js_dir is None:
            raise smtest.unittest.SkipTest(why)
        super().setUpClass()

    def command(self):
        return [shutil.which('node'), os.path.join(self.js_dir, 'session-monitor-client.js')]


if __name__ == '__main__':
    smtest.main()
