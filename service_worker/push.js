// The push handler (SPEC §4), imported by the service worker. Every push shows a notification:
// iPadOS revokes a subscription whose pushes show nothing. Tapping it opens the incident,
// focusing an open Haven window when there is one; signing in first if needed is the server's
// doing (the incident page sends a signed-out visitor to sign in and back).

const FALLBACK = {
  title: 'Haven',
  body: 'You have a new alert.',
  url: '/alerts',
  tag: 'haven-alert',
  urgent: false,
};

export function readMessage(data) {
  let message = {};
  try {
    message = data ? data.json() : {};
  } catch {
    message = {};
  }
  return { ...FALLBACK, ...message };
}

// Only a path on this site: a message cannot send the user elsewhere.
export function targetUrl(path) {
  const url = new URL(typeof path === 'string' ? path : '/alerts', self.location.origin);
  return url.origin === self.location.origin ? url.href : new URL('/alerts', self.location.origin).href;
}

async function setBadge(count) {
  if (!('setAppBadge' in self.navigator) || typeof count !== 'number') return;
  try {
    if (count > 0) await self.navigator.setAppBadge(count);
    else await self.navigator.clearAppBadge();
  } catch {
    // The badge is a courtesy; the notification is what matters.
  }
}

async function showAlert(message) {
  await self.registration.showNotification(message.title, {
    body: message.body,
    tag: message.tag,
    // The same tag again (a repeat after a worker restart) replaces, and does not re-alert;
    // an urgent one always alerts again and stays until dealt with.
    renotify: Boolean(message.urgent),
    requireInteraction: Boolean(message.urgent),
    icon: '/static/icons/haven.svg',
    data: { url: targetUrl(message.url) },
  });
  await setBadge(message.badge);
}

async function openOrFocus(url) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const haven = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (haven) {
    try {
      await haven.focus();
    } catch {
      // Focus needs the tap's permission; taking the window to the incident does not.
    }
    try {
      return await haven.navigate(url);
    } catch {
      // An uncontrolled window cannot be navigated from here: open the incident beside it.
    }
  }
  return self.clients.openWindow(url);
}

self.addEventListener('push', (event) => {
  event.waitUntil(showAlert(readMessage(event.data)));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data?.url || targetUrl('/alerts');
  const opening = openOrFocus(url);
  try {
    event.waitUntil(opening);
  } catch {
    // Only an event the browser itself dispatched can be extended; the opening goes on.
  }
});
