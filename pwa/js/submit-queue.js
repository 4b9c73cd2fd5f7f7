// The submit path for incidents: a small queue that keeps each submission until the server's
// receipt names its UUID. Online submission and (later) the offline outbox share this path.
//
// An entry is {uuid, incident, files}. Sending it ends one of four ways:
//   receipt  -> removed, 'sent' event {entry, receipt}
//   422/403/413 (refused as it stands) -> removed, 'refused' event {entry, error}, for the
//     author to put right
//   401/423 (signed out, screen blanked) -> kept, 'change' with the reason; "Send now" retries
//   no connection or 5xx -> kept, 'change' with the reason; retried on `online` and "Send now"
// The PWA issue replaces the in-memory store with encrypted IndexedDB; the events stay the same.

import { ApiError, postForm } from './api.js';

const INCIDENTS_URL = '/api/incidents';

// crypto.randomUUID needs a secure context (HTTPS or localhost); a school testing over plain
// HTTP on its network still gets a random version 4 UUID.
export function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  const parts = [[0, 8], [8, 12], [12, 16], [16, 20], [20, 32]];
  return parts.map(([start, end]) => hex.slice(start, end)).join('-');
}

function toFormData(entry) {
  const form = new FormData();
  form.append('incident', JSON.stringify(entry.incident));
  for (const file of entry.files) form.append('files', file, file.name);
  return form;
}

async function sendIncident(entry) {
  const { data } = await postForm(INCIDENTS_URL, toFormData(entry));
  return data;
}

export class SubmitQueue extends EventTarget {
  #entries = new Map();
  #reasons = new Map();
  #sending = false;

  constructor(send = sendIncident) {
    super();
    this.send = send;
    window.addEventListener('online', () => this.flush());
  }

  get size() {
    return this.#entries.size;
  }

  // Why the oldest waiting entry has not gone yet (an ApiError), or null.
  get reason() {
    return this.#reasons.values().next().value ?? null;
  }

  has(uuid) {
    return this.#entries.has(uuid);
  }

  add(entry) {
    if (!entry.uuid) throw new Error('An incident needs its UUID before it is queued.');
    this.#entries.set(entry.uuid, entry);
    this.#changed();
    return this.flush();
  }

  async flush() {
    if (this.#sending) return;
    this.#sending = true;
    this.#changed();
    try {
      for (const entry of [...this.#entries.values()]) {
        await this.#sendOne(entry);
      }
    } finally {
      this.#sending = false;
      this.#changed();
    }
  }

  get sending() {
    return this.#sending;
  }

  async #sendOne(entry) {
    let receipt;
    try {
      receipt = await this.send(entry);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError('other', 0);
      if (this.#keeps(apiError)) {
        this.#reasons.set(entry.uuid, apiError);
      } else {
        this.#remove(entry.uuid);
        this.#emit('refused', { entry, error: apiError });
      }
      return;
    }
    if (receipt?.uuid !== entry.uuid) {
      // Not a receipt for this entry: keep it, as if the answer had never come.
      this.#reasons.set(entry.uuid, new ApiError('server', 0, {
        message: 'Haven answered without confirming this incident, so it is kept to send again.',
      }));
      return;
    }
    this.#remove(entry.uuid);
    this.#emit('sent', { entry, receipt });
  }

  #keeps(error) {
    return error.retryable || error.kind === 'signed-out' || error.kind === 'locked';
  }

  #remove(uuid) {
    this.#entries.delete(uuid);
    this.#reasons.delete(uuid);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  #changed() {
    this.#emit('change', { size: this.size, reason: this.reason, sending: this.#sending });
  }
}
