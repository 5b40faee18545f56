#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End to end with a real notification server: dunst under Xvfb on the
private bus. The daemon's request is displayed by dunst, invoking its
default action (dunstctl) comes back as ActionInvoked, and unregistering
withdraws it. Exit 77 (skip) only when Xvfb or dunst cannot start."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from gi.repository import GLib

import smtest
from smtest import now_ms


def start_xvfb():
    """Starts Xvfb on a free display; returns (process, ':N') or (None, why)."""
    if shutil.which('Xvfb') is None:
        return None, 'Xvfb is not installed (package xvfb)'
    r, w = os.pipe()
    proc = subprocess.Popen(['Xvfb', '-displayfd', str(w), '-nolisten', 'tcp', '-screen', '0',
                             '1024x768x24'], pass_fds=[w], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        display = f.readline().strip()
    if not display:
        proc.kill()
        proc.wait()
        return None, 'Xvfb did not start'
    return proc, ':' + display


class TestDunst(smtest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.xvfb, cls.display = start_xvfb()
        assert cls.xvfb is not None, cls.display

    @classmethod
    def tearDownClass(cls):
        cls.xvfb.terminate()
        cls.xvfb.wait()
        super().tearDownClass()

    def setUp(self):
        self.config_home = tempfile.mkdtemp(prefix='sm-test-dunst-')
        self.addCleanup(shutil.rmtree, self.config_home, ignore_errors=True)
        config = os.path.join(self.config_home, 'dunstrc')
        open(config, 'w').close()
        env = dict(os.environ, DISPLAY=self.display, XDG_CONFIG_HOME=self.config_home)
        self.dunst_log = tempfile.TemporaryFile(mode='w+')
        self.dunst = subprocess.Popen(['dunst', '-config', config], env=env,
                                      stdout=self.dunst_log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_dunst)
        self.wait_for(self.dunst_owns_name, 10, 'dunst did not take org.freedesktop.Notifications')
        super().setUp()

    def stop_dunst(self):
        self.dunst.terminate()
        self.dunst.wait()

    def dunst_owns_name(self):
        self.assertIsNone(self.dunst.poll(), 'dunst exited: ' + self.dunst_log_text())
        return self.bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',
                                  'org.freedesktop.DBus', 'NameHasOwner',
                                  GLib.Variant('(s)', ('org.freedesktop.Notifications',)),
                                  None, 0, -1, None).unpack()[0]

    def dunst_log_text(self):
        self.dunst_log.seek(0)
        return self.dunst_log.read()

    def dunstctl(self, *args):
        return subprocess.run(['dunstctl'] + list(args), check=True, capture_output=True,
                              text=True, timeout=10).stdout

    def displayed(self):
        for line in self.dunstctl('count').splitlines():
            if 'displayed' in line.lower():
                return int(line.split(':')[1])
        self.fail('unexpected dunstctl count output')

    def history(self):
        data = json.loads(self.dunstctl('history'))
        return [{k: v['data'] for k, v in n.items()} for n in data['data'][0]]

    def test_request_displayed_view_and_withdraw(self):
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'r1', 'sess-1', 'peer-1',
                  now_ms() + 60000, {
                      'from-nickname': GLib.Variant('s', 'Alice'),
                      'amount': GLib.Variant('s', '0.5 BTC'),
                      'purpose': GLib.Variant('s', 'Rent'),
                      'url': GLib.Variant('s', 'wallet://sign/r1')})
        self.wait_for(lambda: self.displayed() == 1, 5, 'dunst shows nothing')

        self.dunstctl('action', '0')
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args, ('default', {
            'request-id': 'r1', 'session-id': 'sess-1', 'url': 'wallet://sign/r1'}))
        # dunst closes it after the action: that is not a dismiss.
        self.wait_for(lambda: self.displayed() == 0, 5, 'not closed after the action')
        self.pump(0.5)
        self.assertEqual([s.args[0] for s in self.signals_named('ActionInvoked')], ['default'])
        shown = self.history()[0]
        self.assertEqual(shown['summary'], 'Signing Request')
        self.assertIn('Alice is requesting your signature', shown['body'])
        self.assertIn('0.5 BTC', shown['body'])
        self.assertIn('Rent', shown['body'])
        self.assertEqual(shown['appname'], 'session-monitor')

        # Accepting a request withdraws its notification.
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'r2', 'sess-1', 'peer-1',
                  now_ms() + 60000, {})
        self.wait_for(lambda: self.displayed() == 1, 5, 'second request not shown')
        self.call('UnregisterSigningRequest', 'ss', 'r2', 'accepted')
        self.wait_for(lambda: self.displayed() == 0, 5, 'accepted request not withdrawn')


if __name__ == '__main__':
    for tool in ('dunst', 'dunstctl'):
        if shutil.which(tool) is None:
            print('SKIP: %s is not installed (package dunst)' % tool)
            sys.exit(77)
    proc, why = start_xvfb()
    if proc is None:
        print('SKIP: ' + why)
        sys.exit(77)
    proc.terminate()
    proc.wait()
    smtest.main()
