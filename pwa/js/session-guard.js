// Guards a signed-in page: the idle warning before the server signs the session out, and the
// blank-screen button and shortcut (Esc twice) that hide everything at once.
// The server enforces both; this script makes them visible and immediate.
//
// Most pages blank by going to the server's unlock page. A page holding unsent work (its <main>
// has data-preserve-work, like Add incident) is locked in place instead: the cover hides it,
// the server locks the session, and the password brings the page back as it was. When such a
// page is signed out for inactivity it stays hidden under the cover until the user has signed in
// again in another tab, so an account being written is never thrown away.

const script = document.querySelector('script[data-session-url]');
const config = script.dataset;
const warning = document.getElementById('idle-warning');
const countdown = warning.querySelector('[data-idle-countdown]');
const cover = document.getElementById('blank-cover');
const blankForm = document.getElementById('blank-screen-form');
const preserveWork = document.querySelector('main[data-preserve-work]') !== null;
const announcer = document.querySelector('[data-idle-announce]');
const POLL_SECONDS = 30;
const DOUBLE_ESCAPE_MS = 800;
// Where focus goes back to after the cover or the idle warning: the last thing the person
// focused on the page itself (not the banner's "Blank screen" button they pressed to leave).
const RETURN_FOCUS_KEY = 'haven:focus-before-blank';
let lastFocused = null;
let focusBeforeWarning = null;
let lastAnnounced = null;

let deadline = Date.now() + Number(config.timeoutSeconds) * 1000;
let warningSeconds = 60;
let signedOutShown = false;
// Whether the last check reached Haven: with no connection, an idle page is locked for the
// connection's sake (the offline PIN, where the page has one), not sent to sign in.
let reachable = true;

// Read each time: signing in again in another tab gives this page's session a new token.
function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

async function refreshDeadline() {
  try {
    const response = await fetch(config.sessionUrl, { headers: { Accept: 'application/json' } });
    reachable = true;
    if (response.status === 401) return signedOut();
    const state = await response.json();
    deadline = Date.now() + state.seconds_remaining * 1000;
    warningSeconds = state.warning_seconds;
  } catch {
    // Offline: keep counting down locally; the server decides when we are back.
    reachable = false;
  }
}

function rememberFocus() {
  document.addEventListener('focusin', (event) => {
    const node = event.target;
    if (node instanceof HTMLElement && !cover.contains(node) && !warning.contains(node)
        && !node.closest('.banner-actions')) {
      lastFocused = node;
    }
  });
}

// Back to where the person was; failing that, the page's main content.
function restoreFocus(node = lastFocused) {
  const target = node?.isConnected && node.getClientRects().length > 0
    ? node : document.getElementById('main');
  target?.focus({ preventScroll: false });
}

// Leaving for the server's unlock page: the page after it (the same one) puts focus back.
function keepFocusForTheUnlockPage() {
  const id = lastFocused?.id;
  if (!id) return;
  try {
    sessionStorage.setItem(RETURN_FOCUS_KEY, JSON.stringify({ path: window.location.pathname, id }));
  } catch { /* private mode: focus starts at the top instead */ }
}

function focusWhereTheUnlockPageLeftOff() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(RETURN_FOCUS_KEY) ?? 'null');
    if (saved && document.getElementById('main') && !document.querySelector('main .locked-panel')) {
      sessionStorage.removeItem(RETURN_FOCUS_KEY);
    }
  } catch { return; }
  if (!saved || saved.path !== window.location.pathname) return;
  const node = document.getElementById(saved.id);
  if (node) restoreFocus(node);
}

function showCover(panel) {
  document.documentElement.classList.add('blanked');
  cover.hidden = false;
  for (const part of cover.querySelectorAll('[data-cover-plain], .blank-panel')) {
    part.hidden = true;
  }
  const shown = cover.querySelector(panel);
  shown.hidden = false;
  shown.querySelector('input:not([type=hidden]), button')?.focus();
}

