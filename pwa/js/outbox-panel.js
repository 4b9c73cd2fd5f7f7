// The outbox on the Add Incident page: what waits to send on this device and why, "Send now",
// and for an entry the server will never accept, its reason with "Copy the account" and
// "Discard". Entries are sealed: only the server can open one, for its author, on request.

import { channelName, discard, openRefused, outboxEntries, replayOutbox } from './outbox.js';

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? '';
}

function button(text, onClick, className = 'button') {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  element.addEventListener('click', onClick);
  return element;
}

export class OutboxPanel {
  constructor(root) {
    this.root = root;
    this.list = root.querySelector('[data-outbox-list]');
    this.summary = root.querySelector('[data-outbox-summary]');
    root.querySelector('[data-outbox-send]').addEventListener('click', () => this.sendNow());
    try {
      new BroadcastChannel(channelName).addEventListener('message', () => this.render());
    } catch {
      setInterval(() => this.render(), 5000);
    }
    this.render();
  }

  async sendNow() {
    this.summary.textContent = 'Sending…';
    await replayOutbox({ force: true }).catch(() => {});
    await this.render();
  }

  async render() {
    const entries = await outboxEntries().catch(() => []);
    this.root.hidden = entries.length === 0;
    const waiting = entries.filter((entry) => !entry.refusal).length;
    const refused = entries.length - waiting;
    const parts = [];
    if (waiting) parts.push(`${waiting} ${waiting === 1 ? 'incident is' : 'incidents are'} waiting to send from this device.`);
    if (refused) parts.push(`${refused} could not be accepted: see below.`);
    this.summary.textContent = parts.join(' ');
    this.list.replaceChildren(...entries.map((entry) => this.#item(entry)));
  }

  #item(entry) {
    const li = document.createElement('li');
    li.className = entry.refusal ? 'outbox-entry outbox-refused' : 'outbox-entry';
    const title = document.createElement('p');
    const strong = document.createElement('strong');
    strong.textContent = `Incident written ${timeFormat.format(new Date(entry.createdAt))}`;
    title.append(strong);
    const status = document.createElement('p');
    status.className = 'outbox-status';
    if (entry.refusal) {
      status.textContent = `Not accepted: ${entry.refusal.message}`;
      li.append(title, status, this.#refusedActions(entry));
    } else {
      status.textContent = entry.lastError
        ? `Waiting to send: ${entry.lastError.message} It will be tried again by itself.`
        : 'Waiting to send.';
      li.append(title, status);
    }
    return li;
  }

  #refusedActions(entry) {
    const actions = document.createElement('p');
    actions.className = 'outbox-actions';
    const shown = document.createElement('div');
    shown.className = 'outbox-account';
    const copy = button('Copy the account', async () => {
      shown.textContent = 'Opening…';
      try {
        const incident = await openRefused(entry.uuid, csrfToken());
        const area = document.createElement('textarea');
        area.readOnly = true;
        area.rows = 8;
        area.value = incident.account ?? '';
        area.setAttribute('aria-label', 'The account that was not accepted');
        shown.replaceChildren(area);
        area.select();
        await navigator.clipboard?.writeText(area.value).catch(() => {});
      } catch (error) {
        shown.textContent = `${error.message} Only its author can open it, while signed in, `
          + 'on a device that has not been removed.';
      }
    });
    const remove = button('Discard', async () => {
      if (!window.confirm('Discard this incident? It was never recorded, and it cannot be '
        + 'brought back.')) return;
      await discard(entry.uuid);
      await this.render();
    }, 'button button-quiet');
    actions.append(copy, remove);
    const wrapper = document.createElement('div');
    wrapper.append(actions, shown);
    return wrapper;
  }
}
