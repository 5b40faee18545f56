#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a command under valgrind memcheck, failing (exit 1) on any memory
# error or definite leak. Used as the 'valgrind' test setup's exe_wrapper and
# as SM_DAEMON_WRAPPER for the daemon the integration tests start.
# The Python interpreter of the integration tests is not the code under test:
# it runs unwrapped and wraps the daemon itself.
case "$(basename "$1")" in
  python3*) exec "$@" ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
exec valgrind --tool=memcheck --quiet \
  --error-exitcode=1 \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=30 \
  --suppressions=/usr/share/glib-2.0/valgrind/glib.supp \
  --suppressions="$here/session-monitor.supp" \
  "$@"
