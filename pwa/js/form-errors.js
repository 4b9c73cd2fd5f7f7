// Showing what needs fixing: a message beside each field at fault and an error summary at the
// top whose links move focus to the field. Field names are those of the incident JSON
// ("pupil_id", "category_ids", ...); each field's wrapper carries data-field="name".

export class FormErrors {
  constructor(form, summary) {
    this.form = form;
    this.summary = summary;
    this.list = summary.querySelector('[data-error-list]');
    this.intro = summary.querySelector('[data-error-intro]');
    this.list.addEventListener('click', (event) => {
      const link = event.target.closest('a[data-target]');
      if (!link) return;
      event.preventDefault();
      this.#focus(link.dataset.target);
    });
  }

  clear() {
    this.summary.hidden = true;
    this.list.replaceChildren();
    for (const wrapper of this.form.querySelectorAll('[data-field].field-error')) {
      this.#unmark(wrapper);
    }
  }

  // Put right, an answer stops being marked at once, not at the next send. `stillWrong` is what
  // the page's own checks find now; only fields those checks cover (`checked`) are cleared, so a
  // refusal only the server can make stays until the next send. New problems wait for it too.
  settle(stillWrong, checked) {
    if (this.summary.hidden) return;
    const wrong = new Set(Object.keys(stillWrong).map((name) => this.#wrapper(name)));
    for (const wrapper of this.form.querySelectorAll('[data-field].field-error')) {
      if (wrong.has(wrapper) || !checked.has(wrapper.dataset.field)) continue;
      this.#unmark(wrapper);
      const target = CSS.escape(wrapper.dataset.field);
      this.list.querySelector(`a[data-target="${target}"]`)?.closest('li')?.remove();
    }
    this.intro.textContent = this.list.children.length > 1 ? 'Please check these answers:' : '';
    if (this.list.children.length === 0) this.summary.hidden = true;
  }

  #unmark(wrapper) {
    wrapper.classList.remove('field-error');
    const message = wrapper.querySelector(':scope [data-error]');
    if (message) {
      message.hidden = true;
      message.textContent = '';
    }
    for (const control of wrapper.querySelectorAll('[aria-invalid]')) {
      control.removeAttribute('aria-invalid');
    }
  }

  // fields: {name: message}; message: what went wrong overall (optional). Focuses the summary.
  show(fields, message = '') {
    this.clear();
    const items = Object.entries(fields).map(([name, text]) => this.#mark(name, text));
    if (message && !Object.values(fields).includes(message)) {
      items.unshift(this.#item(null, message));
    }
    this.intro.textContent = items.length > 1 ? 'Please check these answers:' : '';
    this.list.replaceChildren(...items);
    this.summary.hidden = false;
    this.summary.focus();
  }

  #wrapper(name) {
    const base = name.split(/[.[]/)[0];
    return this.form.querySelector(`[data-field="${CSS.escape(name)}"]`)
      ?? this.form.querySelector(`[data-field="${CSS.escape(base)}"]`);
  }

  #mark(name, text) {
    const wrapper = this.#wrapper(name);
    if (!wrapper) return this.#item(null, text);
    // A field folded away (under "More details") is opened, so its message and control show.
    const folded = wrapper.closest('details');
    if (folded) folded.open = true;
    wrapper.classList.add('field-error');
    const message = wrapper.querySelector('[data-error]');
    if (message) {
      message.textContent = text;
      message.hidden = false;
    }
    const control = this.#control(wrapper);
    control?.setAttribute('aria-invalid', 'true');
    return this.#item(wrapper.dataset.field, text);
  }

  // The control to mark and focus: the field's chosen one if it can take focus now (a picker's
  // text box is hidden once a pupil is chosen), else the first that can.
  #control(wrapper) {
    const candidates = [
      ...wrapper.querySelectorAll('[data-focus]'),
      ...wrapper.querySelectorAll('input:not([type=hidden]), select, textarea, button'),
    ];
    return candidates.find((el) => !el.disabled && el.getClientRects().length > 0) ?? null;
  }

  #item(fieldName, text) {
    const li = document.createElement('li');
    if (!fieldName) {
      li.textContent = text;
      return li;
    }
    const link = document.createElement('a');
    link.href = '#';
    link.dataset.target = fieldName;
    link.textContent = text;
    li.append(link);
    return li;
  }

  #focus(fieldName) {
    const wrapper = this.form.querySelector(`[data-field="${CSS.escape(fieldName)}"]`);
    if (!wrapper) return;
    const control = this.#control(wrapper);
    wrapper.scrollIntoView({ block: 'center' });
    (control ?? wrapper).focus({ preventScroll: true });
  }
}
