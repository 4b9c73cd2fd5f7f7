// Talking to Haven's JSON API: the CSRF header, JSON in and out, and errors that say what went
// wrong in a way the page can act on (offline, signed out, refused, server fault).

const SIGN_IN_PATH = '/auth/sign-in';

export class ApiError extends Error {
  // kind: 'network' (no answer), 'signed-out' (401, or sent to sign in), 'locked' (423, screen
  // blanked), 'invalid' (422), 'forbidden' (403), 'too-large' (413), 'server' (5xx), 'other'.
  constructor(kind, status, body = {}) {
    super(body.message || ApiError.describe(kind));
    this.kind = kind;
    this.status = status;
    this.body = body;
  }

  get retryable() {
    return this.kind === 'network' || this.kind === 'server';
  }

  static describe(kind) {
    return {
      network: 'There is no connection to Haven at the moment.',
      'signed-out': 'You have been signed out.',
      locked: 'The screen is blanked: unlock it to continue.',
      invalid: 'Some of what was sent is not valid.',
      forbidden: 'You do not have permission to do this.',
      'too-large': 'That is too large to send.',
      server: 'Haven had a problem on its side. Nothing was saved.',
    }[kind] || 'Something went wrong.';
  }
}

let csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

function kindFor(status) {
  if (status === 401) return 'signed-out';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'too-large';
  if (status === 422) return 'invalid';
  if (status === 423) return 'locked';
  if (status >= 500) return 'server';
  return 'other';
}

function sentToSignIn(response) {
  return response.redirected && new URL(response.url).pathname.startsWith(SIGN_IN_PATH);
}

async function readBody(response) {
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('application/json')) return {};
  try {
    return await response.json();
  } catch {
    return {};
  }
}

// A sign-in elsewhere starts a new session, and with it a new CSRF token: fetch this page's
// again (it carries no personal data) rather than fail a send that would otherwise succeed.
async function refreshCsrfToken() {
  let response;
  try {
    response = await fetch(window.location.pathname, { credentials: 'same-origin' });
  } catch {
    throw new ApiError('network', 0);
  }
  if (sentToSignIn(response) || response.status === 401) throw new ApiError('signed-out', 401);
  const html = await response.text();
  const meta = new DOMParser().parseFromString(html, 'text/html')
    .querySelector('meta[name="csrf-token"]');
  if (!meta) throw new ApiError('signed-out', 401);
  csrfToken = meta.content;
}

async function send(url, { method = 'GET', body, json } = {}, retried = false) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken;
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      body: json !== undefined ? JSON.stringify(json) : body,
    });
  } catch {
    throw new ApiError('network', 0);
  }
  if (sentToSignIn(response)) throw new ApiError('signed-out', 401);
  const data = await readBody(response);
  if (response.ok) return { status: response.status, data };
  // Flask-WTF answers a missing or stale CSRF token with 400; anything else 400 is refused twice.
  if (response.status === 400 && !retried && method !== 'GET') {
    await refreshCsrfToken();
    return send(url, { method, body, json }, true);
  }
  throw new ApiError(kindFor(response.status), response.status, data);
}

export async function getJSON(url) {
  return (await send(url)).data;
}

// A GET that sends If-None-Match (the roster is no-store, so the browser never does): returns
// {status: 304} when what the caller keeps is current, else {status, data, etag}.
export async function getJSONUnlessUnchanged(url, etag) {
  const headers = { Accept: 'application/json' };
  if (etag) headers['If-None-Match'] = `"${etag}"`;
  let response;
  try {
    response = await fetch(url, { headers, credentials: 'same-origin' });
  } catch {
    throw new ApiError('network', 0);
  }
  if (sentToSignIn(response)) throw new ApiError('signed-out', 401);
  if (response.status === 304) return { status: 304 };
  const data = await readBody(response);
  if (!response.ok) throw new ApiError(kindFor(response.status), response.status, data);
  const sent = (response.headers.get('ETag') || '').replace(/^W\//, '').replace(/"/g, '');
  return { status: response.status, data, etag: sent || null };
}

export async function postJSON(url, payload) {
  return (await send(url, { method: 'POST', json: payload })).data;
}

// Multipart: the browser sets the boundary. Returns {status, data} so callers can tell a new
// record (201) from a replay the server already had (200).
export function postForm(url, formData) {
  return send(url, { method: 'POST', body: formData });
}
