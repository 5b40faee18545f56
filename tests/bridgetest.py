# SPDX-License-Identifier: GPL-3.0-or-later
"""Drives session-monitor-bridge exactly as a browser does: native-messaging
frames (4-byte native-order length, then UTF-8 JSON) on its stdin, frames
read back from its stdout."""

import json
import os
import queue
import struct
import subprocess
import threading
import time

BRIDGE = os.environ.get('SM_BRIDGE', os.path.join(
    os.path.dirname(__file__), '..', '_build', 'src', 'bridge', 'session-monitor-bridge'))


class Bridge:
    def __init__(self, origin='chrome-extension://abcdefghijklmnopabcdefghijklmnop/'):
        self.proc = subprocess.Popen([BRIDGE, origin], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frames = queue.Queue()
        self.sizes = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        out = self.proc.stdout
        while True:
            header = out.read(4)
            if len(header) < 4:
                self.frames.put(None)
                return
            (length,) = struct.unpack('=I', header)
            data = out.read(length)
            self.sizes.append(length)
            self.frames.put(json.loads(data.decode('utf-8')))

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send_frame(self, payload):
        if isinstance(payload, str):
            payload = payload.encode('utf-8')
        self.send_raw(struct.pack('=I', len(payload)) + payload)

    def send(self, message):
        self.send_frame(json.dumps(message))

    def recv(self, timeout=10):
        try:
            frame = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError('no frame from the bridge within %s s' % timeout)
        if frame is None:
            raise AssertionError('the bridge closed its stdout: %s' % self.stderr_text())
        return frame

    def recv_until(self, predicate, timeout=10):
        """Frames until one matches; returns (match, frames seen before it)."""
        end = time.monotonic() + timeout
        seen = []
        while True:
            frame = self.recv(max(0.01, end - time.monotonic()))
            if predicate(frame):
                return frame, seen
            seen.append(frame)

    def call(self, message, timeout=15):
        """Sends a message with an id and returns its RESULT or ERROR."""
        msg_id = message['id']
        self.send(message)
        frame, _ = self.recv_until(lambda f: f.get('type') in ('RESULT', 'ERROR')
                                   and f.get('id') == msg_id, timeout)
        return frame

    def close(self, timeout=10):
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        rc = self.proc.wait(timeout=timeout)
        return rc

    def stderr_text(self):
        if self.proc.poll() is None:
            return ''
        return self.proc.stderr.read().decode('utf-8', 'replace')

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass
