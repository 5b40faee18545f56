// SPDX-License-Identifier: GPL-3.0-or-later
// Background service worker (Manifest V3): one native-messaging port to
// session-monitor-bridge per page port. Messages go through unchanged, in
// the wallet's own service-worker protocol ({type, payload, id}); the bridge
// answers ids with RESULT/ERROR and sends SESSION_EXPIRING, SESSION_EXPIRED,
// SIGNING_REQUEST_EXPIRED, PRESENCE_REFRESH_NEEDED, PRESENCE_REFRESHED and
// NOTIFICATION_CLICK. Closing the page closes the bridge, so the presence it
// configured lapses, as "if all tabs are closed" in the wallet's design.
'use strict';

const HOST = 'org.musig2.session_monitor';
const CHANNEL = 'musig2-session-monitor';

chrome.runtime.onConnect.addListener((page) => {
  if (page.name !== CHANNEL) return;
  let native;
  try {
    native = chrome.runtime.connectNative(HOST);
  } catch (error) {
    page.postMessage({ type: 'ERROR', payload: { code: 'NativeHostUnavailable', message: String(error) } });
    page.disconnect();
    return;
  }
  native.onMessage.addListener((message) => page.postMessage(message));
  native.onDisconnect.addListener(() => {
    const why = chrome.runtime.lastError ? chrome.runtime.lastError.message : 'the bridge exited';
    try {
      page.postMessage({ type: 'ERROR', payload: { code: 'NativeHostDisconnected', message: why } });
      page.disconnect();
    } catch (error) {
      // The page is gone already.
    }
  });
  page.onMessage.addListener((message) => native.postMessage(message));
  page.onDisconnect.addListener(() => native.disconnect());
});
