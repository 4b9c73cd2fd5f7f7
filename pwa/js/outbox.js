// The sealed outbox (SPEC §5), shared by the pages and the service worker.
//
// Submitting seals the incident to the server's public key and signs it with the device key;
// the entry then waits here until the server's receipt names its UUID. Anything else keeps it:
// no connection, a 5xx, a redirect, a refusal that may pass later. A refusal that never will
// (a revoked device, content the server cannot accept) keeps it too, marked with the reason,
// for the author to copy the account or discard it. Replay needs no session and no keys.

import { pack } from './container.js';
import { b64url, seal, sha256, sign } from './device-crypto.js';
import { count, del, get, getAll, put } from './idb.js';

const OUTBOX_URL = '/api/outbox';
const SEALING_KEY_URL = '/api/offline/sealing-key';
const LOCK_NAME = 'haven-outbox';
const MAX_BACKOFF_MS = 5 * 60 * 1000;
export const channelName = 'haven-outbox';

function announce(message) {
  try {
    const channel = new BroadcastChannel(channelName);
    channel.postMessage(message);
    channel.close();
  } catch {
    // No BroadcastChannel (old Safari): pages also poll the outbox count.
  }
}

// The server's public sealing key: fetched when online, kept (it is public) for offline use.
async function sealingKey() {
  try {
    const response = await fetch(SEALING_KEY_URL, { credentials: 'omit', cache: 'no-store' });
    if (response.ok) {
      const key = await response.json();
      await put('meta', { key: 'sealingKey', value: key });
      return key;
    }
  } catch {
    // Offline: the kept copy below.
  }
  const kept = await get('meta', 'sealingKey');
  if (!kept) throw new Error('This device has not yet been online to get Haven’s key.');
  return kept.value;
}

export async function prefetchSealingKey() {
  try { await sealingKey(); } catch { /* not yet online */ }
}

// Seal, sign and store one incident. The caller's copy of the content can then be dropped.
export async function addToOutbox({ userId, deviceId, signingKey, incident, files }) {
  const serverKey = await sealingKey();
  const uuid = incident.uuid;
  const plain = await pack({ incident }, files);
  const { iv, sealed, wrappedKey } = await seal(serverKey, plain,
    `haven-outbox-v1:${uuid}:${deviceId}`);
  const envelope = {
    v: 1,
    device_id: deviceId,
    uuid,
    signed_at: new Date().toISOString(),
    key_id: serverKey.key_id,
    wrapped_key: b64url(wrappedKey),
    iv: b64url(iv),
    sealed_sha256: b64url(await sha256(sealed)),
  };
  const signed = ['haven-outbox-v1', deviceId, uuid, envelope.signed_at, envelope.key_id,
    envelope.wrapped_key, envelope.iv, envelope.sealed_sha256].join('\n');
  envelope.signature = await sign(signingKey, signed);
  const entry = {
    uuid, userId, deviceId, envelope, sealed, createdAt: Date.now(),
    attempts: 0, nextAttemptAt: 0, lastError: null, refusal: null,
  };
  await put('outbox', entry);
  announce({ type: 'changed' });
  return entry;
}

export const outboxEntries = async () => (await getAll('outbox'))
  .sort((a, b) => a.createdAt - b.createdAt);
export const outboxCount = () => count('outbox');
export const receiptFor = (uuid) => get('receipts', uuid);

export async function discard(uuid) {
  await del('outbox', uuid);
  announce({ type: 'changed' });
}

export function entryForm(entry) {
  const form = new FormData();
  form.append('envelope', JSON.stringify(entry.envelope));
  form.append('sealed', new Blob([entry.sealed], { type: 'application/octet-stream' }), 'sealed');
  return form;
}

// What one answer means for an entry: 'sent', 'refused' (never will pass) or 'kept'.
async function outcome(entry, response) {
  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    return { kind: 'kept', error: { message: 'Haven sent this somewhere else; it will be tried again.' } };
  }
  let body = {};
  try {
    if ((response.headers.get('Content-Type') || '').includes('application/json')) {
      body = await response.json();
    }
  } catch {
    body = {};
  }
  if (response.ok) {
    if (body.uuid === entry.uuid) return { kind: 'sent', receipt: body };
    return { kind: 'kept', error: { message: 'Haven answered without confirming this incident.' } };
  }
  if (body.retry === false) {
    return { kind: 'refused', refusal: { code: body.error, message: body.message, fields: body.fields } };
  }
  return {
    kind: 'kept',
    error: { status: response.status, message: body.message || 'Haven could not take it just now.' },
  };
}

async function sendEntry(entry) {
  let response;
  try {
    response = await fetch(OUTBOX_URL, {
      method: 'POST', body: entryForm(entry), credentials: 'omit', redirect: 'manual',
      cache: 'no-store',
    });
  } catch {
    return { kind: 'kept', error: { network: true, message: 'There is no connection to Haven.' } };
  }
  return outcome(entry, response);
}

async function settle(entry, result) {
  if (result.kind === 'sent') {
    await put('receipts', { uuid: entry.uuid, userId: entry.userId, at: Date.now(),
      number: result.receipt.number, url: result.receipt.url });
    await del('outbox', entry.uuid);
    announce({ type: 'sent', uuid: entry.uuid, receipt: result.receipt });
    return;
  }
  // Re-read: a page may have discarded it while it was on its way.
  if (!(await get('outbox', entry.uuid))) return;
  if (result.kind === 'refused') {
    await put('outbox', { ...entry, refusal: result.refusal, lastError: null });
    announce({ type: 'refused', uuid: entry.uuid, refusal: result.refusal });
    return;
  }
  // Backing off spares a server that is struggling (5xx, 429); with no connection at all there
  // is nobody to spare, and the next trigger should try at once.
  const attempts = result.error.network ? entry.attempts : entry.attempts + 1;
  const backoff = result.error.network ? 0 : Math.min(MAX_BACKOFF_MS, 5000 * 2 ** Math.min(attempts, 10));
  await put('outbox', { ...entry, attempts, lastError: result.error, nextAttemptAt: Date.now() + backoff });
  announce({ type: 'changed' });
}

async function replayAll({ force, only }) {
  const summary = { sent: 0, kept: 0, refused: 0, network: false };
  for (const entry of await outboxEntries()) {
    if (only && entry.uuid !== only) continue;
    if (entry.refusal) continue;
    if (!force && entry.nextAttemptAt > Date.now()) continue;
    const result = await sendEntry(entry);
    await settle(entry, result);
    summary[result.kind] += 1;
    // No connection: the rest would fail the same way; the next trigger tries again.
    if (result.error?.network) { summary.network = true; break; }
  }
  return summary;
}

// One replay at a time across pages and the worker (Web Locks where the browser has them; the
// server's UUID check makes an overlap harmless where it has not). force: ignore the back-off.
export async function replayOutbox({ force = false, only = null } = {}) {
  if (globalThis.navigator?.locks?.request) {
    return navigator.locks.request(LOCK_NAME, () => replayAll({ force, only }));
  }
  return replayAll({ force, only });
}

// The refused entry's content, opened by the server for its author ("Copy the account").
export async function openRefused(uuid, csrfToken) {
  const entry = await get('outbox', uuid);
  if (!entry) return null;
  const response = await fetch(`${OUTBOX_URL}/open`, {
    method: 'POST', body: entryForm(entry), credentials: 'same-origin',
    headers: { 'X-CSRFToken': csrfToken, Accept: 'application/json' },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || 'Haven could not open it.');
  return body;
}
