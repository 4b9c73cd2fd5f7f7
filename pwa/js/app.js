// On every page: the installable app. Registers the service worker, offers updates without
// reloading under anyone, shows "N waiting to send" and replays the outbox from every trigger
// a page has (start, back online, page visible, a timer, Background Sync where it exists),
// offers to install, enrols this device for the signed-in user, and on sign-out warns about
// unsent drafts and deletes this user's keys from the device.

import { getJSON } from './api.js';
import { cryptoAvailable } from './device-crypto.js';
import { dataKey, forget, unlockOnline } from './device.js';
import { hasDraft, refreshedSnapshot, saveSnapshot } from './drafts.js';
import { channelName, outboxCount, prefetchSealingKey, replayOutbox } from './outbox.js';
import { settleServerErrors } from './server-form-errors.js';

// While something waits, try this often: the 'online' event is not always fired (and a server
// that was restarting never fires it), and a try with no connection costs nothing.
const RETRY_SECONDS = 10;
const SNAPSHOT_MAX_AGE_MS = 30 * 60 * 1000;
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? '';
const userId = Number(meta('haven-user')) || null;
const records = meta('haven-records') === 'yes';

// --- The service worker and its updates ------------------------------------------------------

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return null;
  const hadController = Boolean(navigator.serviceWorker.controller);
  let registration;
  try {
    // The worker's own script is always checked with Haven; the static files it imports
    // (updateViaCache 'imports', the default) come from the HTTP cache, which keeps each build's
    // fingerprinted files for good: an update check asks for nothing that cannot have changed.
    registration = await navigator.serviceWorker.register('/service-worker.js',
      { type: 'module', scope: '/' });
  } catch (error) {
    console.warn('Haven could not install its offline support:', error);
    return null;
  }
  const offerIfWaiting = () => {
    if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration);
  };
  offerIfWaiting();
  registration.addEventListener('updatefound', () => {
    const installing = registration.installing;
    installing?.addEventListener('statechange', () => {
      if (installing.state !== 'installed') return;
      if (hadController) offerIfWaiting();
      else say('Haven is ready to work offline on this device.');
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading || !hadController) return;
    reloading = true;
    window.location.reload();
  });
  return registration;
}

function offerUpdate(registration) {
  const banner = document.getElementById('update-banner');
  if (!banner || !banner.hidden) return;
  banner.hidden = false;
  banner.querySelector('[data-update-reload]').addEventListener('click', () => {
    if (document.querySelector('main[data-unsent-work="yes"]')
      && !window.confirm('You have an incident you have not added yet. It is saved on this device '
        + 'and will be there after the reload. Reload now?')) return;
    registration.waiting?.postMessage({ type: 'skip-waiting' });
  });
}

function say(text) {
  const status = document.getElementById('app-status');
  if (!status) return;
  status.textContent = text;
  status.hidden = false;
  setTimeout(() => { status.hidden = true; }, 8000);
}

// --- The outbox: badge and replay ------------------------------------------------------------

async function showOutboxCount() {
  const badge = document.getElementById('outbox-badge');
  if (!badge || !cryptoAvailable()) return 0;
  let waiting = 0;
  try { waiting = await outboxCount(); } catch { return 0; }
  badge.hidden = waiting === 0;
  badge.querySelector('[data-outbox-count]').textContent = `${waiting} waiting to send`;
  return waiting;
}

let registrationPromise = null;

async function replay(force) {
  if (!cryptoAvailable()) return;
  try {
    if (await outboxCount() === 0) return;
    await replayOutbox({ force });
  } catch (error) {
    console.warn('Haven could not send from the outbox:', error);
  }
  const waiting = await showOutboxCount();
  if (waiting) askForBackgroundSync();
}

async function askForBackgroundSync() {
  const registration = await registrationPromise;
  try {
    await registration?.sync?.register('haven-outbox');
  } catch {
    // Not offered (Safari, or permission withheld): the other triggers carry on.
  }
}

function listenForTriggers() {
  window.addEventListener('online', () => replay(true));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') replay(false);
  });
  setInterval(() => replay(false), RETRY_SECONDS * 1000);
  try {
    const channel = new BroadcastChannel(channelName);
    channel.addEventListener('message', () => showOutboxCount());
  } catch {
    setInterval(showOutboxCount, 5000);
  }
}

// --- Installing ------------------------------------------------------------------------------

