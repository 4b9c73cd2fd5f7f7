// Guards a signed-in page: the idle warning before the server signs the session out, and the
// blank-screen button and shortcut (Esc twice) that hide everything at once.
// The server enforces both; this script only makes them visible and immediate.

const script = document.querySelector('script[data-session-url]');
const config = script.dataset;
const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
const warning = document.getElementById('idle-warning');
const countdown = warning.querySelector('[data-idle-countdown]');
const POLL_SECONDS = 30;
const DOUBLE_ESCAPE_MS = 800;

let deadline = Date.now() + Number(config.timeoutSeconds) * 1000;
let warningSeconds = 60;

async function refreshDeadline() {
  try {
    const response = await fetch(config.sessionUrl, { headers: { Accept: 'application/json' } });
    if (response.status === 401) return signedOut();
    const state = await response.json();
    deadline = Date.now() + state.seconds_remaining * 1000;
    warningSeconds = state.warning_seconds;
  } catch {
    // Offline: keep counting down locally; the server decides when we are back.
  }
}

function signedOut() {
  // Reloading lets the server show why ("signed out after 10 minutes without activity").
  window.location.reload();
}

async function staySignedIn() {
  const response = await fetch(config.keepAliveUrl, {
    method: 'POST',
    headers: { 'X-CSRFToken': csrfToken, Accept: 'application/json' },
  });
  if (!response.ok) return signedOut();
  const state = await response.json();
  deadline = Date.now() + state.seconds_remaining * 1000;
  warning.hidden = true;
}

async function tick() {
  const remaining = Math.round((deadline - Date.now()) / 1000);
  if (remaining <= warningSeconds && warning.hidden) {
    await refreshDeadline(); // another tab may have kept the session alive
  }
  const now = Math.round((deadline - Date.now()) / 1000);
  if (now <= 0) return signedOut();
  warning.hidden = now > warningSeconds;
  countdown.textContent = String(now);
}

function blankScreen() {
  document.documentElement.classList.add('blanked');
  document.getElementById('blank-cover').hidden = false;
  document.getElementById('blank-screen-form').submit();
}

function listenForBlankShortcut() {
  let lastEscape = 0;
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const now = Date.now();
    if (now - lastEscape < DOUBLE_ESCAPE_MS) blankScreen();
    lastEscape = now;
  });
  document.getElementById('blank-screen-form').addEventListener('submit', () => {
    document.documentElement.classList.add('blanked');
    document.getElementById('blank-cover').hidden = false;
  });
}

warning.querySelector('[data-idle-stay]').addEventListener('click', staySignedIn);
listenForBlankShortcut();
setInterval(tick, 1000);
setInterval(refreshDeadline, POLL_SECONDS * 1000);
document.documentElement.dataset.sessionGuard = 'ready';
