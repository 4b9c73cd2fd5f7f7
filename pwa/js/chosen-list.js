// The people chosen in a picker, shown as chips (name, details, a Remove button big enough for
// a finger). Shared by the pupil and staff pickers; the text is set as text, never as HTML.

export function chip({ title, details, removeLabel, buttonText = 'Remove', onRemove, extra }) {
  const li = document.createElement('li');
  li.className = 'chip';
  const text = document.createElement('span');
  text.className = 'chip-text';
  const strong = document.createElement('strong');
  strong.textContent = title;
  text.append(strong);
  if (details) {
    const small = document.createElement('span');
    small.className = 'chip-details';
    small.textContent = details;
    const pause = document.createElement('span');
    pause.className = 'visually-hidden';
    pause.textContent = ', ';
    text.append(pause, small);
  }
  if (extra) text.append(extra);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'button button-quiet chip-remove';
  button.textContent = buttonText;
  button.setAttribute('aria-label', removeLabel);
  button.addEventListener('click', onRemove);
  li.append(text, button);
  return li;
}

export function optionLines(li, title, details) {
  const name = document.createElement('span');
  name.className = 'option-name';
  name.textContent = title;
  li.append(name);
  if (details) {
    const pause = document.createElement('span');
    pause.className = 'visually-hidden';
    pause.textContent = ', '; // read out between the name and the details
    const meta = document.createElement('span');
    meta.className = 'option-meta';
    meta.textContent = details;
    li.append(pause, meta);
  }
}
