#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A desktop wallet's use of session-monitor from Python (PyGObject):
Gio.DBusProxy for the calls, its g-signal for the signals, on a GLib main
loop. Needs python3-gi (Debian) and the daemon on the session bus.

  session_monitor_client.py watch ID SECONDS [KEEP_ID]
      register session ID expiring in SECONDS (warning 2 s before), and
      KEEP_ID an hour away; print each signal as a JSON line until ID expired
  session_monitor_client.py list
      print the monitored sessions as JSON (state recovery after a restart)
"""

import json
import sys
import time

from gi.repository import Gio, GLib

BUS_NAME = 'org.musig2.SessionMonitor1'
OBJECT_PATH = '/org/musig2/SessionMonitor1'
INTERFACE = 'org.musig2.SessionMonitor1'


def connect():
    return Gio.DBusProxy.new_for_bus_sync(
        Gio.BusType.SESSION, Gio.DBusProxyFlags.DO_NOT_LOAD_PROPERTIES, None,
        BUS_NAME, OBJECT_PATH, INTERFACE, None)


def now_ms():
    return time.time_ns() // 1_000_000


def register_session(proxy, session_id, expires_at, thresholds_ms=None, session_type='signing'):
    options = {'session-type': GLib.Variant('s', session_type)}
    if thresholds_ms:
        options['warn-thresholds'] = GLib.Variant('ax', thresholds_ms)
    # Time stamps are Unix milliseconds, as JavaScript's Date.now().
    proxy.call_sync('RegisterSession', GLib.Variant('(sxa{sv})', (session_id, expires_at, options)),
                    Gio.DBusCallFlags.NONE, -1, None)


def watch(proxy, session_id, seconds, keep_id=None):
    loop = GLib.MainLoop()

    def on_signal(_proxy, _sender, name, params):
        args = params.unpack()
        print(json.dumps({'signal': name, 'args': list(args)}), flush=True)
        if name == 'SessionExpired' and args[0] == session_id:
            loop.quit()

    # Subscribe before registering so no signal is missed.
    proxy.connect('g-signal', on_signal)
    proxy.call_sync('Subscribe', None, Gio.DBusCallFlags.NONE, -1, None)
    if keep_id:
        register_session(proxy, keep_id, now_ms() + 3600_000)
    register_session(proxy, session_id, now_ms() + int(seconds * 1000), [2000])
    GLib.timeout_add_seconds(int(seconds) + 30, loop.quit)
    loop.run()


def list_sessions(proxy):
    (sessions,) = proxy.call_sync('GetSessions', None, Gio.DBusCallFlags.NONE, -1, None).unpack()
    print(json.dumps(sessions, indent=2, sort_keys=True))


def main(argv):
    proxy = connect()
    if len(argv) >= 3 and argv[0] == 'watch':
        watch(proxy, argv[1], float(argv[2]), argv[3] if len(argv) > 3 else None)
    elif argv[:1] == ['list']:
        list_sessions(proxy)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
