// The offline PIN on the Add Incident page: setting it while online, unlocking with it when
// Haven cannot be reached, and the 10-minute idle rule with no connection: the page locks
// itself and drops the data key from memory; the PIN (offline) or password (online) unlocks.

import {
  dataKey, deviceRecord, lock, pinLooksValid, setPin, unlockWithPin, MAX_PIN_FAILURES,
} from './device.js';

const $ = (selector) => document.querySelector(selector);

export class DeviceLock extends EventTarget {
  constructor({ userId, idleSeconds = 600, beforeLock = async () => {} }) {
    super();
    this.userId = userId;
    this.idleMs = idleSeconds * 1000;
    this.beforeLock = beforeLock;
    this.cover = $('#device-lock');
    this.lastActivity = Date.now();
    this.waiting = null;
    this.hasPin = false;
    this.refreshPin();
    this.cover.querySelector('[data-pin-unlock-form]').addEventListener('submit', (event) => {
      event.preventDefault();
      this.#tryPin();
    });
    this.#watchIdle();
  }

  async refreshPin() {
    this.hasPin = Boolean((await deviceRecord(this.userId))?.pinWrapped);
  }

  get locked() {
    return !this.cover.hidden;
  }

  // Resolves once a PIN has unlocked the data key. Refuses at once where no PIN was set.
  async unlockWithPin(intro) {
    const record = await deviceRecord(this.userId);
    if (!record?.pinWrapped) {
      throw new Error('This device has no offline PIN, so Haven cannot open your work without '
        + 'a connection. Connect to Haven and sign in, then set an offline PIN.');
    }
    this.#show(intro);
    return new Promise((resolve) => { this.waiting = resolve; });
  }

  async lockNow(intro = 'Haven locked itself after 10 minutes without activity. What you were '
    + 'writing is kept on this device.') {
    if (this.locked || !dataKey()) return;
    await this.beforeLock();
    lock();
    this.dispatchEvent(new CustomEvent('locked'));
    const record = await deviceRecord(this.userId);
    if (record?.pinWrapped) {
      this.#show(intro);
      this.waiting = () => this.dispatchEvent(new CustomEvent('unlocked'));
    }
  }

  #show(intro) {
    // Where the person was, to go back to once the PIN has opened the page again.
    const focused = document.activeElement;
    if (focused && focused !== document.body && !this.cover.contains(focused)) {
      this.returnFocus = focused;
    }
    this.cover.querySelector('[data-device-lock-intro]').textContent = intro;
    this.cover.querySelector('[data-device-lock-online]').hidden = !navigator.onLine;
    this.cover.hidden = false;
    document.documentElement.classList.add('device-locked');
    this.cover.querySelector('input').focus();
  }

  #hide() {
    this.cover.hidden = true;
    document.documentElement.classList.remove('device-locked');
    const back = this.returnFocus;
    this.returnFocus = null;
    if (back?.isConnected && back.getClientRects().length > 0) back.focus();
    else document.getElementById('main')?.focus();
  }

  async #tryPin() {
    const input = this.cover.querySelector('#unlock-pin');
    const message = this.cover.querySelector('[data-pin-unlock-error]');
    const pin = input.value;
    input.value = '';
    message.textContent = 'Checking…';
    const result = await unlockWithPin(this.userId, pin);
    if (result.reason === 'wiped') await this.refreshPin();
    if (result.ok) {
      message.textContent = '';
      this.lastActivity = Date.now();
      this.#hide();
      const resolve = this.waiting;
      this.waiting = null;
      resolve?.();
      return;
    }
    message.textContent = {
      'no-pin': 'There is no offline PIN on this device. Connect and sign in with your password.',
      wiped: `That PIN was wrong ${MAX_PIN_FAILURES} times, so the keys on this device have been `
        + 'wiped: drafts on it can no longer be opened. Incidents waiting to send will still '
        + 'send. Sign in with your password when there is a connection.',
      wait: `Too many wrong PINs. Wait ${result.waitSeconds} seconds, then try again.`,
      wrong: `That PIN is not right. ${result.triesLeft} ${result.triesLeft === 1 ? 'try' : 'tries'} `
        + 'left before the keys on this device are wiped.'
        + (result.waitSeconds ? ` Wait ${result.waitSeconds} seconds before the next one.` : ''),
    }[result.reason];
    input.focus();
  }

  #watchIdle() {
    for (const type of ['pointerdown', 'keydown', 'input', 'wheel', 'touchstart']) {
      document.addEventListener(type, () => { this.lastActivity = Date.now(); },
        { passive: true, capture: true });
    }
    setInterval(() => {
      if (!this.locked && dataKey() && Date.now() - this.lastActivity > this.idleMs) this.lockNow();
    }, 5000);
  }
}

// The panel that asks for an offline PIN, while online, until one is set or put off.
export function offerPinSetup(userId, onSet = () => {}) {
  const panel = $('#pin-setup');
  const form = panel.querySelector('[data-pin-setup-form]');
  const message = panel.querySelector('[data-pin-setup-error]');
  let postponed = false;
  try { postponed = sessionStorage.getItem('haven:pin-later') === 'yes'; } catch { /* */ }
  deviceRecord(userId).then((record) => {
    panel.hidden = !record || Boolean(record.pinWrapped) || postponed;
  });
  panel.querySelector('[data-pin-later]').addEventListener('click', () => {
    panel.hidden = true;
    try { sessionStorage.setItem('haven:pin-later', 'yes'); } catch { /* */ }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const pin = form.querySelector('#new-pin').value;
    const again = form.querySelector('#new-pin-again').value;
    message.hidden = false;
    if (!pinLooksValid(pin)) {
      message.textContent = 'Use 6 to 12 digits.';
      return;
    }
    if (pin !== again) {
      message.textContent = 'The two PINs are not the same.';
      return;
    }
    message.textContent = 'Setting the PIN…';
    try {
      await setPin(userId, pin);
    } catch (error) {
      message.textContent = `The PIN could not be set: ${error.message}`;
      return;
    }
    form.reset();
    message.hidden = true;
    onSet();
    panel.replaceChildren(Object.assign(document.createElement('p'), {
      className: 'flash flash-success',
      textContent: 'Offline PIN set. You can now record on this device with no connection.',
    }));
    panel.setAttribute('role', 'status');
  });
}
