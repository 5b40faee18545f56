#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""LimitExceeded at 10 000 sessions, over the bus."""

from gi.repository import Gio, GLib

import smtest
from smtest import ERROR_PREFIX, now_ms

LIMIT = 10000


class SessionsLimitTest(smtest.DaemonTestCase):

    def register_many(self, ids, expires_at, window=64):
        """Pipelines the calls (one round trip each would be slow), at most
        @window in flight: dbusmock's bus keeps dbus-daemon's default limit
        of 128 pending replies per connection."""
        errors = []
        todo = list(reversed(ids))
        pending = [0]

        def send():
            while todo and pending[0] < window:
                session_id = todo.pop()
                pending[0] += 1
                self.bus.call(smtest.BUS_NAME, smtest.OBJECT_PATH, smtest.IFACE,
                              'RegisterSession',
                              GLib.Variant('(sxa{sv})', (session_id, expires_at, {})), None,
                              Gio.DBusCallFlags.NO_AUTO_START, int(60000 * smtest.SLOWDOWN),
                              None, done, session_id)

        def done(conn, result, session_id):
            try:
                conn.call_finish(result)
            except GLib.Error as e:
                errors.append((session_id, e.message))
            pending[0] -= 1
            send()

        send()
        self.wait_for(lambda: pending[0] == 0 and not todo, 120,
                      'registrations did not complete')
        return errors

    def test_limit(self):
        expires = now_ms() + 3600 * 1000
        errors = self.register_many(['s%05d' % i for i in range(LIMIT)], expires)
        self.assertEqual(errors, [])
        self.assertEqual(len(self.call('GetSessions')[0]), LIMIT)

        message = self.assertDBusError(ERROR_PREFIX + 'LimitExceeded', 'RegisterSession',
                                       'sxa{sv}', 'one-too-many', expires, {})
        self.assertIn('session_id', message)

        # Re-registering an existing id always works, and changes it.
        self.register_session('s00042', expires + 1)
        self.assertEqual(self.get_sessions()['s00042']['expires-at'], expires + 1)

        # One leaves, one new fits; the count never passes the limit.
        self.call('UnregisterSession', 'ss', 's00000', 'completed')
        self.register_session('one-too-many', expires)
        self.assertDBusError(ERROR_PREFIX + 'LimitExceeded', 'RegisterSession', 'sxa{sv}',
                             'and-another', expires, {})
        sessions = self.get_sessions()
        self.assertEqual(len(sessions), LIMIT)
        self.assertIn('one-too-many', sessions)
        self.assertNotIn('s00000', sessions)
        self.assertNotIn('and-another', sessions)


if __name__ == '__main__':
    smtest.main()
