// At each app start: the app badge shows the same unread count as the menu, and this device's
// push subscription (if it has one) is sent again, so the server has it even after the
// browser renewed it. Nothing more is loaded unless this browser has allowed notifications.
const script = document.querySelector('script[data-unread-count]');
const SENT_KEY = 'haven-push-subscription-sent';

async function showBadge(count) {
  if (!('setAppBadge' in navigator)) return;
  try {
    if (count > 0) await navigator.setAppBadge(count);
    else await navigator.clearAppBadge();
  } catch {
    // Not allowed here (a browser tab rather than the installed app): the menu shows it.
  }
}

async function resend() {
  if (sessionStorage.getItem(SENT_KEY) || Notification.permission !== 'granted') return;
  const { currentSubscription, sendToServer } = await import('./push-subscription.js');
  const subscription = await currentSubscription();
  if (!subscription) return;
  await sendToServer(subscription, script.dataset.subscribeUrl);
  sessionStorage.setItem(SENT_KEY, '1');
}

showBadge(Number(script.dataset.unreadCount) || 0);
if ('Notification' in window && 'serviceWorker' in navigator) resend().catch(() => {});
