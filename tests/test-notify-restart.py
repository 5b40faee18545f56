#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Notification ids are durable state: after kill -9 the restarted daemon
takes its session notification over (replaces_id = old id, still
clickable), closes its request notification and posts it anew, closes
leftovers, and sums up what expired while it was down in ONE notice."""

import base64
import json
import os
import signal
import time

from gi.repository import GLib

import notifytest
import smtest
from notifytest import NOTIFY_IFACE
from smtest import now_ms

MINUTE = 60000


class TestNotifyRestart(notifytest.NotifyTestCase):

    def state_dir(self):
        return os.path.join(self.state_home, 'session-monitor')

    @staticmethod
    def parse_entry(text):
        if text.startswith('base64:'):
            data = base64.b64decode(text[len('base64:'):])
            return GLib.Variant.new_from_bytes(GLib.VariantType('a{sv}'), GLib.Bytes(data),
                                               False).unpack()
        return GLib.Variant.parse(GLib.VariantType('a{sv}'), text, None, None).unpack()

    def saved_notifications(self):
        """What the state (snapshot, then the journal over it) holds of the
        notifications on screen: key → fields."""
        saved = {}
        try:
            with open(os.path.join(self.state_dir(), 'state.json'), encoding='utf-8') as f:
                entry = json.load(f).get('notifications')
            saved = self.parse_entry(entry) if entry else {}
        except FileNotFoundError:
            pass
        try:
            with open(os.path.join(self.state_dir(), 'state.journal'), encoding='utf-8') as f:
                for line in f:
                    # "<crc32c> <length> <json>" (older daemons: the JSON alone)
                    change = json.loads(line if line.startswith('{') else line.split(' ', 2)[2])
                    if change['section'] == 'notifications':
                        saved = self.parse_entry(change['entry']) if change['entry'] else {}
        except FileNotFoundError:
            pass
        return saved

    def wait_saved(self, **ids):
        """The ids are written after the server answered: wait for them
        before kill -9, as a client would wait for a reply."""
        def saved():
            have = self.saved_notifications()
            return all(have.get(k, {}).get('id') == v for k, v in ids.items())
        self.wait_for(saved, 5, 'ids %r not saved: %r' % (ids, self.saved_notifications()))

    def kill_and_restart(self, pause=0.0):
        self.stop_daemon(signal.SIGKILL)
        time.sleep(pause)
        self.signals.clear()
        self.n_calls_before = len(self.calls())
        self.start_daemon()

    def calls_since_restart(self):
        return self.calls()[self.n_calls_before:]

    def test_session_taken_over_request_posted_anew(self):
        # A warning at once (threshold passed, within warn-before-minutes).
        self.register_session('sess-a', now_ms() + 4 * MINUTE, {
            'warn-thresholds': GLib.Variant('ax', [5 * MINUTE]),
            'url': GLib.Variant('s', 'wallet://session/a')})
        warning = self.wait_for_notification(lambda n: n.summary == 'Session Expiring Soon')
        self.register_request('r1', now_ms() + 10 * MINUTE,
                              {'from-nickname': GLib.Variant('s', 'Alice')})
        request = self.wait_for_notification(lambda n: n.summary == 'Signing Request')
        self.wait_saved(**{'session:sess-a': warning.id, 'request:r1': request.id})

        self.kill_and_restart()

        taken = self.wait_for_notification(
            lambda n: n.replaces_id == warning.id, timeout=10)
        self.assertEqual(taken.id, warning.id)
        self.assertEqual(taken.summary, 'Session Expiring Soon')
        self.assertEqual(taken.body, warning.body, 'taken over with what it showed')
        self.wait_for_close(request.id)
        anew = self.wait_for_notification(
            lambda n: n.summary == 'Signing Request' and n.id != request.id)
        self.assertEqual(anew.replaces_id, 0, 'a request is never updated in place')
        self.assertEqual(anew.body, 'Alice is requesting your signature')
        self.assertEqual(set(anew.actions), {'default', 'view', 'dismiss'})
        # The old request is closed before the new one is posted, so the
        # server never holds more than three (on_screen asserts it).
        since = self.calls_since_restart()
        self.assertLess(since.index(('close', request.id)),
                        [i for i, c in enumerate(since) if c[0] == 'notify'
                         and c[1].id == anew.id][0])
        self.on_screen()
        self.assertNotIn(warning.id, self.closed_ids())

        # Still clickable: the click on the old id reaches the new daemon.
        self.server_emit('ActionInvoked', 'us', [warning.id, 'default'])
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args[0], 'default')
        self.assertEqual(sig.args[1], {'session-id': 'sess-a', 'url': 'wallet://session/a'})
        self.wait_for_close(warning.id)

        # The new request's id was saved in turn; the clicked one is gone.
        self.wait_saved(**{'request:r1': anew.id})
        self.assertNotIn('session:sess-a', self.saved_notifications())

    def test_countdown_computed_when_shown(self):
        # Warned at 61.5 s left: "2 minutes". Taken over after a restart with
        # under 60 s left, the notification says what is left then, never
        # the minutes frozen when the warning fired.
        expires = now_ms() + MINUTE + 1500
        self.register_session('sess-c', expires, {
            'warn-thresholds': GLib.Variant('ax', [2 * MINUTE])})
        warning = self.wait_for_notification(lambda n: n.summary == 'Session Expiring Soon')
        self.assertEqual(warning.body, 'Signing session expires in 2 minutes')
        # The first daemon's warning is seen here, not after the clear below.
        self.wait_for_signal('SessionExpiring')
        self.wait_saved(**{'session:sess-c': warning.id})
        self.stop_daemon(signal.SIGKILL)
        time.sleep(max(0, expires - MINUTE + 200 - now_ms()) / 1000)
        self.signals.clear()
        self.n_calls_before = len(self.calls())
        self.start_daemon()
        taken = self.wait_for_notification(lambda n: n.replaces_id == warning.id, timeout=10)
        self.assertLess(expires - now_ms(), MINUTE)
        self.assertEqual(taken.body, 'Signing session expires in 1 minute')
        self.assertEqual(taken.urgency, 2, 'critical at 2 minutes or less')
        self.assertEqual(self.signals_named('SessionExpiring'), [], 'no second warning')

    def test_countdown_after_server_restart(self):
        # The same when the notification server restarts: the warning posted
        # anew on the new server tells the time left then.
        expires = now_ms() + MINUTE + 1500
        self.register_session('sess-d', expires, {
            'warn-thresholds': GLib.Variant('ax', [2 * MINUTE])})
        warning = self.wait_for_notification(lambda n: n.summary == 'Session Expiring Soon')
        self.assertEqual(warning.body, 'Signing session expires in 2 minutes')
        self.stop_notification_server()
        time.sleep(max(0, expires - MINUTE + 200 - now_ms()) / 1000)
        self.start_notification_server()
        anew = self.wait_for_notification(lambda n: n.summary == 'Session Expiring Soon',
                                          timeout=10)
        self.assertLess(expires - now_ms(), MINUTE)
        self.assertEqual(anew.body, 'Signing session expires in 1 minute')
        self.assertEqual(anew.urgency, 2)

    def test_leftovers_are_closed(self):
        # The state names a notification of a session that is gone (as a
        # crash between two writes can leave it): it is closed, not left up
        # with dead buttons; the live session's one is taken over.
        self.register_session('sess-b', now_ms() + 4 * MINUTE, {
            'warn-thresholds': GLib.Variant('ax', [5 * MINUTE])})
        warning = self.wait_for_notification()
        self.wait_saved(**{'session:sess-b': warning.id})
        self.stop_daemon(signal.SIGKILL)
        ghost = warning.id + 100
        types = {'id': 'u', 'minutes': 'u', 'expired': 'b', 'text': 's'}
        saved = {k: GLib.Variant('a{sv}', {f: GLib.Variant(types[f], x) for f, x in v.items()})
                 for k, v in self.saved_notifications().items()}
        saved['session:ghost'] = GLib.Variant('a{sv}', {'id': GLib.Variant('u', ghost)})
        with open(os.path.join(self.state_dir(), 'state.journal'), 'a', encoding='utf-8') as f:
            f.write(json.dumps({'section': 'notifications', 'id': '',
                                'entry': GLib.Variant('a{sv}', saved).print_(True)}) + '\n')
        self.signals.clear()
        self.n_calls_before = len(self.calls())
        self.start_daemon()
        self.wait_for_close(ghost, timeout=10)
        taken = self.wait_for_notification(lambda n: n.replaces_id == warning.id)
        self.assertEqual(taken.id, warning.id)
        self.assertNotIn(warning.id, self.closed_ids())
        self.wait_saved(**{'session:sess-b': warning.id})
        self.assertNotIn('session:ghost', self.saved_notifications())

    def test_expired_while_down_is_one_notice(self):
        due = now_ms() + 2500
        for sid in ('x1', 'x2'):
            self.register_session(sid, due, {
                'warn-thresholds': GLib.Variant('ax', [2000])})
        self.wait_for_notification(lambda n: n.summary == 'Session Expiring Soon', count=2)
        warnings = [n.id for n in self.notifications()]
        self.wait_saved(**{'session:x1': warnings[0], 'session:x2': warnings[1]})
        self.stop_daemon(signal.SIGKILL)
        time.sleep(max(0, due - now_ms()) / 1000 + 0.2)
        self.signals.clear()
        self.n_calls_before = len(self.calls())
        self.start_daemon()

        notice = self.wait_for_notification(lambda n: n.summary == 'Session Monitor', timeout=10)
        self.assertEqual(notice.body, '2 signing sessions expired while the monitor was not running')
        self.wait_for_signal('SessionExpired', count=2)
        self.assertEqual(sorted(s.args[0] for s in self.signals_named('SessionExpired')),
                         ['x1', 'x2'])
        for id_ in warnings:
            self.wait_for_close(id_)
        self.pump(1.0)
        posted = [c[1] for c in self.calls_since_restart() if c[0] == 'notify']
        self.assertEqual([n.id for n in posted], [notice.id],
                         'one notice, no per-session expiry notices: %r' % posted)
        self.assertIn('expired while the monitor was not running', self.read_log())


if __name__ == '__main__':
    smtest.main()
