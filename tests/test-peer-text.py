#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Peer-supplied text (from-nickname, amount, purpose, strings in metadata)
is never a reason to refuse a call: it is stored and returned as the wallet
sent it, across a restart too, and sanitized only in the notification
(a line break or tab becomes one space, other control characters and the
bidi overrides/isolates are removed). Ids, reasons, app-id and url stay
strict."""

from gi.repository import GLib

import notifytest
import smtest
from smtest import ERROR_PREFIX, now_ms

INVALID = ERROR_PREFIX + 'InvalidArgs'
PEER_KEYS = ('from-nickname', 'amount', 'purpose')
# name → (character, what it becomes in a notification)
CHARS = {
    'newline': ('\n', ' '),
    'tab': ('\t', ' '),
    'ESC': ('\x1b', ''),
    'BEL': ('\x07', ''),
    'U+202E': ('\u202e', ''),
    'U+2066': ('\u2066', ''),
}


class TestPeerTextStored(smtest.DaemonTestCase):
    daemon_args = ['--no-notifications']

    def requests(self):
        return {r['request-id']: r for r in self.call('GetSigningRequests')[0]}

    def test_accepted_and_returned_raw(self):
        t = now_ms() + 600000
        sent = {}
        for name, (c, _) in CHARS.items():
            for key in PEER_KEYS:
                rid = '%s-%s' % (key, name)
                sent[rid] = (key, 'A%sB %s' % (c, c))
                self.call('RegisterSigningRequest', 'sssxa{sv}', rid, 's1', 'p1', t,
                          {key: GLib.Variant('s', sent[rid][1])})
        # The example, all fields at once, an empty nickname and text
        # longer than the old 4 KiB cap.
        everything = {'from-nickname': '', 'amount': '1\x7f\u0085 BTC',
                      'purpose': 'Rent\nfor March\r\n' + 'p' * 5000}
        self.call('RegisterSigningRequest', 'sssxa{sv}', 'all', 's1', 'p1', t,
                  {k: GLib.Variant('s', v) for k, v in everything.items()})

        def check():
            got = self.requests()
            self.assertEqual(len(got), len(sent) + 1)
            for rid, (key, value) in sent.items():
                self.assertEqual(got[rid][key], value, rid)
            for key, value in everything.items():
                self.assertEqual(got['all'][key], value, key)
        check()
        # Stored as given: the restarted daemon returns the same raw text.
        self.stop_daemon()
        self.start_daemon()
        check()

    def test_metadata_strings_never_refused(self):
        text = 'note\n\t\x1b[31m\x07\u202e\u2066\x7f\u0085'
        metadata = {'note': GLib.Variant('s', text),
                    'nested': GLib.Variant('a{sv}', {'deep': GLib.Variant('s', text)}),
                    'list': GLib.Variant('as', [text, ''])}
        self.register_session('s1', now_ms() + 600000,
                              {'metadata': GLib.Variant('a{sv}', metadata)})
        meta = self.get_sessions()['s1']['metadata']
        self.assertEqual(meta, {'note': text, 'nested': {'deep': text}, 'list': [text, '']})

    def test_ids_reasons_app_id_url_stay_strict(self):
        t = now_ms() + 60000
        cases = [
            (('r\x01', 's', 'p', t, {}), 'request_id'),
            (('r', 's\n', 'p', t, {}), 'session_id'),
            (('r', 's', 'p\x1b', t, {}), 'from_peer_id'),
            (('r', 's', 'p', t, {'app-id': GLib.Variant('s', 'org.x\nW')}), 'app-id'),
            (('r', 's', 'p', t, {'url': GLib.Variant('s', 'w://x\x07')}), 'url'),
            (('r', 's', 'p', t, {'purpose': GLib.Variant('u', 1)}), 'purpose'),
        ]
        for args, needle in cases:
            self.assertDBusError(INVALID, 'RegisterSigningRequest', 'sssxa{sv}', *args,
                                 contains=needle)
        self.assertEqual(self.requests(), {})
        self.register_session('s1', t)
        self.assertDBusError(INVALID, 'UnregisterSession', 'ss', 's1', 'done\n',
                             contains='reason')
        self.assertDBusError(INVALID, 'RegisterSession', 'sxa{sv}', 's2', t,
                             {'session-type': GLib.Variant('s', 'a\tb')}, contains='session-type')


class PeerTextNotified:
    """Each character in each of the three fields at once, one request at a
    time: the notification shows the text sanitized, the three lines of the
    body intact."""

    def escape(self, text):
        return text

    def test_shown_sanitized(self):
        for name, (c, shown) in CHARS.items():
            rid = 'r-' + name
            self.register_request(rid, now_ms() + 600000, {
                'from-nickname': GLib.Variant('s', 'Al%sice <&>' % c),
                'amount': GLib.Variant('s', '0.5%sBTC' % c),
                'purpose': GLib.Variant('s', 'Rent%sfor March%s' % (c, c)),
            })
            n = self.wait_for_notification(
                lambda n: n.summary == 'Signing Request' and n.id not in self.closed_ids())
            self.assertEqual(n.body.split('\n'), [
                self.escape('Al%sice <&>' % shown) + ' is requesting your signature',
                'Amount: 0.5%sBTC' % shown,
                'Purpose: Rent%sfor March' % shown], name)
            self.assertEqual(self.call('GetSigningRequests')[0][0]['purpose'],
                             'Rent%sfor March%s' % (c, c), 'returned raw')
            self.call('UnregisterSigningRequest', 'ss', rid, 'accepted')
            self.wait_for_close(n.id)


class TestPeerTextMarkupServer(PeerTextNotified, notifytest.NotifyTestCase):
    def escape(self, text):
        return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


class TestPeerTextPlainServer(PeerTextNotified, notifytest.NotifyTestCase):
    capabilities = ['body', 'actions']


if __name__ == '__main__':
    smtest.main()