function hideCover() {
  cover.hidden = true;
  document.documentElement.classList.remove('blanked');
  restoreFocus();
}

function signedOut() {
  if (!preserveWork) {
    // Reloading lets the server show why ("signed out after 10 minutes without activity").
    window.location.reload();
    return;
  }
  if (signedOutShown) return;
  signedOutShown = true;
  warning.hidden = true;
  if (announcer) announcer.textContent = '';
  if (!reachable || !navigator.onLine) {
    // The page's offline lock (pwa/js/device-lock.js) takes over if it can: the PIN opens it.
    const handled = !document.dispatchEvent(new CustomEvent('haven:idle-offline', { cancelable: true }));
    if (handled) return;
    cover.querySelector('[data-cover-signed-out] p').textContent = 'Haven cannot be reached, and '
      + 'for safety this page was locked after 10 minutes without activity. What you were '
      + 'writing is still here, hidden. When the connection is back, sign in again in a new '
      + 'tab, then come back here and press Continue.';
  }
  showCover('[data-cover-signed-out]');
}

async function continueAfterSigningIn() {
  const message = cover.querySelector('[data-cover-signed-out-error]');
  let state;
  try {
    const response = await fetch(config.sessionUrl, { headers: { Accept: 'application/json' } });
    if (!response.ok) {
      message.textContent = 'You are not signed in yet. Sign in in another tab, then press Continue.';
      return;
    }
    state = await response.json();
  } catch {
    message.textContent = 'Haven cannot be reached. Check the connection and press Continue again.';
    return;
  }
  // Only the person who wrote it gets the page back, and only with the screen unlocked.
  if (state.user_id !== Number(config.userId)) {
    message.textContent = 'Someone else is signed in on this device. Only the person who was '
      + 'writing can bring this page back: sign out, and sign in as them.';
    return;
  }
  deadline = Date.now() + state.seconds_remaining * 1000;
  await adoptNewCsrfToken();
  signedOutShown = false;
  message.textContent = '';
  if (state.locked) {
    showCover('[data-cover-unlock]');
    return;
  }
  hideCover();
}

// The new session has a new CSRF token: take it from a fresh copy of this page.
async function adoptNewCsrfToken() {
  const response = await fetch(window.location.pathname, { credentials: 'same-origin' });
  const page = new DOMParser().parseFromString(await response.text(), 'text/html');
  const fresh = page.querySelector('meta[name="csrf-token"]')?.content;
  if (!fresh) return;
  document.querySelector('meta[name="csrf-token"]').content = fresh;
  for (const input of document.querySelectorAll('input[name="csrf_token"]')) input.value = fresh;
}

async function staySignedIn() {
  const response = await fetch(config.keepAliveUrl, {
    method: 'POST',
    headers: { 'X-CSRFToken': csrfToken(), Accept: 'application/json' },
  });
  if (!response.ok) return signedOut();
  const state = await response.json();
  deadline = Date.now() + state.seconds_remaining * 1000;
  hideWarning();
}

// The warning takes focus (its "Stay signed in" button: Enter or Space keeps the session) and
// says how long is left politely: on showing, at each whole minute, at 30 and at 10 seconds;
// not every second, which would drown out everything else.
function showWarning(seconds) {
  if (!warning.hidden) return;
  focusBeforeWarning = document.activeElement === document.body ? lastFocused : document.activeElement;
  warning.hidden = false;
  lastAnnounced = null;
  warning.querySelector('[data-idle-stay]').focus();
  announce(seconds, true);
}

function hideWarning() {
  if (warning.hidden) return;
  const wasInWarning = warning.contains(document.activeElement);
  warning.hidden = true;
  if (announcer) announcer.textContent = '';
  if (wasInWarning) restoreFocus(focusBeforeWarning);
}

