// Who will be alerted, shown before submitting (policy step 6): the automatic recipients for
// this pupil and these categories, the people the author added, and anyone refused with why.
// The server decides (POST /api/alert-preview); this only asks again when the answer may change.

import { postJSON } from './api.js';

const PREVIEW_URL = '/api/alert-preview';
const DEBOUNCE_MS = 250;

const reasonText = (person) => person.reason_label || person.reason;

export function person(entry) {
  const { name } = entry;
  const reason = reasonText(entry);
  const li = document.createElement('li');
  const strong = document.createElement('strong');
  strong.textContent = name;
  li.append(strong);
  if (reason) li.append(` – ${reason}`);
  return li;
}

export class AlertPreview extends EventTarget {
  // root holds [data-alert-status], [data-alert-recipients] (<ul>), [data-alert-refused]
  // (a box, hidden when empty) with a <ul> inside. payload() -> request body, or null.
  constructor(root, payload) {
    super();
    this.payload = payload;
    this.status = root.querySelector('[data-alert-status]');
    this.recipients = root.querySelector('[data-alert-recipients]');
    this.refusedBox = root.querySelector('[data-alert-refused]');
    this.refusedList = this.refusedBox.querySelector('ul');
    this.refused = [];
    this.sequence = 0;
    this.timer = null;
  }

  refresh() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#load(), DEBOUNCE_MS);
  }

  // Ask at once (for "Check before you send"): the server's answer, or null when it cannot be
  // asked (no pupil, no connection, a refusal).
  now() {
    clearTimeout(this.timer);
    return this.#load();
  }

  async #load() {
    const body = this.payload();
    const ticket = ++this.sequence;
    if (!body) {
      this.#show({ recipients: [], refused: [] });
      this.status.textContent = 'Choose the pupil to see who will be alerted.';
      return null;
    }
    this.status.textContent = 'Checking who will be alerted…';
    try {
      const answer = await postJSON(PREVIEW_URL, body);
      if (ticket !== this.sequence) return answer; // a newer question is on its way
      this.#show(answer);
      this.status.textContent = answer.recipients.length
        ? 'These staff will be alerted when you add the incident:'
        : 'Nobody will be alerted automatically. Add someone under “More details” if they need to know.';
      return answer;
    } catch (error) {
      if (ticket !== this.sequence) return null;
      this.status.textContent = `Could not check who will be alerted: ${error.message} `
        + 'The school’s alert rules still apply when the incident is sent.';
      return null;
    }
  }

  #show({ recipients, refused }) {
    this.recipients.replaceChildren(...recipients.map(person));
    this.recipients.hidden = recipients.length === 0;
    this.refusedList.replaceChildren(...refused.map(person));
    this.refusedBox.hidden = refused.length === 0;
    this.refused = refused;
    this.dispatchEvent(new CustomEvent('refused', {
      detail: { reasons: new Map(refused.map((entry) => [entry.id, reasonText(entry)])) },
    }));
  }
}
