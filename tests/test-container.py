#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Debian package, built from this source tree and installed under a real
systemd (PID 1) in a container.

Builds the .deb with `dpkg-buildpackage -us -uc -b` from a copy of the tree
(in a temporary directory: dpkg-buildpackage writes to the parent), checks it
with lintian (no errors, no warnings), then boots a Debian 12 minbase with
systemd, dbus and dbus-user-session in systemd-nspawn. A oneshot unit in the
container runs tests/container/in-container.sh at boot: it installs the
package and checks D-Bus activation on the system bus and in a lingering
user's session, the bus policy, per-user isolation, restarts, kill -9,
journal priorities and purge; then it powers the container off, and this
file turns its result lines into test results.

The root file system is made once with debootstrap and cached as a tarball in
$SM_CONTAINER_CACHE (default /var/tmp/session-monitor-container); each run
unpacks it afresh. Needs root, systemd-nspawn, debootstrap, debhelper and
lintian, and the Debian mirror this machine's apt uses (when the cache is
cold). Skips, saying why, where a container cannot be booted (not root, in a
chroot, no systemd-nspawn, no cgroup file system, no network for a cold
cache). Exit status 77 when everything was skipped.
"""

import fcntl
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get('SM_SOURCE_DIR', os.path.join(os.path.dirname(__file__), '..'))
HERE = os.path.join(SOURCE_DIR, 'tests', 'container')
CACHE_DIR = os.environ.get('SM_CONTAINER_CACHE', '/var/tmp/session-monitor-container')
SUITE = 'bookworm'
# The base system plus what the container needs to boot and what the package
# depends on (so the container installs it without the network).
INCLUDE = ['systemd', 'systemd-sysv', 'dbus', 'dbus-user-session', 'libglib2.0-0',
           'libjson-glib-1.0-0', 'libnotify4']
TOOLS = ['systemd-nspawn', 'debootstrap', 'dpkg-buildpackage', 'dh', 'lintian', 'meson']
BOOT_TIMEOUT = 900


def log(msg):
    print('test-container: ' + msg, flush=True)


def skip_reason():
    if os.geteuid() != 0:
        return 'needs root (debootstrap, systemd-nspawn)'
    try:
        root1 = os.stat('/proc/1/root')
        if (root1.st_dev, root1.st_ino) != (os.stat('/').st_dev, os.stat('/').st_ino):
            return 'runs inside a chroot: systemd-nspawn cannot boot a container here'
    except PermissionError:
        pass  # PID 1 in another namespace: the mount table below tells
    # In a chroot into a plain directory no mount is seen at "/".
    with open('/proc/self/mountinfo') as f:
        if not any(line.split()[4] == '/' for line in f if len(line.split()) > 4):
            return 'runs inside a chroot (no mount at /): systemd-nspawn cannot boot a container here'
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return '%s is not installed (tools/deps.sh installs it)' % tool
    if not os.path.isdir('/sys/fs/cgroup') or not os.listdir('/sys/fs/cgroup'):
        return 'no cgroup file system at /sys/fs/cgroup: systemd cannot run as PID 1'
    return None


def apt_mirror():
    """The mirror this machine's apt uses (as ../shared/tools/fresh-debian)."""
    for path in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
        with open(path) as f:
            for line in f:
                if line.startswith('URIs:'):
                    return line.split()[1]
    try:
        with open('/etc/apt/sources.list') as f:
            for line in f:
                if line.startswith('deb '):
                    return line.split()[1]
    except OSError:
        pass
    return 'http://deb.debian.org/debian'


