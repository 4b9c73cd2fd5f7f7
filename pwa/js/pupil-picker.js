// Choosing pupils by typing part of a name: the roster index (fast on 2,000 pupils: search keys
// are lower-cased once) and the picker for the main pupil (one) and linked pupils (several).
// Each option and chip shows name, class/year and date of birth, so staff pick the right child.

import { chip, optionLines } from './chosen-list.js';
import { Combobox } from './combobox.js';

const MAX_OPTIONS = 30;

export function normalise(text) {
  return text
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/[’'.]/g, '');
}

export function words(text) {
  return normalise(text).split(/[\s-]+/).filter(Boolean);
}

function searchKeys(...names) {
  const keys = new Set();
  for (const name of names.filter(Boolean)) {
    for (const word of words(name)) keys.add(word);
    // "Smith-Jones" is also found as "smithjones".
    for (const part of normalise(name).split(/\s+/)) keys.add(part.replace(/-/g, ''));
  }
  return [...keys];
}

function compare(a, b) {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

export function pupilDetails(pupil) {
  const place = [pupil.class_name, pupil.year_label].filter(Boolean).join(', ');
  const born = pupil.dob_display || pupil.date_of_birth;
  return [place, born && `born ${born}`].filter(Boolean).join(' · ');
}

export function pupilTitle(pupil) {
  return pupil.legal_name && pupil.legal_name !== pupil.name
    ? `${pupil.name} (${pupil.legal_name})`
    : pupil.name;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// "2017-03-04" -> "4 Mar 2017", as the server writes dates (not the locale's "Sept").
export function dayLabel(iso) {
  const [year, month, day] = iso.split('-').map(Number);
  return `${day} ${MONTHS[month - 1]} ${year}`;
}

// The roster as /api/roster sends it (compact: `places` holds the few [class, year] pairs, and
// each pupil is [id, name, place, date of birth, legal name if it differs and may be sent]),
// as one object per pupil. A list of objects (an older snapshot) is taken as it is.
export function rosterPupils(roster) {
  if (Array.isArray(roster)) return roster;
  return roster.pupils.map(([id, name, place, born, legalName]) => {
    const [className, yearLabel] = roster.places[place] || ['', ''];
    const pupil = {
      id, name, class_name: className, year_label: yearLabel,
      date_of_birth: born, dob_display: dayLabel(born),
    };
    if (legalName) pupil.legal_name = legalName;
    return pupil;
  });
}

export class RosterIndex {
  constructor(roster) {
    this.byId = new Map();
    this.entries = rosterPupils(roster).map((pupil) => {
      this.byId.set(pupil.id, pupil);
      return {
        pupil,
        keys: searchKeys(pupil.name, pupil.legal_name),
        full: [normalise(pupil.name), normalise(pupil.legal_name || '')],
        sortKey: normalise(pupil.name),
      };
    });
  }

  get(id) {
    return this.byId.get(id);
  }

  // Every typed word must begin some word of the preferred or legal name.
  search(text, excluded = new Set(), limit = MAX_OPTIONS) {
    const tokens = words(text);
    if (tokens.length === 0) return [];
    const whole = normalise(text.trim());
    const found = [];
    for (const entry of this.entries) {
      if (excluded.has(entry.pupil.id)) continue;
      if (!tokens.every((token) => entry.keys.some((key) => key.startsWith(token)))) continue;
      const rank = entry.full.some((name) => name.startsWith(whole)) ? 0 : 1;
      found.push({ entry, rank });
    }
    // Keys are already lower-cased without accents: plain comparison is right, and fast.
    found.sort((a, b) => a.rank - b.rank || compare(a.entry.sortKey, b.entry.sortKey));
    return found.slice(0, limit).map(({ entry }) => entry.pupil);
  }
}

export class PupilPicker extends EventTarget {
  // root holds [data-picker-search] (wrapping the input), the input, [data-picker-list],
  // [data-picker-status] and [data-picker-chosen]. exclude() -> ids not to offer.
  constructor(root, index, { multiple = false, exclude = () => [] } = {}) {
    super();
    Object.assign(this, { root, index, multiple, exclude });
    this.chosen = [];
    this.search = root.querySelector('[data-picker-search]');
    this.input = root.querySelector('input');
    this.list = root.querySelector('[data-picker-chosen]');
    this.combobox = new Combobox({
      input: this.input,
      listbox: root.querySelector('[data-picker-list]'),
      status: root.querySelector('[data-picker-status]'),
      search: (text) => index.search(text, new Set([...this.exclude(), ...this.chosen])),
      render: (pupil, li) => optionLines(li, pupilTitle(pupil), pupilDetails(pupil)),
      choose: (pupil) => this.add(pupil.id),
    });
  }

  get value() {
    return this.multiple ? [...this.chosen] : (this.chosen[0] ?? null);
  }

  add(id) {
    if (this.chosen.includes(id)) return;
    this.chosen = this.multiple ? [...this.chosen, id] : [id];
    this.#render();
    if (this.multiple) this.input.focus();
    else this.list.querySelector('button')?.focus();
    this.#changed();
  }

  remove(id) {
    this.chosen = this.chosen.filter((chosenId) => chosenId !== id);
    this.#render();
    this.input.focus();
    this.#changed();
  }

  // Drop a pupil chosen elsewhere (a linked pupil who became the main pupil).
  drop(id) {
    if (!this.chosen.includes(id)) return;
    this.chosen = this.chosen.filter((chosenId) => chosenId !== id);
    this.#render();
    this.#changed();
  }

  reset() {
    this.chosen = [];
    this.combobox.clear();
    this.#render();
  }

  // A saved draft's pupils, quietly (no focus moves): those no longer on the roll are left out.
  restore(ids) {
    const known = ids.filter((id) => this.index.get(id));
    this.chosen = this.multiple ? known : known.slice(0, 1);
    this.#render();
    this.#changed();
  }

  focus() {
    (this.search.hidden ? this.list.querySelector('button') : this.input)?.focus();
  }

  #render() {
    const chips = this.chosen.map((id) => {
      const pupil = this.index.get(id);
      return chip({
        title: pupilTitle(pupil),
        details: pupilDetails(pupil),
        buttonText: this.multiple ? 'Remove' : 'Change pupil',
        removeLabel: `${this.multiple ? 'Remove' : 'Change pupil from'} ${pupil.name}`,
        onRemove: () => this.remove(id),
      });
    });
    this.list.replaceChildren(...chips);
    this.list.hidden = chips.length === 0;
    this.search.hidden = !this.multiple && chips.length > 0;
  }

  #changed() {
    this.dispatchEvent(new CustomEvent('change', { detail: { value: this.value } }));
  }
}
