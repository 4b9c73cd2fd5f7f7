// The Add Incident page: loads what the form needs as JSON (the page itself holds no personal
// data), wires the parts together, checks the answers, and hands the incident to the submit
// queue, which sends it with its UUID and reports back (receipt, waiting, refused).

import { AlertPreview } from './alert-preview.js';
import { getJSON } from './api.js';
import { BodyMap } from './body-map.js';
import { checkedIds, renderAgencies, renderCategories } from './choices.js';
import { FilePicker, formatSize } from './file-picker.js';
import { FormErrors } from './form-errors.js';
import { PupilPicker, RosterIndex } from './pupil-picker.js';
import { keepSessionWhileTyping } from './session-activity.js';
import { StaffPicker } from './staff-picker.js';
import { newUuid, SubmitQueue } from './submit-queue.js';

const $ = (selector) => document.querySelector(selector);
const form = $('#incident-form');
const errors = new FormErrors(form, $('#error-summary'));
const queue = new SubmitQueue();
const parts = {};
let draftUuid = newUuid();

// --- Time: the form shows local time; the server gets ISO 8601 with the offset. -------------

const pad = (n) => String(Math.abs(n)).padStart(2, '0');

function localInputValue(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
    + `T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function isoWithOffset(date) {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return `${localInputValue(date)}:00${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
}

function setNow() {
  const input = $('#occurred-at');
  const now = localInputValue(new Date());
  input.value = now;
  input.max = now;
}

// --- Loading -----------------------------------------------------------------------------

async function load() {
  $('#load-problem').hidden = true;
  $('#form-loading').hidden = false;
  try {
    const [vocabulary, roster, staff] = await Promise.all([
      getJSON('/api/incident-form'), getJSON('/api/roster'), getJSON('/api/staff'),
    ]);
    build(vocabulary, roster, staff);
    form.hidden = false;
    $('#form-loading').hidden = true;
    document.documentElement.dataset.incidentForm = 'ready';
  } catch (error) {
    $('#form-loading').hidden = true;
    $('[data-load-message]').textContent = loadProblem(error);
    $('[data-retry-load]').hidden = !error.kind; // a fault in the page itself needs a reload
    $('#load-problem').hidden = false;
    $('#load-problem').focus();
  }
}

function loadProblem(error) {
  if (error.kind === 'signed-out') {
    return 'You have been signed out. Sign in again, then come back to this page.';
  }
  if (error.kind === 'network') return `${error.message} Check the connection and try again.`;
  if (error.kind) return error.message;
  console.error(error);
  return 'Something went wrong while setting up the form. Reload the page to try again.';
}

function build(vocabulary, roster, staff) {
  const index = new RosterIndex(roster);
  parts.pupil = new PupilPicker($('#pupil-picker'), index);
  parts.linked = new PupilPicker($('#linked-picker'), index, {
    multiple: true,
    exclude: () => [parts.pupil.value].filter((id) => id !== null),
  });
  parts.staff = new StaffPicker($('#staff-picker'), staff, { exclude: () => [vocabulary.me.id] });
  parts.bodyMap = new BodyMap($('#body-map'), vocabulary.body_mark_kinds);
  parts.files = new FilePicker($('#file-picker'), {
    maxBytes: vocabulary.max_file_bytes,
    acceptedTypes: vocabulary.accepted_file_types,
  });
  $('[data-max-size]').textContent = formatSize(vocabulary.max_file_bytes);
  renderCategories($('#categories'), vocabulary.categories, vocabulary.can_choose_dsl_only);
  renderAgencies($('#agencies'), vocabulary.agencies);
  parts.preview = new AlertPreview($('#alert-preview'), previewRequest);
  wire();
  setNow();
  collapseGuidanceOnNarrowScreens();
}

function wire() {
  parts.pupil.addEventListener('change', () => {
    if (parts.pupil.value !== null) parts.linked.drop(parts.pupil.value);
    parts.preview.refresh();
  });
  parts.linked.addEventListener('change', () => parts.preview.refresh());
  parts.staff.addEventListener('change', () => parts.preview.refresh());
  $('#categories').addEventListener('change', () => parts.preview.refresh());
  parts.preview.addEventListener('refused', (event) => {
    parts.staff.markRefused(event.detail.reasons);
  });
  for (const radio of form.querySelectorAll('input[name=parents_contacted]')) {
    radio.addEventListener('change', showParentsReason);
  }
  $('#occurred-at').addEventListener('focus', () => {
    $('#occurred-at').max = localInputValue(new Date());
  });
  form.addEventListener('submit', submit);
  keepSessionWhileTyping(form);
}

function collapseGuidanceOnNarrowScreens() {
  if (window.matchMedia('(max-width: 61.99rem)').matches) $('#account-guidance').open = false;
}

function showParentsReason() {
  const answer = form.querySelector('input[name=parents_contacted]:checked')?.value;
  $('#parents-reason-field').hidden = !answer || answer === 'yes';
}

function previewRequest() {
  if (parts.pupil.value === null) return null;
  return {
    pupil_id: parts.pupil.value,
    linked_pupil_ids: parts.linked.value,
    category_ids: checkedIds($('#categories')),
    extra_recipient_ids: parts.staff.value,
  };
}

// --- The incident ------------------------------------------------------------------------

function radioValue(name) {
  return form.querySelector(`input[name=${name}]:checked`)?.value ?? '';
}

function collect() {
  const parents = radioValue('parents_contacted');
  const behalfName = $('#behalf-name').value.trim();
  const behalfRole = $('#behalf-role').value.trim();
  const when = $('#occurred-at').value;
  return {
    uuid: draftUuid,
    pupil_id: parts.pupil.value,
    occurred_at: when ? isoWithOffset(new Date(when)) : '',
    location: $('#location').value.trim(),
    account: $('#account').value.trim(),
    parents_contacted: parents,
    parents_reason: parents && parents !== 'yes' ? $('#parents-reason').value.trim() : '',
    medical_attention: radioValue('medical_attention'),
    body_marks: parts.bodyMap.value,
    category_ids: checkedIds($('#categories')),
    linked_pupil_ids: parts.linked.value,
    extra_recipient_ids: parts.staff.value,
    agency_ids: checkedIds($('#agencies')),
    urgent: $('#urgent').checked,
    on_behalf: behalfName || behalfRole ? { name: behalfName, role: behalfRole } : null,
  };
}

// The same rules the server applies, checked first so nobody waits for a refusal.
function problems(incident) {
  const found = {};
  if (incident.pupil_id === null) found.pupil_id = 'Choose the pupil from the list';
  const when = $('#occurred-at').value;
  if (!when || Number.isNaN(new Date(when).getTime())) {
    found.occurred_at = 'Enter the date and time it happened';
  } else if (new Date(when) > new Date()) {
    found.occurred_at = 'The date and time it happened cannot be in the future';
  }
  if (!incident.account) found.account = 'Write your account of what happened';
  if (!incident.parents_contacted) {
    found.parents_contacted = 'Say whether parents or carers have been contacted';
  } else if (incident.parents_contacted !== 'yes' && !incident.parents_reason) {
    found.parents_reason = 'Say why parents or carers have not been contacted';
  }
  const [markProblem] = parts.bodyMap.problems();
  if (markProblem) found.body_marks = markProblem;
  if (!incident.medical_attention) {
    found.medical_attention = 'Say whether medical attention has been sought';
  }
  if (incident.category_ids.length === 0) found.category_ids = 'Choose at least one category';
  const refused = incident.extra_recipient_ids.filter((id) => parts.staff.refused.has(id));
  if (refused.length) {
    found.extra_recipient_ids = `Remove ${refused.map((id) => parts.staff.name(id)).join(', ')}: `
      + 'they may not be alerted to this incident';
  }
  if (incident.on_behalf && !(incident.on_behalf.name && incident.on_behalf.role)) {
    found.on_behalf = 'Give both the name and the role of the person you are recording for';
  }
  return found;
}

// --- Sending -----------------------------------------------------------------------------

function submit(event) {
  event.preventDefault();
  if (queue.has(draftUuid)) return;
  errors.clear();
  const incident = collect();
  const found = problems(incident);
  if (Object.keys(found).length) {
    errors.show(found);
    return;
  }
  setLocked(true);
  queue.add({ uuid: draftUuid, incident, files: parts.files.value });
}

function setLocked(locked) {
  $('[data-form-body]').disabled = locked;
  $('[data-submit]').textContent = locked ? 'Sending…' : 'Add incident';
}

function showQueue({ size, reason, sending }) {
  const box = $('#queue-status');
  const wasShowingReason = !box.hidden && !box.dataset.sending;
  box.hidden = size === 0;
  if (size === 0) return;
  box.dataset.sending = sending ? 'yes' : '';
  $('[data-submit]').textContent = sending ? 'Sending…' : 'Waiting to send';
  const count = `${size} ${size === 1 ? 'incident' : 'incidents'}`;
  const message = box.querySelector('[data-queue-message]');
  const signIn = box.querySelector('[data-sign-in]');
  signIn.hidden = reason?.kind !== 'signed-out';
  if (sending) {
    message.textContent = `Sending ${count}…`;
  } else if (reason?.kind === 'signed-out') {
    message.textContent = `${count} waiting to send: you have been signed out. `
      + 'What you wrote is kept on this page: sign in again in a new tab, then come back here '
      + 'and press Send now.';
  } else if (reason) {
    message.textContent = `${count} waiting to send. ${reason.message} `
      + 'It is kept here: press Send now when the connection is back. Do not close this page.';
  } else {
    message.textContent = `${count} waiting to send.`;
  }
  box.querySelector('[data-send-now]').disabled = sending;
  // The button that was pressed is now disabled, so focus moves to why it has not gone yet.
  if (!sending && reason && !wasShowingReason) box.focus();
}

function showReceipt({ receipt }) {
  setLocked(false);
  form.hidden = true;
  errors.clear();
  const heading = $('[data-receipt-heading]');
  heading.textContent = `Incident #${receipt.number} recorded`;
  const link = $('[data-receipt-link]');
  link.href = receipt.url;
  link.textContent = `View incident #${receipt.number}`;
  $('#receipt').hidden = false;
  heading.focus();
}

function showRefusal({ error }) {
  setLocked(false);
  const fields = error.body?.fields ?? {};
  if (fields.uuid) draftUuid = newUuid(); // that identifier is spent: the next send gets a new one
  if (error.kind === 'too-large') {
    errors.show({
      files: 'The files are too large to send together: attach fewer or smaller files',
    });
  } else if (error.kind === 'forbidden') {
    errors.show({}, error.message);
  } else {
    errors.show(fields, error.message);
  }
}

function recordAnother() {
  draftUuid = newUuid();
  form.reset();
  for (const part of ['pupil', 'linked', 'staff', 'bodyMap', 'files']) parts[part].reset();
  errors.clear();
  showParentsReason();
  setNow();
  parts.preview.refresh();
  $('#receipt').hidden = true;
  form.hidden = false;
  $('#pupil-search').focus();
}

queue.addEventListener('change', (event) => showQueue(event.detail));
queue.addEventListener('sent', (event) => showReceipt(event.detail));
queue.addEventListener('refused', (event) => showRefusal(event.detail));
$('[data-send-now]').addEventListener('click', () => queue.flush());
$('[data-record-another]').addEventListener('click', recordAnother);
$('[data-retry-load]').addEventListener('click', load);
load();
