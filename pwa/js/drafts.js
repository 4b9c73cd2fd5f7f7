// Drafts and snapshots, encrypted under the device's data key (SPEC §5): the incident being
// written is saved as it is typed, and the roster, staff list and form vocabulary are kept for
// use with no connection. Without the data key none of it can be read.

import { getJSONUnlessUnchanged } from './api.js';
import { pack, unpack } from './container.js';
import { decryptBytes, decryptJSON, encryptBytes, encryptJSON } from './device-crypto.js';
import { del, get, put } from './idb.js';

// draft: {fields (JSON), files: [File]}
export async function saveDraft(key, userId, { fields, files }) {
  const sealed = await encryptBytes(key, await pack({ fields }, files));
  await put('drafts', { userId, ...sealed, savedAt: Date.now() });
}

// -> {fields, files, savedAt} or null (none, or not readable with this key)
export async function loadDraft(key, userId) {
  const record = await get('drafts', userId);
  if (!record) return null;
  try {
    const { header, files } = unpack(await decryptBytes(key, record));
    return { fields: header.fields, files, savedAt: record.savedAt };
  } catch {
    await del('drafts', userId);
    return null;
  }
}

export const deleteDraft = (userId) => del('drafts', userId);

export async function hasDraft(userId) {
  return Boolean(await get('drafts', userId));
}

export async function saveSnapshot(key, userId, name, value, etag = null) {
  await put('snapshots', { id: `${userId}:${name}`, ...(await encryptJSON(key, value)),
    savedAt: Date.now(), etag });
}

// A snapshot refreshed only if the server's copy changed: the ETag it was sent with is kept
// beside the encrypted copy and sent back; on 304 the kept copy is used as it is. Returns the
// data either way (and keeps a changed copy, encrypted, for next time).
export async function refreshedSnapshot(key, userId, name, url) {
  const record = await get('snapshots', `${userId}:${name}`).catch(() => null);
  const kept = record?.etag ? await loadSnapshot(key, userId, name) : null;
  const answer = await getJSONUnlessUnchanged(url, kept ? record.etag : null);
  if (answer.status === 304 && kept) return kept;
  await saveSnapshot(key, userId, name, answer.data, answer.etag).catch(() => {});
  return answer.data;
}

export async function loadSnapshot(key, userId, name) {
  const record = await get('snapshots', `${userId}:${name}`);
  if (!record) return null;
  try {
    return await decryptJSON(key, record);
  } catch {
    return null;
  }
}
