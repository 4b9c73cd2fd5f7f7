// Passkey ceremonies: adding a passkey (navigator.credentials.create) and confirming it is you
// (navigator.credentials.get). The server sends options as JSON with base64url values and
// verifies the answers; this module only converts between JSON and the browser's buffers.

const csrfToken = document.querySelector('meta[name="csrf-token"]').content;

export function base64urlToBuffer(value) {
  const base64 = value.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

export function bufferToBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function withIds(descriptors = []) {
  return descriptors.map((d) => ({ ...d, id: base64urlToBuffer(d.id) }));
}

// Current browsers parse the JSON themselves; older Safari needs the small fallback.
export function creationOptionsFromJSON(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

export function requestOptionsFromJSON(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function') {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    allowCredentials: withIds(json.allowCredentials),
  };
}

export function credentialToJSON(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  const { response } = credential;
  const json = {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
    response: { clientDataJSON: bufferToBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = bufferToBase64url(response.attestationObject);
    json.response.transports = response.getTransports?.() ?? [];
  } else {
    json.response.authenticatorData = bufferToBase64url(response.authenticatorData);
    json.response.signature = bufferToBase64url(response.signature);
    if (response.userHandle) json.response.userHandle = bufferToBase64url(response.userHandle);
  }
  return json;
}

async function postJSON(url, body = {}) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'X-CSRFToken': csrfToken,
    },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) {
    window.location.reload(); // signed out: the server shows why
  }
  if (!response.ok) {
    throw new Error(data.message || 'Something went wrong. Please try again.');
  }
  return data;
}

function explain(error) {
  if (error.name === 'NotAllowedError') {
    return 'The passkey request was cancelled or timed out. Please try again.';
  }
  if (error.name === 'InvalidStateError') {
    return 'This device already holds one of your passkeys.';
  }
  return error.message || 'Something went wrong. Please try again.';
}

function showStatus(element, message) {
  element.textContent = message;
  element.hidden = !message;
}

function passkeysSupported(status) {
  if (window.PublicKeyCredential && navigator.credentials) return true;
  showStatus(status, 'This browser cannot use passkeys. Please use an up-to-date browser.');
  return false;
}

async function addPasskey(form, status) {
  const name = form.elements.name.value.trim();
  if (!name) {
    showStatus(status, 'Give the passkey a name, such as the device it is on.');
    form.elements.name.focus();
    return;
  }
  const options = await postJSON(form.dataset.optionsUrl);
  const credential = await navigator.credentials.create({
    publicKey: creationOptionsFromJSON(options),
  });
  await postJSON(form.dataset.registerUrl, { name, credential: credentialToJSON(credential) });
  window.location.assign(form.dataset.doneUrl);
}

async function confirmItIsYou(button) {
  const options = await postJSON(button.dataset.optionsUrl);
  const credential = await navigator.credentials.get({
    publicKey: requestOptionsFromJSON(options),
  });
  const result = await postJSON(button.dataset.verifyUrl, {
    credential: credentialToJSON(credential),
    next: button.dataset.next,
  });
  window.location.assign(result.redirect);
}

function busyWhile(control, status, work) {
  return async (event) => {
    event.preventDefault();
    if (!passkeysSupported(status) || control.dataset.busy) return;
    control.dataset.busy = '1';
    showStatus(status, '');
    try {
      await work();
    } catch (error) {
      showStatus(status, explain(error));
    } finally {
      delete control.dataset.busy;
    }
  };
}

const registerForm = document.querySelector('form[data-passkey-register]');
if (registerForm) {
  const status = registerForm.querySelector('[data-passkey-status]');
  registerForm.addEventListener(
    'submit',
    busyWhile(registerForm, status, () => addPasskey(registerForm, status)),
  );
}

const stepUpButton = document.querySelector('[data-passkey-step-up]');
if (stepUpButton) {
  const status = document.querySelector('[data-passkey-status]');
  stepUpButton.addEventListener(
    'click',
    busyWhile(stepUpButton, status, () => confirmItIsYou(stepUpButton)),
  );
}
document.documentElement.dataset.passkeys = 'ready';
