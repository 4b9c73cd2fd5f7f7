// This device's enrolment and keys for one user (SPEC §5).
//
// Enrolment: at the first signed-in page a device key pair is made (private half
// non-extractable, kept in IndexedDB) and its public half registered to the user.
// Unlocking: the data key that encrypts drafts is stored only wrapped — under a secret the
// server gives the signed-in user of this device, and under a key derived from the offline PIN.
// Either unwraps it into memory; locking (idle, blank screen) drops it from memory again.
// Wrong PINs are throttled, and after MAX_PIN_FAILURES the wrapped keys are wiped.

import { ApiError, getJSON, postJSON } from './api.js';
import {
  cryptoAvailable, newDataKey, newSigningKey, pinWrappingKey, randomBytes,
  importWrappingSecret, unwrapDataKey, wrapDataKey, PIN_ITERATIONS,
} from './device-crypto.js';
import { del, deletePrefix, get, getAll, put } from './idb.js';

export const MAX_PIN_FAILURES = 10;
const FREE_PIN_TRIES = 4;
const PIN_PATTERN = /^\d{6,12}$/;

const state = { userId: null, dataKey: null };
export const deviceEvents = new EventTarget();

export const dataKey = () => state.dataKey;
export const unlockedUser = () => state.userId;
export const deviceRecord = (userId) => get('devices', userId);
export const enrolledUsers = () => getAll('devices');

function changed() {
  deviceEvents.dispatchEvent(new CustomEvent('change', {
    detail: { userId: state.userId, unlocked: Boolean(state.dataKey) },
  }));
}

export function deviceName() {
  const ua = navigator.userAgent;
  const iPad = /iPad/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  const kind = iPad ? 'iPad' : /iPhone/.test(ua) ? 'iPhone' : /Android/.test(ua) ? 'Android device'
    : /CrOS/.test(ua) ? 'Chromebook' : /Mac/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows PC'
      : 'computer';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'browser';
  const day = new Date().toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  return `${kind} (${browser}), set up ${day}`;
}

// Signed in and online: make sure this device is enrolled for the user and its data key is in
// memory. Returns the device record, or null where this browser cannot keep keys. Several
// callers on a page share one attempt, and tabs take turns, so a device is enrolled once.
let unlocking = null;

export function unlockOnline(userId) {
  if (!cryptoAvailable()) return Promise.resolve(null);
  if (!unlocking) {
    const attempt = () => unlockOnlineNow(userId);
    unlocking = (navigator.locks?.request
      ? navigator.locks.request('haven-device', attempt) : attempt())
      .finally(() => { unlocking = null; });
  }
  return unlocking;
}

async function unlockOnlineNow(userId) {
  let record = await deviceRecord(userId);
  if (!record) record = await enrol(userId);
  if (!record) return null;
  let secret;
  try {
    secret = await getJSON(`/api/devices/${record.deviceId}/secret`);
  } catch (error) {
    if (!(error instanceof ApiError) || !['forbidden', 'other'].includes(error.kind)) throw error;
    // Removed from the account (a device reported lost, then found): start again, afresh.
    await forget(userId, { keepEnrolment: false });
    record = await enrol(userId);
    secret = await getJSON(`/api/devices/${record.deviceId}/secret`);
  }
  const wrappingKey = await importWrappingSecret(secret.secret);
  if (record.serverWrapped) {
    try {
      state.dataKey = await unwrapDataKey(record.serverWrapped, wrappingKey);
    } catch {
      record = await replaceDataKey(record, wrappingKey); // the server's secret changed
    }
  } else {
    record = await replaceDataKey(record, wrappingKey);
  }
  state.userId = userId;
  await put('meta', { key: 'lastUser', userId });
  changed();
  return record;
}

async function enrol(userId) {
  const { privateKey, publicKey } = await newSigningKey();
  const device = await postJSON('/api/devices', { name: deviceName(), public_key: publicKey });
  const record = {
    userId, deviceId: device.id, name: device.name, signingKey: privateKey,
    serverWrapped: null, pinWrapped: null, pinFailures: 0, pinLockedUntil: 0,
  };
  try {
    await put('devices', record);
  } catch (error) {
    // WebKit in Lockdown or private mode cannot store a CryptoKey: this device then sends
    // online only, and says so.
    if (error?.name === 'DataCloneError') return null;
    throw error;
  }
  return record;
}

