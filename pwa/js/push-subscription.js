// This browser's push subscription: whether it can have one, asking for it (only ever from a
// tap: iPadOS allows nothing else), and telling the server.
import { postJSON } from './api.js';

const WORKER_URL = '/service-worker.js';

export function isAppleMobile() {
  return /iPad|iPhone|iPod/.test(navigator.userAgent)
    || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
}

export function isHomeScreenApp() {
  return window.matchMedia?.('(display-mode: standalone)').matches || navigator.standalone === true;
}

export function canSubscribe() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

// Idempotent: the same registration comes back each time.
export async function registerWorker() {
  await navigator.serviceWorker.register(WORKER_URL, { type: 'module', scope: '/' });
  return navigator.serviceWorker.ready;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export function deviceName() {
  if (isAppleMobile()) return isHomeScreenApp() ? 'iPad or iPhone (Haven app)' : 'iPad or iPhone';
  if (/Android/.test(navigator.userAgent)) return 'Android device';
  if (/Firefox\//.test(navigator.userAgent)) return 'Firefox';
  if (/Edg\//.test(navigator.userAgent)) return 'Edge';
  if (/Chrome\//.test(navigator.userAgent)) return 'Chrome';
  if (/Safari\//.test(navigator.userAgent)) return 'Safari';
  return 'This browser';
}

export async function currentSubscription() {
  if (!canSubscribe()) return null;
  const registration = await navigator.serviceWorker.getRegistration('/');
  return registration ? registration.pushManager.getSubscription() : null;
}

// The enrolled device this browser is (SPEC §5), so that removing a lost iPad also stops its
// notifications; none where the browser keeps no keys.
async function enrolledDeviceId() {
  const userId = Number(document.querySelector('meta[name="haven-user"]')?.content);
  if (!userId || typeof indexedDB === 'undefined') return null;
  try {
    const { deviceRecord } = await import('./device.js');
    return (await deviceRecord(userId))?.deviceId ?? null;
  } catch {
    return null;
  }
}

export async function sendToServer(subscription, url) {
  const deviceId = await enrolledDeviceId();
  return postJSON(url, { ...subscription.toJSON(), name: deviceName(), device_id: deviceId });
}

// From a tap only: asks permission, subscribes with the server's key, and registers it.
export async function subscribe(publicKey, url) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    throw new Error('Notifications are blocked for Haven in this browser\u2019s settings.');
  }
  const registration = await registerWorker();
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(publicKey),
    });
  }
  await sendToServer(subscription, url);
  return subscription;
}

export async function unsubscribe(url) {
  const subscription = await currentSubscription();
  if (!subscription) return false;
  await postJSON(url, { endpoint: subscription.endpoint });
  await subscription.unsubscribe();
  return true;
}
