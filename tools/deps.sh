#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs, on Debian 12, exactly what building session-monitor and running
# its whole test suite need, skipping what is already there. Run it as root,
# or source it from tools/run-daemon and tools/run-tests.

SM_DEB_PACKAGES=(
  # build
  meson ninja-build pkg-config gcc libc6-dev gettext
  libglib2.0-dev libglib2.0-dev-bin libjson-glib-dev
  # integration tests: private bus, python harness, mock notification server
  dbus dbus-daemon python3 python3-gi python3-dbusmock
  # valgrind setup, sanitizers and fuzzing, lint checks
  valgrind clang libclang-rt-14-dev clang-format libxml2-utils desktop-file-utils
  # unit checks (systemd-analyze; `--user verify` of the user unit needs the
  # user-level dbus.socket, which only dbus-user-session ships), a real
  # notification server for end-to-end
  systemd dbus-user-session dunst xvfb xauth
  # README's examples: busctl (systemd) and `session-monitorctl watch --json | jq .`
  jq
  # the Debian package and its test under systemd in a container
  debhelper dpkg-dev fakeroot lintian debootstrap systemd-container
  # examples/js (test-examples runs `npm install dbus-next` into the build
  # directory) and the real-browser test of the bridge (test-bridge-chromium)
  nodejs chromium
)
# A nodejs from NodeSource ships npm itself and conflicts with Debian's npm.
command -v npm >/dev/null 2>&1 || SM_DEB_PACKAGES+=(npm)

sm_install_deps ()
{
  local missing=() pkg

  for pkg in "${SM_DEB_PACKAGES[@]}"; do
    if ! dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}; run this as root" >&2
    return 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Executed (not sourced): install now.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  sm_install_deps
fi
