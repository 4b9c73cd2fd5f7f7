// Writing an account is activity: while someone types, tell the server now and then, so the
// 10-minute idle sign-out (which counts only requests) does not end the session mid-sentence.
// Leaving the page alone still signs out on time.

import { postJSON } from './api.js';

const PING_EVERY_MS = 60_000;

export function keepSessionWhileTyping(form) {
  const guard = document.querySelector('script[data-keep-alive-url]');
  if (!guard) return;
  let last = Date.now();
  form.addEventListener('input', () => {
    if (Date.now() - last < PING_EVERY_MS) return;
    last = Date.now();
    // Offline or signed out: the session guard and the submit queue deal with it.
    postJSON(guard.dataset.keepAliveUrl, {}).catch(() => {});
  });
}
