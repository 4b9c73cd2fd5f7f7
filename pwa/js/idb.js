// Haven's on-device storage: one IndexedDB database behind a tiny API, shared by the pages and
// the service worker. Nothing stored here is readable without keys: drafts and snapshots are
// AES-GCM ciphertext, outbox entries are sealed to the server.
//
// Stores (keyPath in brackets):
//   devices  [userId]  this device's enrolment for a user: signing key, wrapped data keys, PIN
//   drafts   [userId]  the incident being written (encrypted)
//   snapshots [id]     "userId:name" -> the roster, staff list and form vocabulary (encrypted)
//   outbox   [uuid]    sealed, signed incidents waiting to send
//   receipts [uuid]    what the server answered for a sent entry (numbers only)
//   meta     [key]     small public facts (the server's sealing key, the last user)

const DB_NAME = 'haven';
const DB_VERSION = 1;

let opening = null;

function upgrade(db, oldVersion) {
  if (oldVersion < 1) {
    db.createObjectStore('devices', { keyPath: 'userId' });
    db.createObjectStore('drafts', { keyPath: 'userId' });
    db.createObjectStore('snapshots', { keyPath: 'id' });
    db.createObjectStore('outbox', { keyPath: 'uuid' });
    db.createObjectStore('receipts', { keyPath: 'uuid' });
    db.createObjectStore('meta', { keyPath: 'key' });
  }
}

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = (event) => upgrade(request.result, event.oldVersion);
      request.onsuccess = () => {
        const db = request.result;
        // Another tab upgrading, or the browser closing it: open afresh next time.
        db.onversionchange = () => { db.close(); opening = null; };
        db.onclose = () => { opening = null; };
        resolve(db);
      };
      request.onerror = () => { opening = null; reject(request.error); };
      request.onblocked = () => { opening = null; reject(new Error('IndexedDB is blocked')); };
    });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

// Run fn(store) in one transaction; resolves with fn's result once the transaction completes.
// Safari can kill a connection after the app was in the background: reopen and try once more.
export async function withStore(name, mode, fn, retried = false) {
  let db;
  try {
    db = await open();
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(name, mode);
      let result;
      Promise.resolve(fn(transaction.objectStore(name))).then((value) => { result = value; }, reject);
      transaction.oncomplete = () => resolve(result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error ?? new Error('transaction aborted'));
    });
  } catch (error) {
    if (retried || error?.name !== 'InvalidStateError') throw error;
    opening = null;
    return withStore(name, mode, fn, true);
  }
}

export const get = (store, key) => withStore(store, 'readonly', (s) => done(s.get(key)));
export const getAll = (store) => withStore(store, 'readonly', (s) => done(s.getAll()));
export const count = (store) => withStore(store, 'readonly', (s) => done(s.count()));
export const put = (store, value) => withStore(store, 'readwrite', (s) => done(s.put(value)));
export const del = (store, key) => withStore(store, 'readwrite', (s) => done(s.delete(key)));

// Every record of `store` whose key starts with `prefix` (string keys), deleted in one go.
export function deletePrefix(store, prefix) {
  const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
  return withStore(store, 'readwrite', (s) => done(s.delete(range)));
}
