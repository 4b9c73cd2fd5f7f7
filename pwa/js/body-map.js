// The body map: front and back outlines; a tap (finger, pen or mouse) places a numbered mark,
// and each mark gets a kind and a note. Each mark is named by its region ("left forearm,
// front"); with a keyboard or screen reader the region is chosen from a list, which puts the
// mark at that region's centre, and the arrow keys fine-tune it. Marks can be removed before
// submitting. Positions are fractions (0..1) of the outline's width and height.

import { REGIONS, centreOf, regionAt } from './body-regions.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 200;
const HEIGHT = 420;
const TAP_SLOP_PX = 12;
const KEY_STEP = 0.01;
const SIDES = { front: 'Front', back: 'Back' };
const KIND_LABELS = { bruise: 'Bruise', cut: 'Cut', burn: 'Burn', mark: 'Mark', other: 'Other' };

// One side of a child's outline; the right-hand limbs are the left ones mirrored.
const TORSO = 'M64 78 C80 72 120 72 136 78 C140 110 140 140 138 160 C136 190 136 205 134 222 '
  + 'L66 222 C64 205 64 190 62 160 C60 140 60 110 64 78 Z';
const ARM = 'M64 80 C50 82 44 92 42 106 L34 170 L26 232 C24 242 26 250 34 250 C40 250 42 244 '
  + '42 236 L52 172 L62 120 Z';
const LEG = 'M70 216 L99 216 L97 300 L94 390 C94 402 90 408 82 408 L70 408 C64 408 64 400 72 392 '
  + 'L72 300 Z';

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function outline(side) {
  const svg = el('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT + 20}`,
    class: 'body-outline',
    // A group, not an image: it holds the marks, which take focus (an image's content is
    // never read out). The drawing itself says nothing to a screen reader.
    role: 'group',
    'aria-label': `${SIDES[side]} of the body: tap to place a mark`,
  });
  const body = el('g', { class: 'body-shape', 'aria-hidden': 'true' });
  body.append(
    el('ellipse', { cx: 100, cy: 38, rx: 24, ry: 28 }),
    el('rect', { x: 90, y: 62, width: 20, height: 16 }),
    el('path', { d: TORSO }),
    el('path', { d: ARM }),
    el('path', { d: ARM, transform: `translate(${WIDTH} 0) scale(-1 1)` }),
    el('path', { d: LEG }),
    el('path', { d: LEG, transform: `translate(${WIDTH} 0) scale(-1 1)` }),
  );
  if (side === 'back') body.append(el('path', { d: 'M100 86 L100 212', class: 'body-detail' }));
  else body.append(el('circle', { cx: 100, cy: 180, r: 2, class: 'body-detail' }));
  // From the front, the child's right is on the viewer's left; from the back, the other way.
  const [leftWord, rightWord] = side === 'front' ? ['Right', 'Left'] : ['Left', 'Right'];
  const words = el('g', { 'aria-hidden': 'true' });
  words.append(
    el('text', { x: 8, y: HEIGHT + 14, class: 'body-label' }, leftWord),
    el('text', { x: WIDTH - 8, y: HEIGHT + 14, class: 'body-label', 'text-anchor': 'end' },
      rightWord),
  );
  svg.append(body, words, el('g', { class: 'body-marks' }));
  return svg;
}

function position(mark) {
  return `translate(${mark.x * WIDTH} ${mark.y * HEIGHT})`;
}

function clamp(value) {
  return Math.min(1, Math.max(0, Math.round(value * 10000) / 10000));
}

export class BodyMap extends EventTarget {
  // root holds [data-body-sides] (where the outlines go), [data-body-marks] (an <ol>),
  // [data-body-status] (a polite live region) and buttons [data-add-mark=front|back].
  constructor(root, kinds) {
    super();
    this.root = root;
    this.kinds = kinds;
    this.marks = [];
    this.nextKey = 1;
    this.svgs = {};
    this.list = root.querySelector('[data-body-marks]');
    this.status = root.querySelector('[data-body-status]');
    const sides = root.querySelector('[data-body-sides]');
    for (const side of Object.keys(SIDES)) {
      const figure = document.createElement('figure');
      figure.className = 'body-side';
      const caption = document.createElement('figcaption');
      caption.textContent = SIDES[side];
      const svg = outline(side);
      this.svgs[side] = svg;
      this.#listen(svg, side);
      figure.append(svg, caption);
      sides.append(figure);
    }
    for (const button of root.querySelectorAll('[data-add-mark]')) {
      // From a button (keyboard, switch, screen reader): the new mark's place is then chosen
      // from the list of regions, which takes focus.
      button.addEventListener('click', () => this.add(button.dataset.addMark, 0.5, 0.35, true));
    }
  }

  // Where a mark is, in words: "left forearm, front".
  static regionOf(mark) {
    return regionAt(mark.side, mark.x, mark.y).label;
  }

