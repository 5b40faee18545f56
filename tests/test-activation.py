#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""D-Bus activation alone starts the daemon: a private dbus-daemon whose
config has a <servicedir> holding the session service file this build
installs (Exec= rewritten to the built daemon, since the install prefix is
not on this machine); the first call to the name starts it."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import smtest

BUILD_DIR = os.environ.get('SM_BUILD_DIR', os.path.join(os.path.dirname(__file__), '..', '_build'))
CTL = os.environ.get('SM_CTL', os.path.join(BUILD_DIR, 'src', 'session-monitorctl'))
BUS_NAME = smtest.BUS_NAME

CONFIG = '''<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={tmp}</listen>
  <servicedir>{servicedir}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
'''


class ActivationTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='sm-activation-')
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        servicedir = os.path.join(self.tmp, 'services')
        os.mkdir(servicedir)

        # The file meson installs into share/dbus-1/services, as configured.
        with open(os.path.join(BUILD_DIR, 'data', BUS_NAME + '.service')) as f:
            text = f.read()
        exec_line = [l for l in text.splitlines() if l.startswith('Exec=')][0]
        self.assertTrue(exec_line.endswith('/session-monitor'), exec_line)
        text = text.replace(exec_line, 'Exec=' + smtest.DAEMON)
        with open(os.path.join(servicedir, BUS_NAME + '.service'), 'w') as f:
            f.write(text)

        config = os.path.join(self.tmp, 'bus.conf')
        with open(config, 'w') as f:
            f.write(CONFIG.format(tmp=self.tmp, servicedir=servicedir))
        # The activated daemon inherits the bus daemon's environment.
        self.env = dict(os.environ)
        self.env['XDG_STATE_HOME'] = os.path.join(self.tmp, 'state')
        self.env.pop('DBUS_SESSION_BUS_ADDRESS', None)
        self.bus = subprocess.Popen(['dbus-daemon', '--config-file', config, '--nofork',
                                     '--print-address'], env=self.env,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(self.stop_bus)
        self.env['DBUS_SESSION_BUS_ADDRESS'] = self.bus.stdout.readline().strip()

    def stop_bus(self):
        pid = self.owner_pid()
        if pid:
            os.kill(pid, 15)
            for _ in range(500):
                if not os.path.exists('/proc/%d' % pid):
                    break
                time.sleep(0.01)
        self.bus.terminate()
        self.bus.wait()

    def gdbus(self, *args, check=True):
        return subprocess.run(['gdbus'] + list(args), env=self.env, capture_output=True,
                              text=True, check=check, timeout=30)

    def owner_pid(self):
        proc = self.gdbus('call', '--session', '--dest', 'org.freedesktop.DBus',
                          '--object-path', '/org/freedesktop/DBus', '--method',
                          'org.freedesktop.DBus.GetConnectionUnixProcessID', BUS_NAME,
                          check=False)
        if proc.returncode != 0:
            return None
        return int(proc.stdout.strip().strip('(),').split()[-1])

    def test_first_gdbus_call_starts_daemon(self):
        self.assertIsNone(self.owner_pid(), 'daemon already running')
        proc = self.gdbus('call', '--session', '--dest', BUS_NAME, '--object-path',
                          smtest.OBJECT_PATH, '--method', smtest.IFACE + '.GetSessions')
        self.assertEqual(proc.stdout.strip(), '(@aa{sv} [],)')
        pid = self.owner_pid()
        self.assertIsNotNone(pid)
        self.assertEqual(os.path.realpath('/proc/%d/exe' % pid), os.path.realpath(smtest.DAEMON))

    def test_ctl_starts_daemon(self):
        status = subprocess.run([CTL, 'status'], env=self.env, capture_output=True, text=True)
        self.assertEqual(status.returncode, 3, 'status must not start the daemon')
        self.assertIsNone(self.owner_pid())
        proc = subprocess.run([CTL, 'register', 'demo', '--expires-in', '2m'], env=self.env,
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIsNotNone(self.owner_pid())
        listed = json.loads(subprocess.run([CTL, '--json', 'list'], env=self.env,
                                           capture_output=True, text=True, check=True).stdout)
        self.assertEqual([s['session-id'] for s in listed['sessions']], ['demo'])


if __name__ == '__main__':
    smtest.main()
