#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs as root inside a booted Debian 12 container (systemd is PID 1), from
# sm-container-test.service. Installs the package from /sm-test and checks
# the system-bus and user-session integration. Writes one line per check to
# /sm-results/results ("PASS name", "FAIL name: why", "INFO key: value"),
# a trace to /sm-results/trace, and "DONE" last; tests/test-container.py
# reads them after the container has powered off.
set -u

results=/sm-results/results
exec 2>/sm-results/trace
set -x
echo STARTED >"$results"

pass () { echo "PASS $1" >>"$results"; }
fail () { echo "FAIL $1: $2" >>"$results"; }
info () { echo "INFO $1: $2" >>"$results"; }
# check NAME COMMAND...: PASS when the command succeeds.
check ()
{
  name=$1
  shift
  if out=$(set +x; "$@" 2>&1); then pass "$name"; else fail "$name" "$(echo "$out" | tr '\n' ' ' | cut -c1-300)"; fi
}
# wait_for SECONDS COMMAND...: polls every 0.2 s until the command succeeds.
wait_for ()
{
  n=$(($1 * 5))
  shift
  while [ "$n" -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
    n=$((n - 1))
  done
  return 1
}
as_user () { user=$1; shift; setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }
ctl_sys () { user=$1; shift; as_user "$user" session-monitorctl --system "$@"; }
main_pid () { systemctl show -P MainPID session-monitor.service; }
finish () { echo DONE >>"$results"; exit 0; }
# t 'SHELL TEXT': runs the text in this shell, where the functions above exist.
t () { eval "$1"; }

# --- the package -----------------------------------------------------------
start=$(date +%s)
if ! dpkg -i /sm-test/session-monitor_*.deb >/sm-results/dpkg.log 2>&1; then
  fail install "dpkg -i failed: $(tail -n 5 /sm-results/dpkg.log | tr '\n' ' ')"
  finish
fi
pass install
check sysusers-user getent passwd session-monitor
check sysusers-group getent group musig2
check unit-disabled t '[ "$(systemctl is-enabled session-monitor.service)" = disabled ]'
check unit-not-started t '! systemctl is-active -q session-monitor.service'

# --- system bus ------------------------------------------------------------
useradd -m -G musig2 alice && useradd -m -G musig2 bob && useradd -m carol

# The first call activates the daemon through systemd (SystemdService=).
check system-activation ctl_sys alice register a1 --expires-in 10m
check system-active systemctl is-active -q session-monitor.service
check system-activated-by-dbus t 'journalctl -u dbus.service -o cat | grep -q "Activating via systemd: service name=.org.musig2.SessionMonitor1. unit=.session-monitor.service."'
pid=$(main_pid)
check system-user t "[ \"\$(stat -c %U /proc/$pid)\" = session-monitor ]"
info system-unit-type "$(systemctl show -P Type session-monitor.service)"
check system-state-dir t "grep -rqs a1 /var/lib/session-monitor/ && [ \"\$(stat -c '%U %a' /var/lib/session-monitor)\" = 'session-monitor 700' ]"
info system-state-files "$(find /var/lib/session-monitor -printf '%p %u %m; ' 2>&1)"

# Two users of the group each see only their own sessions...
check system-bob-register ctl_sys bob register b1 --expires-in 10m
check system-alice-list t 'out=$(ctl_sys alice --json list) && echo "$out" | grep -q "\"a1\"" && ! echo "$out" | grep -q "\"b1\""'
check system-bob-list t 'out=$(ctl_sys bob --json list) && echo "$out" | grep -q "\"b1\"" && ! echo "$out" | grep -q "\"a1\""'
# ... and only their own signals.
ctl_sys alice --json watch >/sm-results/watch-alice 2>/sm-results/watch-alice.err &
watch_alice=$!
ctl_sys bob --json watch >/sm-results/watch-bob 2>/sm-results/watch-bob.err &
watch_bob=$!
wait_for 10 grep -q Watching /sm-results/watch-alice.err
wait_for 10 grep -q Watching /sm-results/watch-bob.err
ctl_sys alice register a-short --expires-in 1s
ctl_sys bob register b-short --expires-in 1s
# Both expire at the same moment: once each has seen its own expiry, the
# other's would have arrived too (half a second of slack).
wait_for 10 t 'grep SessionExpired /sm-results/watch-bob | grep -q "\"b-short\""'
wait_for 10 t 'grep SessionExpired /sm-results/watch-alice | grep -q "\"a-short\""'
sleep 0.5
check system-alice-signals t 'grep SessionExpired /sm-results/watch-alice | grep -q "\"a-short\"" && ! grep -q "\"b-short\"" /sm-results/watch-alice'
check system-bob-signals t 'grep SessionExpired /sm-results/watch-bob | grep -q "\"b-short\"" && ! grep -q "\"a-short\"" /sm-results/watch-bob'
kill "$watch_alice" "$watch_bob"

# A user outside the group is refused by the bus policy (exit code 7).
ctl_sys carol list >/sm-results/carol.out 2>&1
info system-carol-exit "$?"
check system-policy-refuses t 'ctl_sys carol list; [ $? -eq 7 ]'

# systemctl restart keeps the state.
systemctl restart session-monitor.service
check system-restart-new-pid t "[ \"\$(systemctl show -P MainPID session-monitor.service)\" != $pid ]"
check system-restart-keeps-state t 'ctl_sys alice --json list | grep -q "\"a1\""'

# kill -9 of the main PID: systemd restarts it, and what expired while it was
# down is caught up. SIGSTOP first so that the session expires while the
# daemon cannot act, then SIGKILL.
ctl_sys alice register a-down --expires-in 2s
pid=$(main_pid)
restarts=$(systemctl show -P NRestarts session-monitor.service)
caught_up () { journalctl -u session-monitor.service -o cat | grep -c "expired while"; }
caught_up_before=$(caught_up)
kill -STOP "$pid"
sleep 3
kill -KILL "$pid"
wait_for 20 t "p=\$(systemctl show -P MainPID session-monitor.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $pid ] && systemctl is-active -q session-monitor.service"
check system-kill9-restarted t "[ \"\$(systemctl show -P NRestarts session-monitor.service)\" -gt $restarts ]"
check system-kill9-catch-up-log wait_for 10 t '[ "$(caught_up)" -gt "$caught_up_before" ]'
check system-kill9-catch-up-gone t 'out=$(ctl_sys alice --json list) && echo "$out" | grep -q "\"a1\"" && ! echo "$out" | grep -q "\"a-down\""'

# The exposure systemd-analyze reports for the unit as it runs here.
systemd-analyze security --no-pager session-monitor.service >/sm-results/security 2>&1
info system-security "$(grep -o 'Overall exposure level.*' /sm-results/security)"

# Journal priorities: an unusable state file is a warning (priority 4) from
# the daemon itself (GLib's structured journal fields); the catch-up message
# above is a notice (5) and must not pass -p warning.
systemctl stop session-monitor.service
cursor=$(journalctl -u session-monitor.service -n 0 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
find /var/lib/session-monitor -type f -exec sh -c 'printf "not json {" >"$1"' sh {} \;
systemctl start session-monitor.service
daemon_warnings ()
{
  journalctl -u session-monitor.service --after-cursor="$cursor" -p warning -o json
}
wait_for 10 t 'daemon_warnings | grep -q GLIB_DOMAIN'
daemon_warnings >/sm-results/journal-warning.json
journalctl -u session-monitor.service -p warning -o cat >/sm-results/journal-warning
journalctl -u session-monitor.service -o json >/sm-results/journal.json
check journal-warning-shown grep -q GLIB_DOMAIN /sm-results/journal-warning.json
check journal-priority-4 t 'grep GLIB_DOMAIN /sm-results/journal-warning.json | grep -q "\"PRIORITY\":\"4\""'
check journal-notice-filtered t '! grep -q "expired while" /sm-results/journal-warning'
check journal-priority-5 t 'grep "expired while" /sm-results/journal.json | grep -q "\"PRIORITY\":\"5\""'

# --- user session ----------------------------------------------------------
useradd -m dave
uid=$(id -u dave)
loginctl enable-linger dave
check user-manager wait_for 30 test -S "/run/user/$uid/bus"
as_dave ()
{
  setpriv --reuid=dave --regid=dave --init-groups env HOME=/home/dave \
    XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}
check user-not-running t '! as_dave systemctl --user is-active -q session-monitor.service'
check user-activation as_dave session-monitorctl register d1 --expires-in 10m
check user-active as_dave systemctl --user is-active -q session-monitor.service
as_dave systemctl --user status --no-pager session-monitor.service >/sm-results/user-status 2>&1
check user-type-dbus t '[ "$(as_dave systemctl --user show -P Type session-monitor.service)" = dbus ]'
check user-list t 'as_dave session-monitorctl --json list | grep -q "\"d1\""'
as_dave session-monitorctl --json watch >/sm-results/watch-dave 2>/sm-results/watch-dave.err &
watch_dave=$!
wait_for 10 grep -q Watching /sm-results/watch-dave.err
as_dave session-monitorctl register d-short --expires-in 1s
check user-watch wait_for 10 t 'grep SessionExpired /sm-results/watch-dave | grep -q "\"d-short\""'
kill "$watch_dave"
as_dave systemctl --user stop session-monitor.service
check user-stopped t '! as_dave systemctl --user is-active -q session-monitor.service'
check user-reactivation-keeps-state t 'as_dave session-monitorctl --json list | grep -q "\"d1\""'
check user-reactivated as_dave systemctl --user is-active -q session-monitor.service

# --- purge -----------------------------------------------------------------
dpkg --purge session-monitor >/sm-results/purge.log 2>&1
check purge-ok grep -q 'Purging configuration files for session-monitor' /sm-results/purge.log
check purge-removes-state t '! test -e /var/lib/session-monitor'
check purge-keeps-user getent passwd session-monitor
check purge-stops-unit t '! systemctl is-active -q session-monitor.service'

info in-container-seconds "$(($(date +%s) - start))"
finish
