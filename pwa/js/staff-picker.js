// Choosing extra members of staff to alert: type part of a name (or initials), tap the person.
// A chosen person who may not be alerted (a sensitive category they may not see) is marked with
// the server's reason, so the author can take them off before submitting.

import { chip, optionLines } from './chosen-list.js';
import { Combobox } from './combobox.js';
import { normalise, words } from './pupil-picker.js';

const MAX_OPTIONS = 20;
const ROLE_LABELS = {
  staff: 'Staff',
  class_teacher: 'Class teacher',
  pastoral: 'Pastoral',
  dsl: 'Designated safeguarding lead',
  slt: 'Senior leadership',
  admin: 'Administrator',
};

function describe(member) {
  const roles = (member.roles || []).map((role) => ROLE_LABELS[role] ?? role).join(', ');
  return [member.initials, roles].filter(Boolean).join(' · ');
}

export class StaffPicker extends EventTarget {
  constructor(root, staff, { exclude = () => [] } = {}) {
    super();
    this.root = root;
    this.exclude = exclude;
    this.chosen = [];
    this.refused = new Map();
    this.byId = new Map(staff.map((member) => [member.id, member]));
    this.entries = staff.map((member) => ({
      member,
      keys: [...words(member.name), normalise(member.initials || '')].filter(Boolean),
    }));
    this.input = root.querySelector('input');
    this.list = root.querySelector('[data-picker-chosen]');
    this.combobox = new Combobox({
      input: this.input,
      listbox: root.querySelector('[data-picker-list]'),
      status: root.querySelector('[data-picker-status]'),
      search: (text) => this.#search(text),
      render: (member, li) => optionLines(li, member.name, describe(member)),
      choose: (member) => this.add(member.id),
    });
  }

  get value() {
    return [...this.chosen];
  }

  name(id) {
    return this.byId.get(id)?.name ?? '';
  }

  add(id) {
    if (this.chosen.includes(id)) return;
    this.chosen = [...this.chosen, id];
    this.#render();
    this.input.focus();
    this.#changed();
  }

  remove(id) {
    this.chosen = this.chosen.filter((chosenId) => chosenId !== id);
    this.#render();
    this.input.focus();
    this.#changed();
  }

  // reasons: Map of staff id -> why they may not be alerted, from the alert preview.
  markRefused(reasons) {
    this.refused = reasons;
    this.#render();
  }

  // A saved draft's choices, quietly: staff no longer listed are left out.
  restore(ids) {
    this.chosen = ids.filter((id) => this.byId.has(id));
    this.#render();
    this.#changed();
  }

  reset() {
    this.chosen = [];
    this.refused = new Map();
    this.combobox.clear();
    this.#render();
  }

  #search(text) {
    const tokens = words(text);
    const excluded = new Set([...this.exclude(), ...this.chosen]);
    return this.entries
      .filter(({ member, keys }) => !excluded.has(member.id)
        && tokens.every((token) => keys.some((key) => key.startsWith(token))))
      .slice(0, MAX_OPTIONS)
      .map(({ member }) => member);
  }

  #render() {
    const chips = this.chosen.map((id) => {
      const member = this.byId.get(id);
      const reason = this.refused.get(id);
      let extra;
      if (reason) {
        extra = document.createElement('span');
        extra.className = 'chip-refused';
        extra.textContent = `Cannot be alerted: ${reason}`;
      }
      const li = chip({
        title: member.name,
        details: describe(member),
        removeLabel: `Remove ${member.name}`,
        onRemove: () => this.remove(id),
        extra,
      });
      li.classList.toggle('chip-warning', Boolean(reason));
      return li;
    });
    this.list.replaceChildren(...chips);
    this.list.hidden = chips.length === 0;
  }

  #changed() {
    this.dispatchEvent(new CustomEvent('change', { detail: { value: this.value } }));
  }
}