  get value() {
    return this.marks.map(({ side, x, y, kind, note }) => ({
      side, x, y, kind, note: note.trim(),
    }));
  }

  add(side, x, y, focusPin = false) {
    const mark = { key: this.nextKey++, side, x: clamp(x), y: clamp(y), kind: '', note: '' };
    this.marks.push(mark);
    this.#render();
    const number = this.marks.length;
    const where = BodyMap.regionOf(mark);
    this.#say(focusPin
      ? `Mark ${number} added on the ${where}. Choose where it is from the list.`
      : `Mark ${number} placed on the ${where}. Choose its kind below.`);
    if (focusPin) this.list.querySelector(`#body-mark-${mark.key}-region`)?.focus();
    this.#changed();
    return mark;
  }

  remove(mark) {
    const index = this.marks.indexOf(mark);
    this.marks.splice(index, 1);
    this.#render();
    this.#say(`Mark ${index + 1} removed.`);
    const next = this.list.querySelectorAll('.body-mark')[Math.min(index, this.marks.length - 1)];
    (next?.querySelector('button') ?? this.root.querySelector('[data-add-mark]')).focus();
    this.#changed();
  }

  reset() {
    this.marks = [];
    this.#render();
  }

  // A saved draft's marks, with their kinds and notes.
  restore(marks) {
    this.marks = marks.map(({ side, x, y, kind, note }) => ({
      key: this.nextKey++, side, x: clamp(x), y: clamp(y), kind: kind || '', note: note || '',
    }));
    this.#render();
    this.#changed();
  }

  // Checked before sending: every mark needs its kind. Returns the messages, first mark first.
  problems() {
    return this.marks.flatMap((mark, index) => (mark.kind ? [] : [
      `Choose what kind of mark number ${index + 1} is`,
    ]));
  }

  #listen(svg, side) {
    let start = null;
    svg.addEventListener('pointerdown', (event) => {
      if (!event.isPrimary || event.button > 0) return;
      start = { id: event.pointerId, x: event.clientX, y: event.clientY };
    });
    svg.addEventListener('pointercancel', () => { start = null; });
    svg.addEventListener('pointerup', (event) => {
      if (!start || event.pointerId !== start.id) return;
      const moved = Math.hypot(event.clientX - start.x, event.clientY - start.y) > TAP_SLOP_PX;
      start = null;
      if (moved) return;
      const existing = event.target.closest('.body-pin');
      if (existing) {
        // Tapping a mark shows its details below rather than placing another on top of it.
        existing.focus();
        this.list.querySelector(`[data-key="${existing.dataset.key}"]`)
          ?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
        return;
      }
      // Focus stays put (on an iPad, focusing the kind now would pop up its picker before
      // the next mark is placed); the live region says what happened.
      const point = this.#toOutline(svg, event);
      this.add(side, point.x, point.y);
    });
  }

  #toOutline(svg, event) {
    const matrix = svg.getScreenCTM().inverse();
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix);
    return { x: point.x / WIDTH, y: point.y / HEIGHT };
  }

  #markNode(mark) {
    return this.svgs[mark.side].querySelector(`.body-pin[data-key="${mark.key}"]`);
  }

  #render() {
    for (const svg of Object.values(this.svgs)) svg.querySelector('.body-marks').replaceChildren();
    this.marks.forEach((mark, index) => {
      this.svgs[mark.side].querySelector('.body-marks').append(this.#drawMark(mark, index + 1));
    });
    this.list.replaceChildren(...this.marks.map((mark, index) => this.#markRow(mark, index + 1)));
    this.list.hidden = this.marks.length === 0;
    this.#pointErrorsAtTheKind();
  }

  // The error summary's link for the body map (form-errors.js) focuses the field's
  // [data-focus] control: the kind of the first mark without one, when there is such a mark,
  // so that Enter there never adds another mark; otherwise the first "Add a mark" button.
  #pointErrorsAtTheKind() {
    for (const node of this.root.querySelectorAll('[data-focus]')) node.removeAttribute('data-focus');
    const missing = this.marks.find((mark) => !mark.kind);
    const target = missing
      ? this.list.querySelector(`#body-mark-${missing.key}-kind`)
      : this.root.querySelector('[data-add-mark]');
    target?.setAttribute('data-focus', '');
  }

  #pinLabel(mark, number) {
    return `Mark ${number}, ${BodyMap.regionOf(mark)}: move it with the arrow keys, `
      + 'press Enter to choose its place from a list, or Delete to remove it';
  }

  #drawMark(mark, number) {
    const group = el('g', {
      class: 'body-pin',
      'data-key': mark.key,
      tabindex: 0,
      role: 'button',
      'aria-label': this.#pinLabel(mark, number),
      transform: position(mark),
    });
    group.append(
      el('circle', { r: 11 }),
      el('text', { 'text-anchor': 'middle', dy: '0.35em' }, number),
    );
    group.addEventListener('keydown', (event) => this.#onMarkKey(event, mark));
    return group;
  }

  #onMarkKey(event, mark) {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key === 'Delete' || event.key === 'Backspace') {
      event.preventDefault();
      this.remove(mark);
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this.list.querySelector(`#body-mark-${mark.key}-region`)?.focus();
      return;
    }
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const step = event.shiftKey ? KEY_STEP * 5 : KEY_STEP;
    const before = BodyMap.regionOf(mark);
    mark.x = clamp(mark.x + move[0] * step);
    mark.y = clamp(mark.y + move[1] * step * (WIDTH / HEIGHT));
    this.#moved(mark, before);
  }

  // After a move: the drawing, the mark's name and its row follow; a new region is said aloud.
  #moved(mark, before) {
    const number = this.marks.indexOf(mark) + 1;
    const node = this.#markNode(mark);
    node.setAttribute('transform', position(mark));
    node.setAttribute('aria-label', this.#pinLabel(mark, number));
    const where = BodyMap.regionOf(mark);
    const row = this.list.querySelector(`[data-key="${mark.key}"]`);
    if (row) {
      row.querySelector('.body-mark-title').textContent = `Mark ${number} – ${where}`;
      row.querySelector('select[data-region]').value = `${mark.side}:${regionAt(mark.side, mark.x, mark.y).key}`;
    }
    if (where !== before) this.#say(`Mark ${number} is now on the ${where}.`);
    this.#changed();
  }

  // Choosing a region from the list moves the mark to its centre (on either side of the body).
  #placeAt(mark, value) {
    const [side, key] = value.split(':');
    const region = REGIONS[side]?.find((candidate) => candidate.key === key);
    if (!region) return;
    const { x, y } = centreOf(region);
    if (side !== mark.side) {
      mark.side = side;
      mark.x = x;
      mark.y = y;
      const focused = document.activeElement?.id;
      this.#render();
      if (focused) document.getElementById(focused)?.focus();
      this.#say(`Mark ${this.marks.indexOf(mark) + 1} is now on the ${region.label}.`);
      this.#changed();
      return;
    }
    const before = BodyMap.regionOf(mark);
    mark.x = x;
    mark.y = y;
    this.#moved(mark, before);
  }

  #regionField(mark, number, id) {
    const field = document.createElement('div');
    field.className = 'field';
    const label = document.createElement('label');
    label.htmlFor = `${id}-region`;
    label.textContent = `Where is mark ${number}?`;
    const select = document.createElement('select');
    select.id = `${id}-region`;
    select.dataset.region = '';
    for (const [side, regions] of Object.entries(REGIONS)) {
      const group = document.createElement('optgroup');
      group.label = SIDES[side];
      for (const region of regions) group.append(new Option(region.label, `${side}:${region.key}`));
      select.append(group);
    }
    select.value = `${mark.side}:${regionAt(mark.side, mark.x, mark.y).key}`;
    select.addEventListener('change', () => this.#placeAt(mark, select.value));
    field.append(label, select);
    return field;
  }

  #markRow(mark, number) {
    const li = document.createElement('li');
    li.className = 'body-mark';
    li.dataset.key = String(mark.key);
    const id = `body-mark-${mark.key}`;

    const heading = document.createElement('p');
    heading.className = 'body-mark-title';
    heading.textContent = `Mark ${number} – ${BodyMap.regionOf(mark)}`;

    const kindField = document.createElement('div');
    kindField.className = 'field';
    const kindLabel = document.createElement('label');
    kindLabel.htmlFor = `${id}-kind`;
    kindLabel.textContent = `Kind of mark ${number}`;
    const select = document.createElement('select');
    select.id = `${id}-kind`;
    select.required = true;
    select.append(new Option('Choose…', ''));
    for (const kind of this.kinds) select.append(new Option(KIND_LABELS[kind] ?? kind, kind));
    select.value = mark.kind;
    select.addEventListener('change', () => {
      mark.kind = select.value;
      this.#pointErrorsAtTheKind();
      this.#changed();
    });
    kindField.append(kindLabel, select);

    const noteField = document.createElement('div');
    noteField.className = 'field';
    const noteLabel = document.createElement('label');
    noteLabel.htmlFor = `${id}-note`;
    noteLabel.textContent = `Note on mark ${number} (optional)`;
    const note = document.createElement('input');
    note.type = 'text';
    note.id = `${id}-note`;
    note.maxLength = 500;
    note.value = mark.note;
    note.setAttribute('aria-describedby', 'body-mark-note-hint');
    note.addEventListener('input', () => { mark.note = note.value; });
    noteField.append(noteLabel, note);

    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'button button-quiet';
    remove.textContent = `Remove mark ${number}`;
    remove.addEventListener('click', () => this.remove(mark));

    li.append(heading, this.#regionField(mark, number, id), kindField, noteField, remove);
    return li;
  }

  #say(message) {
    if (this.status) this.status.textContent = message;
  }

  #changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }
}
