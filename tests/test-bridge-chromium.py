#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real browser: Debian's chromium (headless) loads examples/webextension
unpacked, with the bridge's host manifest in the profile's
NativeMessagingHosts/. A page sends REGISTER_SESSION for a session a few
seconds away; the test sees it in GetSessions; the page receives
SESSION_EXPIRING through the extension and answers UNREGISTER_SESSION with
reason cancelled; the test sees SessionUnregistered. Skips (77) with the
reason when chromium is missing or cannot start here."""

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import smtest
from bridgetest import BRIDGE

SOURCE_DIR = os.environ.get('SM_SOURCE_DIR', os.path.join(os.path.dirname(__file__), '..'))
EXTENSION = os.path.join(SOURCE_DIR, 'examples', 'webextension')
HOST = 'org.musig2.session_monitor'

PAGE = '''<!doctype html><title>wallet</title><script>
const CH = 'musig2-session-monitor';
const send = (m) => window.postMessage({channel: CH, direction: 'to-monitor', message: m},
                                       location.origin);
const log = (m) => fetch('/log', {method: 'POST', body: JSON.stringify(m)});
window.addEventListener('message', (e) => {
  const d = e.data;
  if (!d || d.channel !== CH || d.direction !== 'from-monitor') return;
  const m = d.message;
  if (typeof m.id === 'string' && m.id.startsWith('rt-')) {
    pending.get(m.id)(); pending.delete(m.id); return;
  }
  log(m);
  if (m.type === 'RESULT' && m.id === 1) roundTrips();
  if (d.message.type === 'SESSION_EXPIRING' && d.message.payload.sessionId === 'browser-1')
    send({type: 'UNREGISTER_SESSION', id: 2, payload: {sessionId: 'browser-1', reason: 'cancelled'}});
});
const pending = new Map();
const call = (m) => new Promise((resolve) => { pending.set(m.id, resolve); send(m); });
async function roundTrips() {
  // page -> extension -> bridge -> daemon -> back to the page, one at a time.
  const times = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    await call({type: 'GET_STATE', id: 'rt-' + i});
    times.push(performance.now() - t0);
  }
  const raw = times.slice();
  times.sort((a, b) => a - b);
  log({type: 'ROUND_TRIP', p50: times[49], p99: times[98], slow: raw.map((t, i) => [i, Math.round(t)]).filter((x) => x[1] > 50)});
}
window.addEventListener('load', () => {
  const sent = Date.now();
  log({type: 'PAGE_LOADED'});
  send({type: 'REGISTER_SESSION', id: 1, payload: {
    sessionId: 'browser-1', expiresAt: sent + 8000, warnThresholds: [5000],
    sessionType: 'signing', metadata: {from: 'chromium'}}});
});
</script>'''


def unpacked_extension_id(path):
    """Chromium's id of an unpacked extension: SHA-256 of its absolute path,
    first 16 bytes in hex, digits 0-f written a-p."""
    digest = hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:32]
    return ''.join(chr(ord('a') + int(c, 16)) for c in digest)


class PageServer(http.server.ThreadingHTTPServer):
    def __init__(self):
        self.log = []
        super().__init__(('127.0.0.1', 0), PageHandler)


class PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = PAGE.encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/html; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        self.server.log.append(json.loads(data))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def find_chromium():
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    return None


class ChromiumTest(smtest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        cls.chromium = find_chromium()
        if cls.chromium is None:
            raise smtest.unittest.SkipTest('chromium not installed (Debian: chromium)')
        super().setUpClass()

    def start_browser(self, url):
        profile = tempfile.mkdtemp(prefix='sm-chromium-')
        self.addCleanup(shutil.rmtree, profile, ignore_errors=True)
        hosts = os.path.join(profile, 'NativeMessagingHosts')
        os.makedirs(hosts)
        self.extension_id = unpacked_extension_id(EXTENSION)
        with open(os.path.join(hosts, HOST + '.json'), 'w') as f:
            json.dump({'name': HOST, 'description': 'test', 'path': os.path.abspath(BRIDGE),
                       'type': 'stdio',
                       'allowed_origins': ['chrome-extension://%s/' % self.extension_id]}, f)
        self.browser_log = tempfile.TemporaryFile(mode='w+')
        argv = [self.chromium, '--headless=new', '--user-data-dir=' + profile,
                '--no-first-run', '--no-default-browser-check', '--disable-gpu',
                '--disable-dev-shm-usage', '--enable-logging=stderr', '--v=0',
                '--disable-extensions-except=' + EXTENSION, '--load-extension=' + EXTENSION]
        if os.geteuid() == 0:
            argv.append('--no-sandbox')  # Chromium refuses to run as root otherwise.
        self.browser = subprocess.Popen(argv + [url], stdout=self.browser_log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.stop_browser)

    def stop_browser(self):
        if self.browser.poll() is None:
            os.killpg(self.browser.pid, 15)
            try:
                self.browser.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.browser.pid, 9)
                self.browser.wait()

    def browser_output(self):
        self.browser_log.seek(0)
        return self.browser_log.read()[-3000:]

    def wait_page(self, predicate, timeout, what):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump(0.05)
            if predicate():
                return
            if self.browser.poll() is not None:
                break
        if self.browser.poll() is not None and not self.server.log:
            raise smtest.unittest.SkipTest(
                'chromium exited with %d before loading the page: %s'
                % (self.browser.returncode, self.browser_output()[-600:]))
        self.fail('%s; page saw %r\nchromium:\n%s' % (what, self.server.log,
                                                       self.browser_output()))

    def test_page_registers_and_cancels_on_warning(self):
        self.server = PageServer()
        self.addCleanup(self.server.server_close)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addCleanup(self.server.shutdown)
        t0 = time.monotonic()
        self.start_browser('http://127.0.0.1:%d/wallet.html' % self.server.server_address[1])

        self.wait_page(lambda: {'type': 'PAGE_LOADED'} in self.server.log, 40, 'page not loaded')
        self.wait_page(lambda: 'browser-1' in self.get_sessions(), 20,
                       'the session never reached the daemon')
        session = self.get_sessions()['browser-1']
        self.assertEqual(session['metadata'], {'from': 'chromium'})
        self.assertEqual(session['warn-thresholds'], [5000])
        self.wait_page(lambda: self.signals_named('SessionUnregistered'), 20,
                       'no SessionUnregistered')
        self.assertEqual(self.signals_named('SessionUnregistered')[0].args,
                         ('browser-1', 'cancelled'))
        warning = self.wait_for_signal('SessionExpiring')
        unregistered = self.signals_named('SessionUnregistered')[0]
        self.assertLessEqual(warning.received_ms, unregistered.received_ms)
        self.assertNotIn('browser-1', self.get_sessions())
        types = [m['type'] for m in self.server.log]
        self.assertIn('SESSION_EXPIRING', types)
        results = [m.get('id') for m in self.server.log if m['type'] == 'RESULT']
        self.wait_page(lambda: 2 in [m.get('id') for m in self.server.log
                                     if m['type'] == 'RESULT'], 10, 'no RESULT for id 2')
        self.assertIn(1, results)
        self.wait_page(lambda: any(m['type'] == 'ROUND_TRIP' for m in self.server.log), 20,
                       'no round-trip figures')
        rt = [m for m in self.server.log if m['type'] == 'ROUND_TRIP'][0]
        print('page -> extension -> bridge -> daemon -> page, GET_STATE: p50 %.2f ms, '
              'p99 %.2f ms (n=100); over 50 ms (index, ms): %r' % (rt['p50'], rt['p99'], rt['slow']))
        print('chromium: page loaded to SessionUnregistered in %.1f s' % (time.monotonic() - t0))


if __name__ == '__main__':
    smtest.main()