function inWords(seconds) {
  if (seconds >= 60 && seconds % 60 === 0) {
    const minutes = seconds / 60;
    return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

function announce(seconds, first = false) {
  if (!announcer) return;
  const due = first || (seconds > 0 && (seconds % 60 === 0 || seconds === 30 || seconds === 10));
  if (!due || seconds === lastAnnounced) return;
  lastAnnounced = seconds;
  announcer.textContent = `You will be signed out in ${inWords(seconds)} unless you choose `
    + '“Stay signed in”.';
}

async function tick() {
  if (signedOutShown) return;
  const remaining = Math.round((deadline - Date.now()) / 1000);
  if (remaining <= warningSeconds && warning.hidden) {
    await refreshDeadline(); // another tab may have kept the session alive
  }
  const now = Math.round((deadline - Date.now()) / 1000);
  if (now <= 0) return signedOut();
  countdown.textContent = String(now);
  if (now > warningSeconds) {
    hideWarning();
    return;
  }
  showWarning(now);
  announce(now);
}

function blankScreen({ fromAnotherTab = false } = {}) {
  if (!fromAnotherTab) tellOtherTabs('blanked');
  if (!preserveWork) {
    keepFocusForTheUnlockPage();
    showCover('[data-cover-plain]');
    blankForm.submit();
    return;
  }
  showCover('[data-cover-unlock]');
  // The server locks the session too, so no other tab or request shows anything meanwhile.
  fetch(config.blankUrl, {
    method: 'POST',
    headers: { 'X-CSRFToken': csrfToken() },
    redirect: 'manual',
  }).catch(() => {});
}

async function unlockInPlace(event) {
  event.preventDefault();
  const form = event.target;
  const message = cover.querySelector('[data-cover-error]');
  const body = new FormData();
  body.append('password', form.password.value);
  form.password.value = '';
  let response;
  let answer = {};
  try {
    response = await fetch(config.unlockUrl, {
      method: 'POST',
      headers: { 'X-CSRFToken': csrfToken(), Accept: 'application/json' },
      body,
    });
    answer = await response.json();
  } catch {
    message.textContent = response
      ? 'That did not work. Reload the page and sign in again if this keeps happening.'
      : 'Haven cannot be reached. Check the connection and try again.';
    return;
  }
  // The page comes back only on the server's word that this password is right.
  if (response.ok && answer.unlocked === true) {
    message.textContent = '';
    deadline = Date.now() + Number(config.timeoutSeconds) * 1000;
    hideCover();
  } else if (answer.error === 'signed_out') {
    signedOut();
  } else {
    message.textContent = answer.message ?? 'That did not work. Try again.';
    form.password.focus();
  }
}

// Blanking or signing out in one tab covers every other tab of Haven at once.
function tellOtherTabs(what) {
  try {
    localStorage.setItem(`haven:${what}`, String(Date.now()));
  } catch {
    // Storage refused (private mode): the other tabs find out at their next check.
  }
}

function listenToOtherTabs() {
  window.addEventListener('storage', (event) => {
    if (event.key === 'haven:blanked' && cover.hidden) {
      blankScreen({ fromAnotherTab: true });
    } else if (event.key === 'haven:signed-out') {
      signedOut();
    }
  });
}

function listenForBlanking() {
  let lastEscape = 0;
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || !cover.hidden) return;
    const now = Date.now();
    if (now - lastEscape < DOUBLE_ESCAPE_MS) blankScreen();
    lastEscape = now;
  });
  blankForm.addEventListener('submit', (event) => {
    event.preventDefault();
    blankScreen();
  });
  cover.querySelector('[data-cover-unlock-form]').addEventListener('submit', unlockInPlace);
  document.getElementById('sign-out-form')
    .addEventListener('submit', () => tellOtherTabs('signed-out'));
  cover.querySelector('[data-cover-continue]').addEventListener('click', continueAfterSigningIn);
}

warning.querySelector('[data-idle-stay]').addEventListener('click', staySignedIn);
rememberFocus();
focusWhereTheUnlockPageLeftOff();
listenForBlanking();
listenToOtherTabs();
setInterval(tick, 1000);
setInterval(refreshDeadline, POLL_SECONDS * 1000);
document.documentElement.dataset.sessionGuard = 'ready';
