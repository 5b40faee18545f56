#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""meson install into a temporary DESTDIR: every installed file exists and
validates (units with systemd-analyze verify, XML with xmllint, the desktop
file with desktop-file-validate), the activation files point at the installed
daemon, and the system unit's systemd-analyze security exposure is reported."""

import configparser
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import smtest

BUILD_DIR = os.environ.get('SM_BUILD_DIR', os.path.join(os.path.dirname(__file__), '..', '_build'))
BUS_NAME = smtest.BUS_NAME


def read_ini(path):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(path)
    return parser


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        meson = shutil.which('meson')
        if meson is None:
            raise unittest.SkipTest('meson not on PATH')
        cls.tmp = tempfile.mkdtemp(prefix='sm-install-')
        cls.destdir = os.path.join(cls.tmp, 'dest')
        subprocess.run([meson, 'install', '-C', BUILD_DIR, '--no-rebuild', '--quiet',
                        '--destdir', cls.destdir], check=True, stdout=subprocess.DEVNULL)
        installed = json.loads(subprocess.run(
            [meson, 'introspect', BUILD_DIR, '--installed'], check=True,
            capture_output=True, text=True).stdout)
        cls.installed = sorted(set(installed.values()))
        options = json.loads(subprocess.run(
            [meson, 'introspect', BUILD_DIR, '--buildoptions'], check=True,
            capture_output=True, text=True).stdout)
        opt = {o['name']: o['value'] for o in options}
        cls.prefix = opt['prefix']
        cls.libexec_daemon = os.path.join(cls.prefix, opt['libexecdir'], 'session-monitor')
        cls.ctl = os.path.join(cls.prefix, opt['bindir'], 'session-monitorctl')
        cls.system_group = opt['system_group']
        cls.opt = opt
        cls.bridge = os.path.join(cls.prefix, opt['libexecdir'], 'session-monitor-bridge')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def dest(self, path):
        return self.destdir + path

    def find(self, suffix):
        """The one installed absolute path that ends with @suffix."""
        hits = [p for p in self.installed if p.endswith('/' + suffix)]
        self.assertEqual(len(hits), 1, 'expected one installed %s, have %r' % (suffix, hits))
        self.assertTrue(os.path.isfile(self.dest(hits[0])), hits[0] + ' not in DESTDIR')
        return hits[0]

    def test_names(self):
        """The installed names that packagers and scripts rely on."""
        names = [
            'libexec/session-monitor',
            'bin/session-monitorctl',
            'share/dbus-1/services/%s.service' % BUS_NAME,
            'share/dbus-1/system-services/%s.service' % BUS_NAME,
            'share/dbus-1/system.d/%s.conf' % BUS_NAME,
            'share/dbus-1/interfaces/%s.xml' % BUS_NAME,
            'systemd/user/session-monitor.service',
            'systemd/system/session-monitor.service',
            'sysusers.d/session-monitor.conf',
            'man1/session-monitorctl.1',
            'man8/session-monitor.8',
            'completions/session-monitorctl',
            'doc/session-monitor/session-monitor-api-%s.rst' % BUS_NAME,
            'doc/session-monitor/session-monitor-api-%s.xml' % BUS_NAME,
        ]
        for name in names:
            with self.subTest(name=name):
                self.find(name)
        for exe in (self.libexec_daemon, self.ctl):
            self.assertTrue(os.access(self.dest(exe), os.X_OK), exe)
        out = subprocess.run([self.dest(self.ctl), '--version'], capture_output=True,
                             text=True, check=True).stdout
        self.assertRegex(out, r'^session-monitorctl \d+\.\d+')

    def test_native_messaging_manifests(self):
        """Each browser's host manifest names the installed bridge and the
        extensions the build options allow (none by default)."""
        if not self.opt.get('native_messaging', True):
            self.skipTest('built with -Dnative_messaging=false')
        self.assertTrue(os.access(self.dest(self.bridge), os.X_OK), self.bridge)
        out = subprocess.run([self.dest(self.bridge), '--version'], capture_output=True,
                             text=True, check=True).stdout
        self.assertRegex(out, r'^session-monitor-bridge \d+\.\d+')
        name = 'org.musig2.session_monitor.json'
        where = {
            '/etc/chromium/native-messaging-hosts/' + name: 'allowed_origins',
            '/etc/opt/chrome/native-messaging-hosts/' + name: 'allowed_origins',
            '/usr/lib/mozilla/native-messaging-hosts/' + name: 'allowed_extensions',
        }
        self.assertEqual(sorted(p for p in self.installed if p.endswith('/' + name)),
                         sorted(where))
        for path, key in where.items():
            with self.subTest(path=path):
                with open(self.dest(path)) as f:
                    manifest = json.load(f)
                self.assertEqual(manifest['name'], 'org.musig2.session_monitor')
                self.assertEqual(manifest['type'], 'stdio')
                self.assertEqual(manifest['path'], self.bridge)
                self.assertTrue(os.path.isabs(manifest['path']))
                self.assertEqual(manifest[key], self.opt['native_messaging_' + key])
                other = ({'allowed_origins', 'allowed_extensions'} - {key}).pop()
                self.assertNotIn(other, manifest)

    def test_session_service_file(self):
        ini = read_ini(self.dest(self.find('share/dbus-1/services/%s.service' % BUS_NAME)))
        sec = ini['D-BUS Service']
        self.assertEqual(sec['Name'], BUS_NAME)
        self.assertEqual(sec['Exec'], self.libexec_daemon)
        self.assertEqual(sec['SystemdService'], 'session-monitor.service')

    def test_system_service_file(self):
        ini = read_ini(self.dest(self.find('share/dbus-1/system-services/%s.service' % BUS_NAME)))
        sec = ini['D-BUS Service']
        self.assertEqual(sec['Name'], BUS_NAME)
        self.assertEqual(sec['Exec'], self.libexec_daemon + ' --system')
        self.assertTrue(sec['User'])
        self.assertEqual(sec['SystemdService'], 'session-monitor.service')

    def verify_unit(self, installed_path, user):
        """systemd-analyze verify on a copy whose binaries point into DESTDIR."""
        unit = self.dest(installed_path)
        with open(unit) as f:
            text = f.read()
        self.assertIn('ExecStart=' + self.libexec_daemon, text)
        copy_dir = tempfile.mkdtemp(dir=self.tmp)
        copy = os.path.join(copy_dir, 'session-monitor.service')
        with open(copy, 'w') as f:
            f.write(text.replace(self.libexec_daemon, self.dest(self.libexec_daemon)))
        env = dict(os.environ)
        argv = ['systemd-analyze']
        if user:
            runtime = tempfile.mkdtemp(dir=self.tmp)
            env['XDG_RUNTIME_DIR'] = runtime
            argv.append('--user')
        proc = subprocess.run(argv + ['verify', '--man=no', copy], env=env,
                              capture_output=True, text=True)
        # verify exits 0 even for unknown keys: any complaint is a failure.
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr.strip(), '', proc.stderr)
        return text, copy

    @unittest.skipUnless(shutil.which('systemd-analyze'), 'systemd-analyze not installed')
    def test_user_unit(self):
        text, _ = self.verify_unit(self.find('systemd/user/session-monitor.service'), user=True)
        ini = read_ini(self.dest(self.find('systemd/user/session-monitor.service')))
        self.assertEqual(ini['Service']['Type'], 'dbus')
        self.assertEqual(ini['Service']['BusName'], BUS_NAME)
        self.assertEqual(ini['Service']['Restart'], 'on-failure')

    @unittest.skipUnless(shutil.which('systemd-analyze'), 'systemd-analyze not installed')
    def test_system_unit(self):
        path = self.find('systemd/system/session-monitor.service')
        text, copy = self.verify_unit(path, user=False)
        for line in ('Type=dbus', 'BusName=' + BUS_NAME, 'ExecStart=%s --system' % self.libexec_daemon,
                     'ProtectSystem=strict', 'ProtectHome=yes', 'NoNewPrivileges=yes',
                     'StateDirectory=session-monitor', 'CapabilityBoundingSet=\n',
                     'RestrictAddressFamilies=AF_UNIX', 'SystemCallFilter=@system-service',
                     'PrivateTmp=yes', 'Environment=XDG_STATE_HOME=%S'):
            self.assertIn(line, text)
        proc = subprocess.run(['systemd-analyze', 'security', '--offline=true', copy],
                              capture_output=True, text=True)
        match = re.search(r'Overall exposure level for session-monitor\.service: ([0-9.]+) (\w+)',
                          proc.stdout)
        self.assertIsNotNone(match, proc.stdout + proc.stderr)
        print('systemd-analyze security: exposure %s %s' % (match.group(1), match.group(2)))
        for line in proc.stdout.splitlines():
            if line.startswith('✗'):
                print('  ' + ' '.join(line.split()))
        # 0 is best, 10 worst; "OK" ends at 4.9, "SAFE" below 2.
        self.assertLess(float(match.group(1)), 2.0)

    @unittest.skipUnless(shutil.which('xmllint'), 'xmllint not installed')
    def test_xml(self):
        policy = self.dest(self.find('share/dbus-1/system.d/%s.conf' % BUS_NAME))
        for path in (policy,
                     self.dest(self.find('share/dbus-1/interfaces/%s.xml' % BUS_NAME)),
                     self.dest(self.find('doc/session-monitor/session-monitor-api-%s.xml' % BUS_NAME))):
            proc = subprocess.run(['xmllint', '--noout', path], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stderr)

        # Who may own and who may call, by the policy's own rules.
        policies = ET.parse(policy).getroot().findall('policy')
        owners = {p.get('user') for p in policies
                  if p.find("allow[@own='%s']" % BUS_NAME) is not None}
        callers = {(p.get('user'), p.get('group')) for p in policies
                   if p.find("allow[@send_destination='%s']" % BUS_NAME) is not None}
        self.assertIn('root', owners)
        self.assertNotIn(None, owners)
        self.assertEqual(callers, {('root', None), (None, self.system_group)})
        default = [p for p in policies if p.get('context') == 'default']
        self.assertEqual(len(default), 1)
        self.assertIsNotNone(default[0].find("deny[@own='%s']" % BUS_NAME))
        self.assertIsNotNone(default[0].find("deny[@send_destination='%s']" % BUS_NAME))

    def test_desktop_file(self):
        desktop = [p for p in self.installed if p.endswith('.desktop')]
        if not desktop:
            self.skipTest('no desktop file installed')
        if not shutil.which('desktop-file-validate'):
            self.skipTest('desktop-file-validate not installed')
        for path in desktop:
            proc = subprocess.run(['desktop-file-validate', self.dest(path)],
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_man_and_completion(self):
        for name in ('man1/session-monitorctl.1', 'man8/session-monitor.8',
                     'man1/session-monitor-bridge.1'):
            with open(self.dest(self.find(name))) as f:
                self.assertRegex(f.read(), r'^\.TH SESSION-MONITOR')
        completion = self.dest(self.find('completions/session-monitorctl'))
        proc = subprocess.run(['bash', '-n', completion], capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        # Sourcing it registers the completion function for the command.
        proc = subprocess.run(['bash', '-c', 'source "$1" && complete -p session-monitorctl',
                               'bash', completion], capture_output=True, text=True)
        self.assertIn('_session_monitorctl', proc.stdout, proc.stderr)


if __name__ == '__main__':
    smtest.main()
