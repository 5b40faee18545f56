// SPDX-License-Identifier: GPL-3.0-or-later
// Content script: relays the wallet page's service-worker messages to the
// extension's background worker and its answers and events back. The page
// posts {channel: 'musig2-session-monitor', direction: 'to-monitor', message}
// and listens for direction 'from-monitor'. One port per page: the background
// opens one native bridge per port, so each tab's presence is its own.
'use strict';

const CHANNEL = 'musig2-session-monitor';
let port = null;

function ensurePort() {
  if (port) return port;
  port = chrome.runtime.connect({ name: CHANNEL });
  port.onMessage.addListener((message) => {
    window.postMessage({ channel: CHANNEL, direction: 'from-monitor', message }, window.location.origin);
  });
  port.onDisconnect.addListener(() => {
    port = null;
  });
  return port;
}

window.addEventListener('message', (event) => {
  if (event.source !== window || event.origin !== window.location.origin) return;
  const data = event.data;
  if (!data || data.channel !== CHANNEL || data.direction !== 'to-monitor') return;
  ensurePort().postMessage(data.message);
});
