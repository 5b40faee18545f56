#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
// An Electron-style wallet's use of session-monitor from JavaScript, with
// the dbus-next package from npm (`npm install` here). In Electron run it in
// the main process; the renderer talks to it over IPC.
//
//   session-monitor-client.js watch ID SECONDS [KEEP_ID]
//       register session ID expiring in SECONDS (warning 2 s before) and
//       KEEP_ID an hour away; print each signal as a JSON line until ID expired
//   session-monitor-client.js list
//       print the monitored sessions as JSON (state recovery after a restart)
'use strict';

const dbus = require('dbus-next');
const { Variant } = dbus;

const BUS_NAME = 'org.musig2.SessionMonitor1';
const OBJECT_PATH = '/org/musig2/SessionMonitor1';
const INTERFACE = 'org.musig2.SessionMonitor1';

// D-Bus int64 and uint32 values arrive as BigInt / number; JSON needs numbers.
function plain(value) {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Variant) return plain(value.value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

async function connect() {
  const bus = dbus.sessionBus();
  const object = await bus.getProxyObject(BUS_NAME, OBJECT_PATH);
  return { bus, monitor: object.getInterface(INTERFACE) };
}

async function registerSession(monitor, sessionId, expiresAt, thresholdsMs) {
  const options = { 'session-type': new Variant('s', 'signing') };
  if (thresholdsMs) options['warn-thresholds'] = new Variant('ax', thresholdsMs.map(BigInt));
  // Time stamps are Unix milliseconds (Date.now()), int64 on the bus.
  await monitor.RegisterSession(sessionId, BigInt(expiresAt), options);
}

async function watch(sessionId, seconds, keepId) {
  const { bus, monitor } = await connect();
  await new Promise((resolve, reject) => {
    const print = (signal) => (...args) => {
      console.log(JSON.stringify({ signal, args: plain(args) }));
      if (signal === 'SessionExpired' && args[0] === sessionId) resolve();
    };
    for (const name of ['SessionExpiring', 'SessionExpired', 'SessionUnregistered',
      'SigningRequestExpired', 'PresenceRefreshNeeded', 'PresenceRefreshed', 'ActionInvoked']) {
      monitor.on(name, print(name));
    }
    setTimeout(() => reject(new Error('timed out')), (seconds + 30) * 1000).unref();
    (async () => {
      await monitor.Subscribe();
      if (keepId) await registerSession(monitor, keepId, Date.now() + 3600000);
      await registerSession(monitor, sessionId, Date.now() + Math.round(seconds * 1000), [2000]);
    })().catch(reject);
  });
  bus.disconnect();
}

async function list() {
  const { bus, monitor } = await connect();
  const sessions = await monitor.GetSessions();
  console.log(JSON.stringify(plain(sessions), null, 2));
  bus.disconnect();
}

async function main(argv) {
  if (argv[0] === 'watch' && argv.length >= 3) {
    await watch(argv[1], Number(argv[2]), argv[3]);
  } else if (argv[0] === 'list') {
    await list();
  } else {
    console.error('usage: session-monitor-client.js watch ID SECONDS [KEEP_ID] | list');
    process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(`session-monitor-client.js: ${error.message}`);
  process.exitCode = 1;
});
