#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Notifications and their surroundings: German text, no server, a server
that appears later, --no-notifications, launching the wallet app."""

import os
import shutil
import stat
import tempfile

import dbus
from gi.repository import GLib

import notifytest
import smtest
from smtest import now_ms


class TestGerman(notifytest.NotifyTestCase):
    def daemon_env(self):
        env = super().daemon_env()
        env['SM_LOCALEDIR'] = os.path.join(os.environ['SM_BUILD_DIR'], 'po')
        env['LC_ALL'] = 'C.UTF-8'
        env['LANGUAGE'] = 'de'
        return env

    def test_german_request_and_warning(self):
        self.register_request('r1', now_ms() + 60000, {
            'from-nickname': GLib.Variant('s', 'Alice'),
            'amount': GLib.Variant('s', '0,5 BTC')})
        n = self.wait_for_notification()
        self.assertEqual(n.summary, 'Signaturanfrage')
        self.assertEqual(n.body, 'Alice bittet um Ihre Signatur\nBetrag: 0,5 BTC')
        self.assertEqual(n.actions, {'default': 'Anzeigen', 'view': 'Anzeigen',
                                     'dismiss': 'Verwerfen'})
        self.register_session('s1', now_ms() + 180500 + 300, {
            'warn-thresholds': GLib.Variant('ax', [180500])})
        w = self.wait_for_notification(lambda n: n.summary != 'Signaturanfrage')
        self.assertEqual(w.summary, 'Sitzung läuft bald ab')
        self.assertEqual(w.body, 'Signatursitzung läuft in 4 Minuten ab')


class TestNoServer(notifytest.NotifyTestCase):
    start_mock = False

    def test_works_without_server_and_uses_a_late_one(self):
        self.register_request('r1', now_ms() + 60000)
        self.register_request('r2', now_ms() + 60000)
        self.assertEqual(len(self.call('GetSigningRequests')[0]), 2)
        log = self.read_log()
        self.assertEqual(log.count('No notification server'), 1, log)
        # A server that appears later is used.
        self.start_notification_server()
        self.wait_for_notification(count=2)
        self.assertEqual(self.read_log().count('No notification server'), 1)


class TestNoNotificationsFlag(notifytest.NotifyTestCase):
    daemon_args = ['--no-notifications']

    def test_nothing_is_posted(self):
        due = now_ms() + 800
        self.register_request('r1', due)
        self.wait_for_signal('SigningRequestExpired', timeout=3)
        self.pump(0.3)
        self.assertEqual(self.mock.GetCalls(), [])


class TestLaunchApp(notifytest.NotifyTestCase):
    def setUp(self):
        self.data_home = tempfile.mkdtemp(prefix='sm-test-data-')
        self.addCleanup(shutil.rmtree, self.data_home, ignore_errors=True)
        apps = os.path.join(self.data_home, 'applications')
        os.makedirs(apps)
        self.out = os.path.join(self.data_home, 'launched')
        script = os.path.join(self.data_home, 'wallet.sh')
        with open(script, 'w') as f:
            f.write('#!/bin/sh\necho "$XDG_ACTIVATION_TOKEN" > "%s.tmp" && mv "%s.tmp" "%s"\n'
                    % (self.out, self.out, self.out))
        os.chmod(script, stat.S_IRWXU)
        with open(os.path.join(apps, 'org.example.Wallet.desktop'), 'w') as f:
            f.write('[Desktop Entry]\nType=Application\nName=Wallet\nExec=%s\n' % script)
        super().setUp()

    def daemon_env(self):
        env = super().daemon_env()
        env['XDG_DATA_HOME'] = self.data_home
        return env

    def test_view_launches_with_activation_token(self):
        self.register_request('r1', now_ms() + 60000, {
            'app-id': GLib.Variant('s', 'org.example.Wallet')})
        n = self.wait_for_notification()
        self.server_emit('ActivationToken', 'us', [dbus.UInt32(n.id), 'token-123'])
        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(n.id), 'view'])
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args[0], 'view')
        self.wait_for(lambda: os.path.exists(self.out), 5, 'wallet not launched')
        with open(self.out) as f:
            self.assertEqual(f.read().strip(), 'token-123')

    def test_dismiss_does_not_launch(self):
        self.register_request('r1', now_ms() + 60000, {
            'app-id': GLib.Variant('s', 'org.example.Wallet')})
        n = self.wait_for_notification()
        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(n.id), 'dismiss'])
        self.wait_for_signal('ActionInvoked')
        self.pump(0.5)
        self.assertFalse(os.path.exists(self.out))


if __name__ == '__main__':
    smtest.main()