def rootfs_tarball():
    """The cached root file system tarball, made on first use."""
    key = hashlib.sha256(' '.join([SUITE] + INCLUDE).encode()).hexdigest()[:12]
    tarball = os.path.join(CACHE_DIR, '%s-systemd-%s.tar' % (SUITE, key))
    os.makedirs(CACHE_DIR, exist_ok=True)
    with open(os.path.join(CACHE_DIR, 'lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(tarball):
            return tarball, False
        tmp = tempfile.mkdtemp(prefix='debootstrap-', dir=CACHE_DIR)
        try:
            root = os.path.join(tmp, 'root')
            mirror = apt_mirror()
            log('debootstrap %s from %s (once; cached in %s)' % (SUITE, mirror, CACHE_DIR))
            proc = subprocess.run(['debootstrap', '--variant=minbase',
                                   '--include=' + ','.join(INCLUDE), SUITE, root, mirror],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0:
                raise unittest.SkipTest('debootstrap from %s failed (no network to the mirror?): %s'
                                        % (mirror, proc.stdout[-500:]))
            subprocess.run(['tar', '-C', root, '-cf', tarball + '.part', '.'], check=True)
            os.rename(tarball + '.part', tarball)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return tarball, True


def copy_source(dest):
    """The source tree without build directories or VCS data."""
    top = os.path.realpath(SOURCE_DIR)

    def ignore(directory, names):
        if os.path.realpath(directory) != top:
            return []
        return [n for n in names if n.startswith(('_build', 'build', '.git'))]

    shutil.copytree(top, dest, ignore=ignore, symlinks=True)


class ContainerTest(unittest.TestCase):
    results = None

    @classmethod
    def setUpClass(cls):
        reason = skip_reason()
        if reason:
            raise unittest.SkipTest(reason)
        cls.tmp = tempfile.mkdtemp(prefix='sm-container-', dir='/var/tmp')
        cls.times = {}
        try:
            cls.build_package()
            cls.boot()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if os.environ.get('SM_CONTAINER_KEEP'):
            log('kept ' + cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def build_package(cls):
        src = os.path.join(cls.tmp, 'src', 'session-monitor')
        copy_source(src)
        env = dict(os.environ, DEB_BUILD_OPTIONS='parallel=%d' % (os.cpu_count() or 1))
        for var in ('SM_BUILD_DIR', 'SM_DAEMON', 'SM_CTL', 'MESON_TEST_ITERATION'):
            env.pop(var, None)
        started = time.monotonic()
        proc = subprocess.run(['dpkg-buildpackage', '-us', '-uc', '-b'], cwd=src, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        cls.times['dpkg-buildpackage'] = time.monotonic() - started
        cls.build_log = proc.stdout
        if proc.returncode != 0:
            raise AssertionError('dpkg-buildpackage failed:\n' + proc.stdout[-4000:])
        debs = glob.glob(os.path.join(cls.tmp, 'src', 'session-monitor_*.deb'))
        if len(debs) != 1:
            raise AssertionError('expected one .deb, have %r' % debs)
        cls.deb = debs[0]
        cls.changes = glob.glob(os.path.join(cls.tmp, 'src', 'session-monitor_*.changes'))[0]
        cls.pkg_dir = os.path.join(cls.tmp, 'pkg')
        os.mkdir(cls.pkg_dir)
        shutil.copy(cls.deb, cls.pkg_dir)
        shutil.copy(os.path.join(HERE, 'in-container.sh'), cls.pkg_dir)

    @classmethod
    def boot(cls):
        started = time.monotonic()
        tarball, made = rootfs_tarball()
        cls.times['debootstrap' if made else 'rootfs cache'] = time.monotonic() - started
        root = os.path.join(cls.tmp, 'root')
        os.mkdir(root)
        os.chmod(root, 0o755)
        subprocess.run(['tar', '-C', root, '-xf', tarball], check=True)
        unit = 'sm-container-test.service'
        shutil.copy(os.path.join(HERE, unit), os.path.join(root, 'etc/systemd/system', unit))
        wants = os.path.join(root, 'etc/systemd/system/multi-user.target.wants')
        os.makedirs(wants, exist_ok=True)
        os.symlink('/etc/systemd/system/' + unit, os.path.join(wants, unit))
        cls.results_dir = os.path.join(cls.tmp, 'results')
        os.mkdir(cls.results_dir)
        for d in ('sm-test', 'sm-results'):
            os.mkdir(os.path.join(root, d))

        # No host systemd to register with: nspawn keeps its own scope and
        # needs a writable /run/systemd/nspawn.
        if not os.path.ismount('/run/systemd/nspawn'):
            os.makedirs('/run/systemd/nspawn', exist_ok=True)
            subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', '/run/systemd/nspawn'], check=True)
        console_log = os.path.join(cls.tmp, 'console.log')
        started = time.monotonic()
        with open(console_log, 'w') as console:
            proc = subprocess.Popen(
                ['systemd-nspawn', '--quiet', '--keep-unit', '--register=no', '--console=pipe',
                 '-D', root, '--machine=sm-test-%d' % os.getpid(),
                 '--bind-ro=%s:/sm-test' % cls.pkg_dir, '--bind=%s:/sm-results' % cls.results_dir,
                 '--boot'],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                start_new_session=True)
            try:
                proc.wait(timeout=BOOT_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        cls.times['container boot, checks, poweroff'] = time.monotonic() - started
        with open(console_log, errors='replace') as f:
            cls.console = f.read()
        for name, seconds in cls.times.items():
            log('%s: %.0f s' % (name, seconds))

        path = os.path.join(cls.results_dir, 'results')
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        if not lines:
            # The container never reached our unit: this machine cannot boot
            # one (cgroups, namespaces), which is not the package's fault.
            raise unittest.SkipTest('the container did not boot to the test unit (nspawn exit %s): %s'
                                    % (proc.returncode, cls.console[-1500:]))
        cls.results = {}
        cls.info = {}
        for line in lines:
            word, _, rest = line.partition(' ')
            if word in ('PASS', 'FAIL'):
                name, _, why = rest.partition(': ')
                cls.results[name] = (word, why)
            elif word == 'INFO':
                key, _, value = rest.partition(': ')
                cls.info[key] = value
                log('%s: %s' % (key, value))
        cls.finished = lines[-1] == 'DONE'
        with open(os.path.join(cls.results_dir, 'trace'), errors='replace') as f:
            cls.trace = f.read()

    def expect(self, *names):
        """Each named check in the container passed."""
        for name in names:
            with self.subTest(check=name):
                self.assertIn(name, self.results,
                              'check %s never ran; trace tail:\n%s' % (name, self.trace[-3000:]))
                word, why = self.results[name]
                self.assertEqual(word, 'PASS', '%s: %s' % (name, why))

    def test_00_lintian(self):
        """lintian: no errors and no warnings (overrides carry a reason each)."""
        proc = subprocess.run(['lintian', '--tag-display-limit', '0', self.changes],
                              capture_output=True, text=True)
        tags = [line for line in proc.stdout.splitlines() if re.match(r'^[EW]: ', line)]
        self.assertEqual(tags, [], proc.stdout + proc.stderr)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_01_contents(self):
        """The package holds everything the issue lists."""
        listing = subprocess.run(['dpkg-deb', '--contents', self.deb], capture_output=True,
                                 text=True, check=True).stdout
        paths = {line.split()[-1].lstrip('.') for line in listing.splitlines()}
        bus = 'org.musig2.SessionMonitor1'
        for path in ('/usr/libexec/session-monitor', '/usr/bin/session-monitorctl',
                     '/usr/share/dbus-1/services/%s.service' % bus,
                     '/usr/share/dbus-1/system-services/%s.service' % bus,
                     '/usr/share/dbus-1/system.d/%s.conf' % bus,
                     '/usr/share/dbus-1/interfaces/%s.xml' % bus,
                     '/lib/systemd/system/session-monitor.service',
                     '/usr/lib/systemd/user/session-monitor.service',
                     '/usr/lib/sysusers.d/session-monitor.conf',
                     '/usr/share/applications/%s.desktop' % bus,
                     '/usr/share/man/man1/session-monitorctl.1.gz',
                     '/usr/share/man/man8/session-monitor.8.gz',
                     '/usr/share/bash-completion/completions/session-monitorctl',
                     '/usr/share/locale/de/LC_MESSAGES/session-monitor.mo',
                     '/usr/share/doc/session-monitor/session-monitor-api-%s.rst.gz' % bus,
                     '/usr/share/doc/session-monitor/copyright'):
            with self.subTest(path=path):
                self.assertIn(path, paths)
        # The version is meson's project version.
        version = subprocess.run(['dpkg-deb', '--field', self.deb, 'Version'],
                                 capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(SOURCE_DIR, 'meson.build')) as f:
            meson_version = re.search(r"^\s*version:\s*'([^']+)'", f.read(), re.M).group(1)
        self.assertEqual(version, meson_version)

    def test_02_installed(self):
        self.expect('install', 'sysusers-user', 'sysusers-group', 'unit-disabled',
                    'unit-not-started')

    def test_03_system_activation(self):
        self.expect('system-activation', 'system-active', 'system-activated-by-dbus', 'system-user',
                    'system-state-dir')

    def test_04_system_users(self):
        self.expect('system-bob-register', 'system-alice-list', 'system-bob-list',
                    'system-alice-signals', 'system-bob-signals', 'system-policy-refuses')

    def test_05_system_restarts(self):
        self.expect('system-restart-new-pid', 'system-restart-keeps-state',
                    'system-kill9-restarted', 'system-kill9-catch-up-log',
                    'system-kill9-catch-up-gone')

    def test_06_security(self):
        """systemd-analyze security of the unit as it runs in the container."""
        match = re.search(r'([0-9.]+) (\w+)', self.info.get('system-security', ''))
        self.assertIsNotNone(match, self.info)
        self.assertLess(float(match.group(1)), 2.0, self.info['system-security'])

    def test_07_journal(self):
        self.expect('journal-warning-shown', 'journal-notice-filtered', 'journal-priority-4',
                    'journal-priority-5')

    def test_08_user_session(self):
        self.expect('user-manager', 'user-not-running', 'user-activation', 'user-active',
                    'user-type-dbus', 'user-list', 'user-watch', 'user-stopped',
                    'user-reactivation-keeps-state', 'user-reactivated')

    def test_09_purge(self):
        self.expect('purge-ok', 'purge-removes-state', 'purge-keeps-user', 'purge-stops-unit')

    def test_10_complete(self):
        """The script ran to its end and no check outside the lists above failed."""
        self.assertTrue(self.finished, 'the in-container script did not finish; trace tail:\n'
                        + self.trace[-3000:] + '\nconsole tail:\n' + self.console[-2000:])
        failed = {n: why for n, (word, why) in self.results.items() if word == 'FAIL'}
        self.assertEqual(failed, {})


if __name__ == '__main__':
    result = unittest.main(testRunner=unittest.TextTestRunner(stream=sys.stdout, verbosity=2),
                           exit=False).result
    if result.wasSuccessful() and result.skipped and len(result.skipped) >= result.testsRun:
        sys.exit(77)
    sys.exit(0 if result.wasSuccessful() else 1)
