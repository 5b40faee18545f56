#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A notification server that hangs: it owns org.freedesktop.Notifications
and answers GetCapabilities and GetServerInformation, but never replies to
Notify or CloseNotification (a frozen shell, a stopped dunst). It counts
what it was sent on org.example.HungNotify.Counts (Notify, CloseNotification),
so a test can check that the daemon's calls do not pile up.

Run as `python3 hungnotify.py [--notify MODE] [--close MODE]` with
DBUS_SESSION_BUS_ADDRESS set; MODE is `hang` (the default), `answer`, or for
--notify `fail-first` (an error for the first Notify, answers after).
"""

import argparse
import os

from gi.repository import Gio, GLib

NAME = 'org.freedesktop.Notifications'
PATH = '/org/freedesktop/Notifications'
XML = '''
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
  </interface>
  <interface name="org.example.HungNotify">
    <method name="Counts">
      <arg type="u" direction="out"/><arg type="u" direction="out"/>
    </method>
  </interface>
</node>
'''


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--notify', choices=['hang', 'answer', 'fail-first'], default='hang')
    parser.add_argument('--close', choices=['hang', 'answer'], default='hang')
    args = parser.parse_args()
    last_id = [0]
    held = []  # the invocations never answered: kept, as a hung server would
    counts = {'Notify': 0, 'CloseNotification': 0}

    def on_call(conn, sender, path, iface, method, params, invocation):
        if method == 'GetCapabilities':
            invocation.return_value(GLib.Variant('(as)', (['body', 'actions', 'body-markup'],)))
        elif method == 'GetServerInformation':
            invocation.return_value(GLib.Variant('(ssss)', ('hung', 'test', '0', '1.2')))
        elif method == 'Counts':
            invocation.return_value(GLib.Variant(
                '(uu)', (counts['Notify'], counts['CloseNotification'])))
        elif method == 'Notify':
            counts[method] += 1
            if args.notify == 'fail-first' and counts[method] == 1:
                invocation.return_dbus_error('org.freedesktop.DBus.Error.Failed', 'refused')
            elif args.notify == 'hang':
                held.append(invocation)
            else:
                last_id[0] += 1
                invocation.return_value(GLib.Variant('(u)', (params[1] or last_id[0],)))
        else:
            counts[method] += 1
            if args.close == 'hang':
                held.append(invocation)
            else:
                invocation.return_value(None)

    conn = Gio.DBusConnection.new_for_address_sync(
        os.environ['DBUS_SESSION_BUS_ADDRESS'],
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
        | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
    node = Gio.DBusNodeInfo.new_for_xml(XML)
    for iface in node.interfaces:
        conn.register_object(PATH, iface, on_call, None, None)
    conn.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus',
                   'RequestName', GLib.Variant('(su)', (NAME, 4)), None,
                   Gio.DBusCallFlags.NONE, -1, None)
    GLib.MainLoop().run()


if __name__ == '__main__':
    main()
