// Attaching files (policy step 7): several at once or one after another, each listed with its
// name and size and removable; too large or the wrong type is refused here, before sending.
// The server checks each file's content again; this only saves a wasted upload.

// "48 bytes", "3.4 KB", "120 KB", "20 MB": one decimal only below 10, never a trailing ".0",
// and a file of a few bytes is not rounded up to a kilobyte.
function rounded(value) {
  return value < 9.95 ? Math.round(value * 10) / 10 : Math.round(value);
}

export function formatSize(bytes) {
  if (bytes < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  const kilobytes = rounded(bytes / 1024);
  if (kilobytes < 1024) return `${kilobytes.toLocaleString('en-GB')} KB`;
  return `${rounded(bytes / (1024 * 1024)).toLocaleString('en-GB')} MB`;
}

function extension(name) {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot).toLowerCase();
}

export class FilePicker extends EventTarget {
  // root holds an <input type=file>, [data-file-list] (<ul>) and [data-file-problems].
  constructor(root, { maxBytes, acceptedTypes = [], maxFiles = 10 }) {
    super();
    this.files = [];
    this.maxBytes = maxBytes;
    this.maxFiles = maxFiles;
    this.extensions = new Set(acceptedTypes.filter((type) => type.startsWith('.')));
    this.mimeTypes = new Set(acceptedTypes.filter((type) => !type.startsWith('.')));
    this.input = root.querySelector('input[type=file]');
    this.list = root.querySelector('[data-file-list]');
    this.problems = root.querySelector('[data-file-problems]');
    this.count = root.querySelector('[data-file-count]');
    if (acceptedTypes.length) this.input.accept = acceptedTypes.join(',');
    this.input.addEventListener('change', () => this.#take([...this.input.files]));
  }

  get value() {
    return [...this.files];
  }

  reset() {
    this.files = [];
    this.problems.replaceChildren();
    this.#render();
  }

  // A saved draft's files (File objects rebuilt from the encrypted draft).
  restore(files) {
    this.files = [...files];
    this.#render();
  }

  #take(chosen) {
    const refusals = [];
    for (const file of chosen) {
      const refusal = this.#refusal(file);
      if (refusal) refusals.push(refusal);
      else this.files.push(file);
    }
    // Clear the input so the same file can be chosen again after removing it.
    this.input.value = '';
    this.problems.replaceChildren(...refusals.map((text) => {
      const p = document.createElement('p');
      p.className = 'error-message';
      p.textContent = text;
      return p;
    }));
    this.#render();
  }

  #refusal(file) {
    if (this.files.length >= this.maxFiles) {
      return `“${file.name}” was not added: you can attach up to ${this.maxFiles} files.`;
    }
    if (file.size > this.maxBytes) {
      return `“${file.name}” is ${formatSize(file.size)}: `
        + `each file must be ${formatSize(this.maxBytes)} or smaller.`;
    }
    if (file.size === 0) return `“${file.name}” is empty.`;
    const known = this.extensions.has(extension(file.name)) || this.mimeTypes.has(file.type);
    if ((this.extensions.size || this.mimeTypes.size) && !known) {
      return `“${file.name}” is not a type Haven accepts: `
        + 'attach PDFs, pictures, Office documents or plain text.';
    }
    return null;
  }

  #render() {
    this.list.replaceChildren(...this.files.map((file) => {
      const li = document.createElement('li');
      li.className = 'file-item';
      const name = document.createElement('span');
      name.className = 'file-name';
      name.textContent = file.name;
      const size = document.createElement('span');
      size.className = 'file-size';
      size.textContent = formatSize(file.size);
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'button button-quiet';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove ${file.name}`);
      remove.addEventListener('click', () => {
        this.files = this.files.filter((kept) => kept !== file);
        this.#render();
        this.input.focus();
      });
      li.append(name, size, remove);
      return li;
    }));
    this.list.hidden = this.files.length === 0;
    if (this.count) {
      const n = this.files.length;
      this.count.textContent = n === 0 ? 'No files chosen' : `${n} ${n === 1 ? 'file' : 'files'} chosen`;
    }
    this.dispatchEvent(new CustomEvent('change'));
  }
}