// A new data key: whatever was encrypted under the old one (drafts) can no longer be read.
async function replaceDataKey(record, wrappingKey) {
  const fresh = await newDataKey();
  const updated = { ...record, serverWrapped: await wrapDataKey(fresh, wrappingKey), pinWrapped: null };
  await put('devices', updated);
  await del('drafts', record.userId);
  await deletePrefix('snapshots', `${record.userId}:`);
  state.dataKey = await unwrapDataKey(updated.serverWrapped, wrappingKey);
  return updated;
}

// The offline PIN: only while unlocked online, since the data key must be unwrapped to wrap it.
export async function setPin(userId, pin) {
  if (!PIN_PATTERN.test(pin)) throw new Error('The PIN must be 6 to 12 digits.');
  const record = await deviceRecord(userId);
  const secret = await getJSON(`/api/devices/${record.deviceId}/secret`);
  const extractable = await unwrapDataKey(record.serverWrapped,
    await importWrappingSecret(secret.secret), true);
  const salt = randomBytes(16);
  const wrapped = await wrapDataKey(extractable, await pinWrappingKey(pin, salt));
  await put('devices', {
    ...record,
    pinWrapped: { ...wrapped, salt, iterations: PIN_ITERATIONS },
    pinFailures: 0,
    pinLockedUntil: 0,
  });
}

// -> {ok: true} | {ok: false, reason: 'wrong'|'wait'|'wiped'|'no-pin', triesLeft, waitSeconds}
export async function unlockWithPin(userId, pin) {
  const record = await deviceRecord(userId);
  if (!record?.pinWrapped) return { ok: false, reason: 'no-pin' };
  const now = Date.now();
  if (record.pinLockedUntil > now) {
    return { ok: false, reason: 'wait', waitSeconds: Math.ceil((record.pinLockedUntil - now) / 1000) };
  }
  try {
    const { salt, iterations } = record.pinWrapped;
    state.dataKey = await unwrapDataKey(record.pinWrapped, await pinWrappingKey(pin, salt, iterations));
  } catch {
    return wrongPin(record);
  }
  state.userId = userId;
  await put('devices', { ...record, pinFailures: 0, pinLockedUntil: 0 });
  changed();
  return { ok: true };
}

async function wrongPin(record) {
  const failures = record.pinFailures + 1;
  if (failures >= MAX_PIN_FAILURES) {
    await forget(record.userId, { keepEnrolment: true });
    return { ok: false, reason: 'wiped' };
  }
  // After a few free tries each wrong PIN doubles the wait: 30 s, 60 s, 2 min…
  const waitSeconds = failures > FREE_PIN_TRIES ? 30 * 2 ** (failures - FREE_PIN_TRIES - 1) : 0;
  await put('devices', { ...record, pinFailures: failures, pinLockedUntil: Date.now() + waitSeconds * 1000 });
  return { ok: false, reason: 'wrong', triesLeft: MAX_PIN_FAILURES - failures, waitSeconds };
}

export function lock() {
  if (!state.dataKey) return;
  state.dataKey = null;
  changed();
}

// Sign-out (or too many wrong PINs): the wrapped keys go, and with them every draft and
// snapshot of this user on this device. The sealed outbox is not touched: it still sends.
export async function forget(userId, { keepEnrolment = true } = {}) {
  const record = await deviceRecord(userId);
  if (record && keepEnrolment) {
    await put('devices', { ...record, serverWrapped: null, pinWrapped: null, pinFailures: 0,
      pinLockedUntil: 0 });
  } else if (record) {
    await del('devices', userId);
  }
  await del('drafts', userId);
  await deletePrefix('snapshots', `${userId}:`);
  if (state.userId === userId) {
    state.dataKey = null;
    changed();
  }
}

export function pinLooksValid(pin) {
  return PIN_PATTERN.test(pin);
}
