// The cryptography of offline capture, all WebCrypto (shared by the pages and the worker):
//   - the device's signing key: ECDSA P-256, private half non-extractable;
//   - the data key that encrypts drafts and snapshots: AES-GCM 256, stored only wrapped, under
//     the server's per-device secret or under a key derived from the offline PIN;
//   - sealing: a fresh AES-GCM key per incident, wrapped with RSA-OAEP-256 to the server's
//     public key, so that once sealed the device itself cannot read the incident.

const subtle = globalThis.crypto?.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const PIN_ITERATIONS = 600000;

export function cryptoAvailable() {
  return Boolean(subtle) && typeof indexedDB !== 'undefined';
}

export function b64url(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let text = '';
  for (let i = 0; i < view.length; i += 0x8000) {
    text += String.fromCharCode(...view.subarray(i, i + 0x8000));
  }
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromB64url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

export const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

// --- The device's signing key ---------------------------------------------------------------

export async function newSigningKey() {
  const pair = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false,
    ['sign', 'verify']);
  const spki = await subtle.exportKey('spki', pair.publicKey);
  return { privateKey: pair.privateKey, publicKey: b64url(spki) };
}

// Raw r||s (64 bytes), as WebCrypto makes it; the server converts it for its library.
export async function sign(privateKey, text) {
  const signature = await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey,
    encoder.encode(text));
  return b64url(signature);
}

// --- The data key and its wrappings ---------------------------------------------------------

// Extractable only so that it can be wrapped at once; callers drop this handle afterwards and
// use the non-extractable copy that unwrapDataKey gives.
export function newDataKey() {
  return subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
}

export function importWrappingSecret(secretB64) {
  return subtle.importKey('raw', fromB64url(secretB64), { name: 'AES-GCM' }, false,
    ['wrapKey', 'unwrapKey']);
}

export async function pinWrappingKey(pin, salt, iterations = PIN_ITERATIONS) {
  const material = await subtle.importKey('raw', encoder.encode(pin), 'PBKDF2', false,
    ['deriveKey']);
  return subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material,
    { name: 'AES-GCM', length: 256 }, false, ['wrapKey', 'unwrapKey']);
}

export async function wrapDataKey(dataKey, wrappingKey) {
  const iv = randomBytes(12);
  const wrapped = await subtle.wrapKey('raw', dataKey, wrappingKey, { name: 'AES-GCM', iv });
  return { iv, wrapped: new Uint8Array(wrapped) };
}

// Throws (OperationError) when the wrapping key is wrong: a wrong PIN, a changed secret.
export function unwrapDataKey({ iv, wrapped }, wrappingKey, extractable = false) {
  return subtle.unwrapKey('raw', wrapped, wrappingKey, { name: 'AES-GCM', iv },
    { name: 'AES-GCM', length: 256 }, extractable, ['encrypt', 'decrypt']);
}

// --- Encrypting under the data key ----------------------------------------------------------

export async function encryptBytes(key, bytes) {
  const iv = randomBytes(12);
  const data = await subtle.encrypt({ name: 'AES-GCM', iv }, key, bytes);
  return { iv, data: new Uint8Array(data) };
}

export async function decryptBytes(key, { iv, data }) {
  return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv }, key, data));
}

export const encryptJSON = (key, value) => encryptBytes(key, encoder.encode(JSON.stringify(value)));
export const decryptJSON = async (key, record) => JSON.parse(decoder.decode(
  await decryptBytes(key, record)));

// --- Sealing to the server -------------------------------------------------------------------

// serverKey: {key_id, spki} from /api/offline/sealing-key. aad binds the content to its entry.
export async function seal(serverKey, plain, aad) {
  const publicKey = await subtle.importKey('spki', fromB64url(serverKey.spki),
    { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  const contentKey = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, true,
    ['encrypt']);
  const iv = randomBytes(12);
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(aad) },
    contentKey, plain);
  const rawKey = await subtle.exportKey('raw', contentKey);
  const wrappedKey = await subtle.encrypt({ name: 'RSA-OAEP' }, publicKey, rawKey);
  return { iv, sealed: new Uint8Array(sealed), wrappedKey: new Uint8Array(wrappedKey) };
}
