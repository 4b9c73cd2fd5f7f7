// A type-ahead text box with a list of options: the ARIA 1.2 combobox pattern (list autocomplete).
// Keyboard: Down/Up move through the options, Enter chooses, Escape closes the list.
// Touch and mouse: tap an option.
// What the options are and how they look belong to the caller (pupil picker, staff picker).

let counter = 0;

export class Combobox {
  // input: the <input>; listbox: an empty <ul>; search(text) -> items; render(item, li);
  // choose(item); status: an element announcing how many options there are (optional).
  constructor({ input, listbox, search, render, choose, status, minChars = 1 }) {
    Object.assign(this, { input, listbox, search, render, choose, status, minChars });
    this.items = [];
    this.active = -1;
    this.prefix = listbox.id || `combobox-${++counter}`;
    listbox.id = this.prefix;
    listbox.setAttribute('role', 'listbox');
    listbox.hidden = true;
    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    input.setAttribute('aria-controls', listbox.id);
    input.setAttribute('autocomplete', 'off');
    input.addEventListener('input', () => this.update());
    input.addEventListener('keydown', (event) => this.#onKey(event));
    input.addEventListener('blur', () => this.close());
    // Keep focus in the text box while a finger or mouse is on the list, then choose on click.
    listbox.addEventListener('pointerdown', (event) => event.preventDefault());
    listbox.addEventListener('click', (event) => this.#onClick(event));
  }

  update() {
    const text = this.input.value.trim();
    this.items = text.length >= this.minChars ? this.search(text) : [];
    this.active = -1;
    this.listbox.replaceChildren(...this.items.map((item, index) => this.#option(item, index)));
    const open = text.length >= this.minChars;
    this.listbox.hidden = !open;
    this.input.setAttribute('aria-expanded', String(open));
    this.input.removeAttribute('aria-activedescendant');
    this.#announce(text);
  }

  close() {
    this.listbox.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
    this.active = -1;
  }

  clear() {
    this.input.value = '';
    this.items = [];
    this.listbox.replaceChildren();
    this.close();
    if (this.status) {
      this.status.textContent = '';
      this.status.classList.remove('picker-empty');
    }
  }

  get isOpen() {
    return !this.listbox.hidden;
  }

  #option(item, index) {
    const li = document.createElement('li');
    li.id = `${this.prefix}-option-${index}`;
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', 'false');
    li.dataset.index = String(index);
    this.render(item, li);
    return li;
  }

  #announce(text) {
    if (!this.status) return;
    // "No matches" is shown as well as announced; the counts are for screen readers only.
    const nothing = text.length >= this.minChars && this.items.length === 0;
    this.status.classList.toggle('picker-empty', nothing);
    if (text.length < this.minChars) {
      this.status.textContent = '';
    } else if (this.items.length === 0) {
      this.status.textContent = 'No matches. Check the spelling, or try another part of the name.';
    } else {
      const count = this.items.length;
      this.status.textContent = `${count} ${count === 1 ? 'match' : 'matches'}: `
        + 'use the up and down arrows, then Enter to choose.';
    }
  }

  #highlight(index) {
    const options = this.listbox.querySelectorAll('[role=option]');
    options.forEach((li, i) => li.setAttribute('aria-selected', String(i === index)));
    this.active = index;
    if (index < 0) {
      this.input.removeAttribute('aria-activedescendant');
      return;
    }
    this.input.setAttribute('aria-activedescendant', options[index].id);
    options[index].scrollIntoView({ block: 'nearest' });
  }

  #onKey(event) {
    const count = this.items.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (!this.isOpen) this.update();
      if (this.items.length === 0) return;
      const step = event.key === 'ArrowDown' ? 1 : -1;
      const next = this.active < 0 && step < 0 ? count - 1 : (this.active + step + count) % count;
      this.#highlight(next);
    } else if (event.key === 'Enter') {
      if (!this.isOpen) return;
      // Enter never submits the whole form from here: it chooses, or does nothing.
      event.preventDefault();
      const index = this.active >= 0 ? this.active : (count === 1 ? 0 : -1);
      if (index >= 0) this.#choose(index);
    } else if (event.key === 'Escape' && this.isOpen) {
      // Closing the list uses up this Escape, so it does not count towards the blank-screen
      // shortcut (Escape twice); with the list closed, Escape is left to that shortcut.
      event.stopPropagation();
      this.close();
    }
  }

  #onClick(event) {
    const li = event.target.closest('[role=option]');
    if (li) this.#choose(Number(li.dataset.index));
  }

  #choose(index) {
    const item = this.items[index];
    this.clear();
    this.choose(item);
  }
}
