#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desktop notifications against a mock org.freedesktop.Notifications:
texts, urgency, timeouts, replacing in place, withdrawal, clicks."""

import html
import dbus
from gi.repository import GLib

import notifytest
import smtest
from notifytest import DESKTOP_ID, NOTIFY_IFACE, NOTIFY_PATH
from smtest import now_ms

URGENCY_NORMAL = 1
URGENCY_CRITICAL = 2


class TestRequestNotification(notifytest.NotifyTestCase):
    def test_request_shows_who_how_much_and_why(self):
        self.register_request('r1', now_ms() + 60000, {
            'from-nickname': GLib.Variant('s', 'Alice'),
            'amount': GLib.Variant('s', '0.5 BTC'),
            'purpose': GLib.Variant('s', 'Rent for May'),
        })
        n = self.wait_for_notification()
        self.assertEqual(n.summary, 'Signing Request')
        self.assertEqual(n.body.split('\n'), [
            'Alice is requesting your signature', 'Amount: 0.5 BTC', 'Purpose: Rent for May'])
        self.assertEqual(n.actions, {'default': 'View', 'view': 'View', 'dismiss': 'Dismiss'})
        self.assertEqual(n.urgency, URGENCY_CRITICAL)
        self.assertEqual(n.timeout, 0, 'a request never times out')
        self.assertEqual(n.replaces_id, 0)
        self.assertEqual(n.hints['desktop-entry'], DESKTOP_ID)
        self.assertFalse(n.hints['resident'])
        self.assertEqual(n.app_name, 'session-monitor')

    def test_request_without_nickname(self):
        self.register_request('r1', now_ms() + 60000)
        n = self.wait_for_notification()
        self.assertEqual(n.body, 'New signing request received')

    def test_unregister_withdraws(self):
        for reason in ('accepted', 'rejected', 'cancelled', ''):
            rid = 'r-' + (reason or 'empty')
            self.register_request(rid, now_ms() + 60000)
            n = self.wait_for_notification(lambda n, rid=rid: n.id not in self.closed_ids())
            self.call('UnregisterSigningRequest', 'ss', rid, reason)
            self.wait_for_close(n.id)

    def test_expiry_withdraws(self):
        due = now_ms() + 1500
        self.register_request('r1', due)
        n = self.wait_for_notification()
        sig = self.wait_for_signal('SigningRequestExpired', timeout=3)
        self.assertEqual(sig.args, ('r1', 's1'))
        self.assertGreaterEqual(sig.received_ms, due - 5)
        self.wait_for_close(n.id)

    def test_reregister_posts_anew(self):
        self.register_request('r1', now_ms() + 60000,
                              {'from-nickname': GLib.Variant('s', 'Alice')})
        first = self.wait_for_notification()
        self.register_request('r1', now_ms() + 60000,
                              {'from-nickname': GLib.Variant('s', 'Bob')})
        second = self.wait_for_notification(lambda n: 'Bob' in n.body)
        self.assertIn(first.id, self.closed_ids())
        self.assertEqual(second.replaces_id, 0, 'a request is never updated in place')
        self.assertNotEqual(second.id, first.id)


class TestClicks(notifytest.NotifyTestCase):
    def setUp(self):
        super().setUp()
        self.register_request('r1', now_ms() + 60000, {
            'url': GLib.Variant('s', 'wallet://sign/r1')}, session_id='sess-9')
        self.note = self.wait_for_notification()

    def test_view_round_trip_and_close_is_not_dismiss(self):
        # The same signal broadcast from another connection is not our click.
        self.bus.emit_signal(None, NOTIFY_PATH, NOTIFY_IFACE, 'ActionInvoked',
                             GLib.Variant('(us)', (self.note.id, 'view')))
        self.pump(0.5)
        self.assertEqual(self.signals_named('ActionInvoked'), [])

        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(self.note.id), 'view'])
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args, ('view', {
            'request-id': 'r1', 'session-id': 'sess-9', 'url': 'wallet://sign/r1'}))
        self.wait_for_close(self.note.id)
        # The server tidies up after the click: not a dismiss.
        self.server_emit('NotificationClosed', 'uu', [dbus.UInt32(self.note.id), dbus.UInt32(2)])
        self.pump(0.5)
        self.assertEqual([s.args[0] for s in self.signals_named('ActionInvoked')], ['view'])

    def test_default_action(self):
        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(self.note.id), 'default'])
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args[0], 'default')
        self.assertEqual(sig.args[1]['request-id'], 'r1')

    def test_other_id_is_ignored(self):
        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(self.note.id + 100), 'view'])
        self.pump(0.5)
        self.assertEqual(self.signals_named('ActionInvoked'), [])

    def test_dismiss_closes(self):
        self.server_emit('ActionInvoked', 'us', [dbus.UInt32(self.note.id), 'dismiss'])
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args[0], 'dismiss')
        self.wait_for_close(self.note.id)

    def test_user_close_is_dismiss(self):
        self.server_emit('NotificationClosed', 'uu', [dbus.UInt32(self.note.id), dbus.UInt32(2)])
        sig = self.wait_for_signal('ActionInvoked')
        self.assertEqual(sig.args, ('dismiss', {
            'request-id': 'r1', 'session-id': 'sess-9', 'url': 'wallet://sign/r1'}))


class TestSessionNotification(notifytest.NotifyTestCase):
    def test_warnings_replace_in_place_then_expiry(self):
        expires = now_ms() + 2500
        self.register_session('s1', expires, {
            'warn-thresholds': GLib.Variant('ax', [2000, 1000])})
        first = self.wait_for_notification()
        self.assertEqual(first.summary, 'Session Expiring Soon')
        self.assertEqual(first.body, 'Signing session expires in 1 minute')
        self.assertEqual(first.urgency, URGENCY_CRITICAL)
        self.assertEqual(first.timeout, 0)
        self.assertEqual(first.hints['desktop-entry'], DESKTOP_ID)
        self.assertIn('default', first.actions)
        self.assertEqual(first.replaces_id, 0)

        expired = self.wait_for_notification(lambda n: n.summary == 'Session Expired', timeout=4)
        self.assertEqual(expired.body, 'A signing session has expired')
        self.assertEqual(expired.urgency, URGENCY_NORMAL)
        notes = self.notifications()
        self.assertEqual(len(notes), 3, notes)
        self.assertEqual([n.replaces_id for n in notes[1:]], [first.id, first.id])
        self.assertEqual(self.closed_ids(), [])

    def test_normal_urgency_and_plural(self):
        self.register_session('s1', now_ms() + 180500 + 500, {
            'warn-thresholds': GLib.Variant('ax', [180500])})
        n = self.wait_for_notification()
        self.assertEqual(n.body, 'Signing session expires in 4 minutes')
        self.assertEqual(n.urgency, URGENCY_NORMAL)
        self.assertEqual(n.timeout, -1)

    def test_warn_before_minutes_gates_the_desktop_only(self):
        self.register_session('s1', now_ms() + 180500 + 300, {
            'warn-thresholds': GLib.Variant('ax', [180500]),
            'warn-before-minutes': GLib.Variant('u', 2)})
        self.wait_for_signal('SessionExpiring')
        self.pump(0.5)
        self.assertEqual(self.notifications(), [])

    def test_unregister_withdraws(self):
        self.register_session('s1', now_ms() + 60000, {
            'warn-thresholds': GLib.Variant('ax', [59800])})
        n = self.wait_for_notification()
        self.call('UnregisterSession', 'ss', 's1', 'completed')
        self.wait_for_close(n.id)


class TestRoomOnScreen(notifytest.NotifyTestCase):
    def test_never_more_than_three(self):
        base = now_ms() + 60000
        # Registered latest first: the layout must still order by deadline.
        for i in reversed(range(5)):
            self.register_request('r%d' % i, base + i * 1000,
                                  {'from-nickname': GLib.Variant('s', 'peer%d' % i)})
        self.register_session('s1', now_ms() + 60000, {
            'warn-thresholds': GLib.Variant('ax', [59800])})

        def settled():
            screen = self.on_screen()
            return (len(screen) == 3 and any(
                n.body == '3 more signing requests and 1 session need attention'
                for n in screen.values()))
        self.wait_for(settled, 5, 'no summary (calls %r)' % self.calls())
        screen = self.on_screen()
        bodies = sorted(n.body for n in screen.values())
        self.assertEqual(bodies, [
            '3 more signing requests and 1 session need attention',
            'peer0 is requesting your signature',
            'peer1 is requesting your signature'])
        summary = [n for n in screen.values() if n.summary == 'Session Monitor'][0]
        self.assertEqual(summary.hints['desktop-entry'], DESKTOP_ID)

        # Room frees up: the next request comes up, the summary is updated in place.
        self.call('UnregisterSigningRequest', 'ss', 'r0', 'accepted')

        def moved():
            s = self.on_screen()
            return ('peer2 is requesting your signature' in [n.body for n in s.values()]
                    and any(n.body == '2 more signing requests and 1 session need attention'
                            for n in s.values()))
        self.wait_for(moved, 5, 'no re-layout (calls %r)' % self.calls())
        latest = [n for n in self.notifications() if n.summary == 'Session Monitor']
        self.assertEqual(latest[-1].replaces_id, summary.id)
        self.assertEqual(len(self.on_screen()), 3)

        # Down to three: no summary any more.
        self.call('UnregisterSigningRequest', 'ss', 'r1', 'accepted')
        self.call('UnregisterSigningRequest', 'ss', 'r2', 'accepted')
        self.wait_for(lambda: summary.id in self.closed_ids(), 5, 'summary not closed')
        self.wait_for(lambda: len(self.on_screen()) == 3, 5, 'not 3 on screen')
        self.assertEqual(sorted(n.summary for n in self.on_screen().values()),
                         ['Session Expiring Soon', 'Signing Request', 'Signing Request'])


class TestHostile(notifytest.NotifyTestCase):
    def test_markup_links_bidi_length(self):
        # Sanitized for display only (test-sanitize covers more; control
        # characters: test-peer-text).
        nickname = ('<b>Bank</b> & <a href="https://evil.example/x">x</a>'
                    '\u202eRLO\u2066iso\u200b www.evil.example ' + 'A' * 4000)
        self.register_request('r1', now_ms() + 60000, {
            'from-nickname': GLib.Variant('s', nickname),
            'amount': GLib.Variant('s', '1 BTC' + ' ' * 300 + 'Amount: 100 BTC'),
            'purpose': GLib.Variant('s', 'see HTTPS://pay.evil.example/now or www.evil.example ' + 'p' * 4000)})
        n = self.wait_for_notification()
        body = n.body
        for bad in ('<b>', '<a', 'https://', 'HTTPS://', 'evil.example', '\u202e', '\u2066',
                    '\u200b', 'www.evil', '100 BTC'):
            self.assertNotIn(bad, body)
        self.assertIn('&lt;b&gt;Bank&lt;/b&gt; &amp;', body)
        self.assertIn('evil[.]example', body)
        self.assertIn('hxxps[://]', body)
        self.assertIn('HXXPS[://]', body)
        lines = body.split('\n')
        self.assertEqual(len(lines), 3, lines)
        nick = lines[0][:-len(' is requesting your signature')]
        self.assertTrue(nick.endswith('…'), nick)
        self.assertEqual(len(html.unescape(nick)), 64, 'capped at 64 characters')
        self.assertTrue(lines[1].endswith('…'), lines[1])
        self.assertEqual(len(lines[2]) - len('Purpose: '), 200)
        self.assertTrue(lines[2].endswith('p…'), lines[2])


class TestPlainTextServer(notifytest.NotifyTestCase):
    capabilities = ['body', 'actions']

    def test_no_escapes_without_body_markup(self):
        self.register_request('r1', now_ms() + 60000, {
            'from-nickname': GLib.Variant('s', "O'Brien & Sons <Ltd>")})
        n = self.wait_for_notification()
        self.assertEqual(n.body, "O'Brien & Sons <Ltd> is requesting your signature")


class TestMarkupPunctuation(notifytest.NotifyTestCase):
    def test_punctuation_reads_verbatim_once_unescaped(self):
        self.register_request('r1', now_ms() + 60000, {
            'from-nickname': GLib.Variant('s', "O'Brien & Sons <Ltd>"),
            'amount': GLib.Variant('s', '1.5 BTC')})
        n = self.wait_for_notification()
        self.assertEqual(n.body.split('\n')[0],
                         'O&apos;Brien &amp; Sons &lt;Ltd&gt; is requesting your signature')
        self.assertEqual(n.body.split('\n')[1], 'Amount: 1.5 BTC')


if __name__ == '__main__':
    smtest.main()
