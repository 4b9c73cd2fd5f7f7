// Pages the server sent back with errors (templates/_forms.html): once someone changes an answer
// that was marked, it stops being marked — red border, message and its line in the summary — instead
// of staying red until the next submit. Only the server can say whether the new answer is right,
// so a still-wrong answer is marked again when the form is sent.

export function settleServerErrors(root = document) {
  const summary = root.querySelector('main .error-summary');
  for (const wrapper of root.querySelectorAll('main .field.field-error')) {
    const settle = () => unmark(wrapper, summary);
    wrapper.addEventListener('input', settle, { once: true });
    wrapper.addEventListener('change', settle, { once: true });
  }
}

function unmark(wrapper, summary) {
  if (!wrapper.classList.contains('field-error')) return;
  wrapper.classList.remove('field-error');
  wrapper.querySelector('.error-message')?.setAttribute('hidden', '');
  for (const control of wrapper.querySelectorAll('[aria-invalid]')) {
    control.removeAttribute('aria-invalid');
  }
  if (!summary) return;
  for (const link of summary.querySelectorAll('a[href^="#"]')) {
    const target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (target && wrapper.contains(target)) link.closest('li')?.remove();
  }
  if (!summary.querySelector('li')) summary.hidden = true;
}
