# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the notification tests: python3-dbusmock's notification_daemon
template on the private bus, and a view of what the daemon asked it to do.
"""

import subprocess

import dbus
import dbusmock

import smtest

NOTIFY_NAME = 'org.freedesktop.Notifications'
NOTIFY_PATH = '/org/freedesktop/Notifications'
NOTIFY_IFACE = 'org.freedesktop.Notifications'
DESKTOP_ID = 'org.musig2.SessionMonitor1'


class Notification:
    def __init__(self, args, id_):
        (self.app_name, self.replaces_id, self.icon, self.summary, self.body,
         actions, hints, self.timeout) = args
        self.id = id_
        self.actions = dict(zip(actions[0::2], actions[1::2]))
        self.hints = dict(hints)

    @property
    def urgency(self):
        return int(self.hints['urgency'])

    def __repr__(self):
        return (f'Notification(id={self.id}, replaces={self.replaces_id}, '
                f'{self.summary!r}, {self.body!r})')


class NotifyTestCase(smtest.DaemonTestCase):
    """A mock notification server is running before each daemon starts."""

    capabilities = None  # None: the template's defaults (with body-markup)
    start_mock = True

    def setUp(self):
        self.mock_proc = None
        if self.start_mock:
            self.start_notification_server()
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.stop_notification_server()

    def start_notification_server(self):
        params = {}
        if self.capabilities is not None:
            params['capabilities'] = ' '.join(self.capabilities)
        self.mock_proc, obj = self.spawn_server_template(
            'notification_daemon', params, stdout=subprocess.DEVNULL)
        self.mock = dbus.Interface(obj, dbusmock.MOCK_IFACE)

    def stop_notification_server(self):
        if self.mock_proc is not None:
            self.mock_proc.terminate()
            self.mock_proc.wait()
            self.mock_proc = None

    # What the server was asked ---------------------------------------------

    def calls(self):
        """Notify and CloseNotification calls in order: ('notify', Notification)
        or ('close', id). Ids of new notifications are the mock's (1, 2, ...)."""
        out = []
        next_id = 1
        for _, name, args in self.mock.GetCalls():
            if name == 'Notify':
                if args[1]:
                    id_ = int(args[1])
                else:
                    id_ = next_id
                    next_id += 1
                out.append(('notify', Notification(args, id_)))
            elif name == 'CloseNotification':
                out.append(('close', int(args[0])))
        return out

    def notifications(self):
        return [n for kind, n in self.calls() if kind == 'notify']

    def closed_ids(self):
        return [i for kind, i in self.calls() if kind == 'close']

    def on_screen(self, check_max=True):
        """Replays the calls: the notifications on screen, id → latest.
        Asserts that there were never more than three at once."""
        screen = {}
        for kind, value in self.calls():
            if kind == 'notify':
                screen[value.id] = value
            else:
                screen.pop(value, None)
            if check_max:
                self.assertLessEqual(len(screen), 3, 'more than 3 on screen: %r' % screen)
        return screen

    def wait_for_notification(self, predicate=lambda n: True, count=1, timeout=5):
        def found():
            return [n for n in self.notifications() if predicate(n)]
        self.wait_for(lambda: len(found()) >= count, timeout,
                      'no such notification (have %r)' % self.notifications())
        return found()[count - 1]

    def wait_for_close(self, id_, timeout=5):
        self.wait_for(lambda: id_ in self.closed_ids(), timeout,
                      'notification %d not closed (calls %r)' % (id_, self.calls()))

    def server_emit(self, name, signature, args):
        """Emits a signal from the server's own connection."""
        self.mock.EmitSignal(NOTIFY_IFACE, name, signature, args)

    def register_request(self, request_id, expires_at, options=None, session_id='s1',
                         peer='peer1'):
        return self.call('RegisterSigningRequest', 'sssxa{sv}', request_id, session_id,
                         peer, expires_at, options or {})