function offerInstall() {
  const button = document.getElementById('install-button');
  let prompt = null;
  window.addEventListener('beforeinstallprompt', (event) => {
    event.preventDefault();
    prompt = event;
    if (button) button.hidden = false;
  });
  button?.addEventListener('click', async () => {
    if (!prompt) return;
    button.hidden = true;
    await prompt.prompt();
    prompt = null;
  });
  window.addEventListener('appinstalled', () => { if (button) button.hidden = true; });
  showHomeScreenHelp();
}

// iPadOS Safari has no install prompt: explain "Add to Home Screen", once, where it matters.
function showHomeScreenHelp() {
  const help = document.getElementById('home-screen-help');
  if (!help) return;
  const ua = navigator.userAgent;
  const appleTouch = /iPad|iPhone/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  const standalone = navigator.standalone === true
    || window.matchMedia('(display-mode: standalone)').matches;
  let dismissed = false;
  try { dismissed = localStorage.getItem('haven:home-screen-help') === 'dismissed'; } catch { /* */ }
  if (!appleTouch || standalone || dismissed) return;
  help.hidden = false;
  help.querySelector('[data-dismiss]').addEventListener('click', () => {
    help.hidden = true;
    try { localStorage.setItem('haven:home-screen-help', 'dismissed'); } catch { /* */ }
  });
}

// --- This device, for the signed-in user -----------------------------------------------------

// Enrol (first time), unlock the data key, and keep the offline snapshots fresh, so that the
// form works with no connection even if Add Incident was never opened online.
async function prepareOffline() {
  if (!userId || !records || !cryptoAvailable()) return;
  // Add Incident opens the device and keeps its own snapshots: doing it here too would only
  // ask Haven for the same keys again.
  if (document.querySelector('main[data-loads-snapshots]')) return;
  try {
    const record = await unlockOnline(userId);
    if (!record) return;
    await prefetchSealingKey();
    await refreshSnapshots();
  } catch (error) {
    console.warn('Haven could not prepare this device for offline use:', error);
  }
}

async function refreshSnapshots() {
  const key = dataKey();
  if (!key || document.querySelector('main[data-loads-snapshots]')) return;
  let fresh = false;
  try { fresh = Date.now() - Number(localStorage.getItem(`haven:snapshots:${userId}`)) < SNAPSHOT_MAX_AGE_MS; } catch { /* */ }
  if (fresh) return;
  // The roster is asked for with its kept ETag, and kept by refreshedSnapshot (304: unchanged).
  const [vocabulary, , staff] = await Promise.all([
    getJSON('/api/incident-form'), refreshedSnapshot(key, userId, 'roster', '/api/roster'),
    getJSON('/api/staff'),
  ]);
  await Promise.all([
    saveSnapshot(key, userId, 'vocabulary', vocabulary),
    saveSnapshot(key, userId, 'staff', staff),
  ]);
  try { localStorage.setItem(`haven:snapshots:${userId}`, String(Date.now())); } catch { /* */ }
}

// Sign-out deletes this user's keys on the device (drafts become unreadable); incidents in the
// outbox are sealed and still send.
function guardSignOut() {
  const form = document.getElementById('sign-out-form');
  if (!form || !userId || !cryptoAvailable()) return;
  form.addEventListener('submit', async (event) => {
    if (form.dataset.confirmed === 'yes') return;
    event.preventDefault();
    let unsent = document.querySelector('main[data-unsent-work="yes"]') !== null;
    try { unsent = unsent || await hasDraft(userId); } catch { /* storage gone: nothing kept */ }
    if (unsent && !window.confirm('You have an incident you have not added yet. Signing out '
      + 'deletes it from this device. Incidents already waiting to send are kept and still '
      + 'send. Sign out anyway?')) return;
    try { await forget(userId); } catch { /* nothing stored */ }
    try { localStorage.removeItem(`haven:snapshots:${userId}`); } catch { /* */ }
    form.dataset.confirmed = 'yes';
    form.requestSubmit();
  });
}

// A page the server sent back with an error summary (templates/_forms.html): focus goes to it,
// so a screen reader reads what to fix and Tab continues to its links.
function focusErrorSummary() {
  const summary = document.querySelector('main .error-summary[tabindex="-1"]');
  if (summary && !summary.hidden) summary.focus();
}

focusErrorSummary();
settleServerErrors();
registrationPromise = registerServiceWorker();
offerInstall();
guardSignOut();
listenForTriggers();
showOutboxCount();
replay(true);
// After the page's own first requests: setting the device up must not slow what was asked for.
setTimeout(prepareOffline, 1500);
document.documentElement.dataset.app = 'ready';
