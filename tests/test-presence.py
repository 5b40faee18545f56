#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Presence refresh: ticks every 40 % of the ttl, the owner's disconnect,
the lapse that ends refreshing, reconfiguration, StopPresence, bad ttls."""

import os

from gi.repository import Gio, GLib

import smtest

TTL = 10000
INTERVAL = 4000
SLACK_EARLY = 5
LATE = 1000
ONE_WEEK = 7 * 24 * 60 * 60 * 1000


class PresenceTest(smtest.DaemonTestCase):

    def presence_signals(self):
        return [s for s in self.signals
                if s.name in ('PresenceRefreshNeeded', 'PresenceRefreshed')]

    def update(self, address='bc1qwallet', ttl=TTL, options=None, bus=None):
        return self.call('UpdatePresence', 'sxa{sv}', address, ttl, options or {}, bus=bus)

    def other_connection(self):
        conn = Gio.DBusConnection.new_for_address_sync(
            os.environ['DBUS_SESSION_BUS_ADDRESS'],
            Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
            | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        return conn

    def test_first_tick_at_once_then_every_40_percent(self):
        before = smtest.now_ms()
        self.update(options={'nickname': GLib.Variant('s', 'Alice'),
                             'unknown-key': GLib.Variant('i', 1)})
        after = smtest.now_ms()

        needed = self.wait_for_signal('PresenceRefreshNeeded')
        refreshed = self.wait_for_signal('PresenceRefreshed')
        self.assertEqual(needed.args[0], 'bc1qwallet')
        t0 = needed.args[1]
        self.assertTrue(before <= t0 <= after, (before, t0, after))
        self.assertEqual(refreshed.args, (True, t0 + INTERVAL))
        self.assertLess(self.signals.index(needed), self.signals.index(refreshed))

        presence = self.call('GetPresence')[0]
        self.assertEqual(presence, {
            'wallet-address': 'bc1qwallet',
            'ttl': TTL,
            'refresh-interval': INTERVAL,
            'last-refresh': t0,
            'next-refresh-at': t0 + INTERVAL,
            'owner': self.bus.get_unique_name(),
            'owner-connected': True,
            'nickname': 'Alice',
        })

        # Two more ticks, each counted from the one before, never early, each
        # asking and then reporting.
        previous = t0
        for n in (2, 3):
            needed = self.wait_for_signal('PresenceRefreshNeeded', timeout=INTERVAL / 1000 + 2,
                                          count=n)
            refreshed = self.wait_for_signal('PresenceRefreshed', count=n)
            due = previous + INTERVAL
            self.assertGreaterEqual(needed.received_ms, due - SLACK_EARLY)
            self.assertLessEqual(needed.received_ms, due + LATE)
            self.assertGreaterEqual(needed.args[1], due)
            self.assertEqual(refreshed.args, (True, needed.args[1] + INTERVAL))
            previous = needed.args[1]
        self.assertEqual(len(self.signals_named('PresenceRefreshNeeded')), 3)

    def test_owner_leaves_then_lapse_stops_ticks(self):
        other = self.other_connection()
        owner = other.get_unique_name()
        self.update(bus=other)
        needed = self.wait_for_signal('PresenceRefreshNeeded')
        t0 = needed.args[1]
        self.assertEqual(self.call('GetPresence')[0]['owner'], owner)
        other.close_sync(None)
        self.wait_for(lambda: not self.call('GetPresence')[0]['owner-connected'], 5,
                      'owner-connected stayed true after the owner left')

        # Ticks at +4 s and +8 s fail; the one after the lapse (+10 s) stops.
        first = self.wait_for_signal('PresenceRefreshed', timeout=7, count=2)
        self.assertEqual(first.args[0], False)
        self.assertGreaterEqual(first.received_ms, t0 + INTERVAL - SLACK_EARLY)
        self.assertGreater(first.args[1], t0 + INTERVAL)
        second = self.wait_for_signal('PresenceRefreshed', timeout=7, count=3)
        self.assertEqual(second.args[0], False)
        self.assertGreater(second.args[1], 0)
        last = self.wait_for_signal('PresenceRefreshed', timeout=7, count=4)
        self.assertEqual(last.args, (False, 0))
        self.assertGreaterEqual(last.received_ms, t0 + TTL - SLACK_EARLY)
        # No more asking once the owner is gone.
        self.assertEqual(len(self.signals_named('PresenceRefreshNeeded')), 1)

        presence = self.call('GetPresence')[0]
        self.assertEqual(presence['next-refresh-at'], 0)
        self.assertEqual(presence['last-refresh'], t0)
        self.assertFalse(presence['owner-connected'])

        count = len(self.presence_signals())
        self.pump(INTERVAL / 1000 + 1)
        self.assertEqual(len(self.presence_signals()), count, self.presence_signals())

        # A new UpdatePresence from a new owner resumes.
        self.update(address='bc1qnew')
        needed = self.wait_for_signal('PresenceRefreshNeeded', count=2)
        self.assertEqual(needed.args[0], 'bc1qnew')
        self.assertTrue(self.call('GetPresence')[0]['owner-connected'])

    def test_reconfigure_restarts_the_schedule(self):
        self.update()
        first = self.wait_for_signal('PresenceRefreshNeeded')
        self.pump(1.5)
        self.update(address='bc1qother', ttl=2 * TTL,
                    options={'avatar': GLib.Variant('s', 'https://example/a.png'),
                             'peer-id': GLib.Variant('s', '12D3KooW')})
        needed = self.wait_for_signal('PresenceRefreshNeeded', count=2)
        refreshed = self.wait_for_signal('PresenceRefreshed', count=2)
        self.assertEqual(needed.args[0], 'bc1qother')
        self.assertGreaterEqual(needed.args[1], first.args[1] + 1500)
        self.assertEqual(refreshed.args, (True, needed.args[1] + 2 * INTERVAL))

        presence = self.call('GetPresence')[0]
        self.assertEqual(presence['ttl'], 2 * TTL)
        self.assertEqual(presence['refresh-interval'], 2 * INTERVAL)
        self.assertEqual(presence['avatar'], 'https://example/a.png')
        self.assertEqual(presence['peer-id'], '12D3KooW')
        self.assertNotIn('nickname', presence)

        # The old configuration's tick (first + 4 s) does not happen.
        self.pump((first.args[1] + INTERVAL + 1000 - smtest.now_ms()) / 1000)
        self.assertEqual(len(self.presence_signals()), 4, self.presence_signals())

    def test_stop_presence(self):
        # Not an error when none is configured.
        self.call('StopPresence')
        self.assertEqual(self.call('GetPresence')[0], {})

        self.update()
        self.wait_for_signal('PresenceRefreshed')
        self.call('StopPresence')
        self.assertEqual(self.call('GetPresence')[0], {})
        self.pump(INTERVAL / 1000 + 1)
        self.assertEqual(len(self.presence_signals()), 2, self.presence_signals())
        self.call('StopPresence')

    def test_bad_arguments(self):
        invalid = smtest.ERROR_PREFIX + 'InvalidArgs'
        for ttl in (0, -1, 9999, ONE_WEEK + 1):
            message = self.assertDBusError(invalid, 'UpdatePresence', 'sxa{sv}',
                                           'bc1qwallet', ttl, {}, contains='ttl')
            self.assertIn(str(ttl), message)
        self.assertDBusError(invalid, 'UpdatePresence', 'sxa{sv}', '', TTL, {},
                             contains='wallet_address')
        self.assertDBusError(invalid, 'UpdatePresence', 'sxa{sv}', 'bc1qwallet', TTL,
                             {'nickname': GLib.Variant('u', 1)}, contains='nickname')
        # Nothing was configured by the failed calls.
        self.assertEqual(self.call('GetPresence')[0], {})
        self.assertEqual(self.presence_signals(), [])

        # The bounds themselves are fine.
        for ttl in (TTL, ONE_WEEK):
            self.update(ttl=ttl)
            self.assertEqual(self.call('GetPresence')[0]['ttl'], ttl)


if __name__ == '__main__':
    smtest.main()
