// The Add Incident page: loads what the form needs as JSON (the page itself holds no personal
// data), wires the parts together, checks the answers, and hands the incident on with its UUID.
//
// With this device enrolled (SPEC §5) the form works with no connection: what it needs comes
// from encrypted snapshots when Haven cannot be reached, what is typed is saved as an encrypted
// draft, and "Add incident" seals the incident into the outbox, which sends it now or later.
// The same page is the app shell the service worker keeps (main[data-app-shell]): there it
// opens with the offline PIN. Where this browser cannot keep keys, the in-memory submit queue
// sends it online as before.

import { AlertPreview, person } from './alert-preview.js';
import { ApiError } from './api.js';
import { BodyMap } from './body-map.js';
import { checkedIds, renderAgencies, renderCategories } from './choices.js';
import { FilePicker, formatSize } from './file-picker.js';
import { FormErrors } from './form-errors.js';
import { pupilDetails, PupilPicker, pupilTitle, RosterIndex } from './pupil-picker.js';
import { StaffPicker } from './staff-picker.js';
import { newUuid, SubmitQueue } from './submit-queue.js';
import { cryptoAvailable } from './device-crypto.js';
import { get } from './idb.js';

const $ = (selector) => document.querySelector(selector);
// This device's keys, drafts and outbox (SPEC §5) load beside the form, not before it: a first
// visit on a slow link would otherwise wait for eight more files. `onDevice` holds them once
// loaded, which is always before `device` is set (openDevice).
let onDevice = null;
const loadOnDevice = () => Promise.all([
  import('./device.js'), import('./device-lock.js'), import('./drafts.js'), import('./outbox.js'),
]).then((modules) => Object.assign({}, ...modules));
const form = $('#incident-form');
const main = $('main');
const errors = new FormErrors(form, $('#error-summary'));
const queue = new SubmitQueue();
const parts = {};
const check = $('#check-before-send');
// Filled by build(): the school's categories by id, and the roster to describe the chosen pupil.
const known = { categories: new Map(), roster: null };
// The fields problems() checks here: only these stop being marked as soon as they are put right.
const CHECKED_HERE = new Set(['pupil_id', 'occurred_at', 'account', 'parents_contacted',
  'parents_reason', 'body_marks', 'medical_attention', 'category_ids', 'extra_recipient_ids',
  'on_behalf']);
const appShell = main.hasAttribute('data-app-shell');
const SAVE_DELAY_MS = 400;
// What the form needs, by the names it is kept under on the device.
const DATA = ['vocabulary', 'roster', 'staff'];
let draftUuid = newUuid();
// The device being opened (openDevice): sending and drafts wait for it, the form does not.
let opening = Promise.resolve();
let rosterEtag = null;
// This device, when it can keep keys: {userId, deviceId, signingKey}.
let device = null;
let deviceLock = null;
let saveTimer = null;
let queuedUuid = null;
let checkTicket = 0;
// How long "Check before you send" waits to hear who will be alerted before saying it cannot.
const PREVIEW_WAIT_MS = 5000;

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
    // The device's keys take a round trip (or the PIN), the form's data another: both are
    // asked for at once, and the form waits for the keys only where it needs them (a draft to
    // bring back, or no connection).
    opening = openDevice();
    opening.catch(() => {}); // awaited below, or by whatever needs the keys
    const data = await loadData();
    build(...data);
    if (appShell || await draftWaiting()) {
      await opening;
      await restoreDraft();
      ready();
      keepSnapshots(data);
      return;
    }
    ready();
    await settleDevice();
    keepSnapshots(data);
  } catch (error) {
    $('#form-loading').hidden = true;
    $('[data-load-message]').textContent = loadProblem(error);
    $('[data-retry-load]').hidden = !error.kind; // a fault in the page itself needs a reload
    $('#load-problem').hidden = false;
    $('#load-problem').focus();
  }
}

function ready() {
  form.hidden = false;
  $('#form-loading').hidden = true;
  document.documentElement.dataset.incidentForm = 'ready';
  // Shown by Lighthouse and DevTools among the page's timings (bench/form_ready.py).
  performance.mark?.('haven:incident-form-ready');
}

// Only a draft kept on this device needs the keys before the form can be used; whether there
// is one can be read without them.
async function draftWaiting() {
  const userId = Number(document.querySelector('meta[name="haven-user"]')?.content);
  if (!cryptoAvailable() || !userId) return false;
  return Boolean(await get('drafts', userId).catch(() => null));
}

// The form is in use while the device opens: once it has, what was typed meanwhile is saved.
// A device that cannot be opened leaves the form sending online, as in a browser without keys.
async function settleDevice() {
  try {
    await opening;
  } catch (error) {
    console.warn('Haven could not open this device’s keys:', error);
    return;
  }
  if (main.dataset.unsentWork === 'yes') saveNow();
}

// --- This device: its keys, and the data kept for use with no connection ----------------------

async function openDevice() {
  if (!cryptoAvailable()) return;
  onDevice ??= await loadOnDevice();
  const { DeviceLock, deviceRecord, offerPinSetup, prefetchSealingKey, unlockOnline } = onDevice;
  const userId = appShell ? (await get('meta', 'lastUser').catch(() => null))?.userId
    : Number(document.querySelector('meta[name="haven-user"]')?.content);
  if (!userId) {
    if (appShell) throw new ApiError('network', 0, { message: NOT_SET_UP });
    return;
  }
  deviceLock = new DeviceLock({
    userId,
    idleSeconds: Number(main.dataset.idleSeconds) || 600,
    beforeLock: saveNow,
  });
  if (appShell) {
    await deviceLock.unlockWithPin('Haven cannot be reached, so enter your offline PIN to open '
      + 'the form. What you record is sent when the connection is back.')
      .catch((error) => { throw new ApiError('network', 0, { message: error.message }); });
  } else {
    try {
      if (!(await unlockOnline(userId))) return;
      // Fetched now, not when sending: the connection may go before the author presses "Add
      // incident". Not awaited (it never throws): the form need not wait one more round trip.
      prefetchSealingKey();
    } catch (error) {
      if (error.kind !== 'network' && error.kind !== 'server') throw error;
      await deviceLock.unlockWithPin('Haven cannot be reached just now. Enter your offline PIN '
        + 'to carry on: what you record is sent when the connection is back.');
    }
    offerPinSetup(userId, () => deviceLock.refreshPin());
  }
  const record = await deviceRecord(userId);
  if (record) device = { userId, deviceId: record.deviceId, signingKey: record.signingKey };
  followTheBlankScreen();
  document.addEventListener('haven:idle-offline', (event) => {
    if (!deviceLock?.hasPin) return;
    event.preventDefault();
    deviceLock.lockNow('Haven cannot be reached, and for safety it locked after 10 minutes '
      + 'without activity. What you were writing is kept. Enter your offline PIN to carry on.');
  });
}

const NOT_SET_UP = 'This device has not been set up to record with no connection. Connect to '
  + 'Haven and sign in once, and set an offline PIN when it asks.';

// Online, in the page itself (templates/incidents/new.html); in the app shell, from the copy
// kept on the device, encrypted, once the PIN has opened it.
async function loadData() {
  const embedded = document.getElementById('form-data');
  if (embedded) {
    const data = JSON.parse(embedded.textContent);
    rosterEtag = data.roster_etag;
    return DATA.map((name) => data[name]);
  }
  await opening;
  const kept = device && onDevice.dataKey()
    ? await Promise.all(DATA.map((name) => onDevice.loadSnapshot(onDevice.dataKey(),
      device.userId, name)))
    : [];
  if (kept.length === 0 || kept.some((value) => !value)) {
    throw new ApiError('network', 0, { message: NOT_SET_UP });
  }
  main.dataset.offline = 'yes';
  return kept;
}

// What came with the page, kept encrypted for use with no connection. The roster keeps its ETag (so
// the app's background refresh is told 304) and is encrypted again only when it changed.
async function keepSnapshots([vocabulary, roster, staff]) {
  if (main.dataset.offline === 'yes' || !device || !onDevice.dataKey()) return;
  const { userId } = device;
  const key = onDevice.dataKey();
  const keptRoster = await get('snapshots', `${userId}:roster`).catch(() => null);
  await Promise.all([
    onDevice.saveSnapshot(key, userId, 'vocabulary', vocabulary),
    onDevice.saveSnapshot(key, userId, 'staff', staff),
    rosterEtag && keptRoster?.etag === rosterEtag ? null
      : onDevice.saveSnapshot(key, userId, 'roster', roster, rosterEtag),
  ]).catch(() => {});
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
  known.roster = index;
  known.categories = new Map(vocabulary.categories.map((c) => [c.id, c.full_name]));
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
  showRecap();
  collapseGuidanceOnNarrowScreens();
}

function wire() {
  parts.pupil.addEventListener('change', () => {
    if (parts.pupil.value !== null) parts.linked.drop(parts.pupil.value);
    parts.preview.refresh();
    showRecap();
  });
  $('#urgent').addEventListener('change', showRecap);
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
  // Nothing sends from the form itself: "Add incident" is not a submit button, so the browser
  // has no implicit submission, and sending needs "Yes, add it now" in "Check before you send".
  form.addEventListener('submit', (event) => event.preventDefault());
  $('[data-submit]').addEventListener('click', checkBeforeSending);
  check.querySelector('[data-confirm-send]').addEventListener('click', confirmSending);
  check.querySelector('[data-check-back]').addEventListener('click', () => check.close());
  // Enter in a one-line box must never send: an incident cannot be edited once it is added.
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target instanceof HTMLInputElement
      && event.target.type !== 'submit') event.preventDefault();
  });
  // Needed only once someone has typed for a minute: loaded after the form.
  import('./session-activity.js').then(({ keepSessionWhileTyping }) => keepSessionWhileTyping(form));
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  for (const part of ['pupil', 'linked', 'staff', 'bodyMap', 'files']) {
    parts[part].addEventListener('change', changed);
  }
}

// The blank screen hides the page and locks the session: the draft is saved and the key leaves
// memory with it; unlocking with the password brings the key back from the server.
function followTheBlankScreen() {
  new MutationObserver(async () => {
    const blanked = document.documentElement.classList.contains('blanked');
    if (blanked && onDevice.dataKey()) {
      await saveNow();
      onDevice.lock();
    } else if (!blanked && device && !onDevice.dataKey() && !appShell) {
      try {
        await onDevice.unlockOnline(device.userId);
      } catch {
        await deviceLock.unlockWithPin('Haven cannot be reached just now. Enter your offline PIN '
          + 'to carry on.').catch(() => {});
      }
    }
  }).observe(document.documentElement, { attributes: true, attributeFilter: ['class'] });
}

// --- The draft, saved as it is typed ----------------------------------------------------------

function changed() {
  errors.settle(problems(collect()), CHECKED_HERE);
  main.dataset.unsentWork = 'yes';
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
}

async function saveNow() {
  clearTimeout(saveTimer);
  if (!device || !onDevice.dataKey() || main.dataset.unsentWork !== 'yes'
    || queue.has(draftUuid)) return;
  try {
    await onDevice.saveDraft(onDevice.dataKey(), device.userId, {
      fields: { ...collect(), occurred_local: $('#occurred-at').value },
      files: parts.files.value,
    });
    main.dataset.draftSaved = String(Date.now());
  } catch (error) {
    console.warn('The draft could not be saved on this device:', error);
  }
}

async function restoreDraft() {
  if (!device || !onDevice.dataKey()) return;
  const draft = await onDevice.loadDraft(onDevice.dataKey(), device.userId);
  if (!draft) return;
  const { fields } = draft;
  if (fields.uuid) draftUuid = fields.uuid;
  parts.pupil.restore(fields.pupil_id === null ? [] : [fields.pupil_id]);
  parts.linked.restore(fields.linked_pupil_ids ?? []);
  parts.staff.restore(fields.extra_recipient_ids ?? []);
  parts.bodyMap.restore(fields.body_marks ?? []);
  parts.files.restore(draft.files);
  if (fields.occurred_local) $('#occurred-at').value = fields.occurred_local;
  $('#location').value = fields.location ?? '';
  $('#account').value = fields.account ?? '';
  $('#parents-reason').value = fields.parents_reason ?? '';
  $('#behalf-name').value = fields.on_behalf?.name ?? '';
  $('#behalf-role').value = fields.on_behalf?.role ?? '';
  $('#urgent').checked = Boolean(fields.urgent);
  for (const [name, value] of [['parents_contacted', fields.parents_contacted],
    ['medical_attention', fields.medical_attention]]) {
    const radio = form.querySelector(`input[name=${name}][value="${CSS.escape(value ?? '')}"]`);
    if (radio) radio.checked = true;
  }
  checkIds($('#categories'), fields.category_ids ?? []);
  checkIds($('#agencies'), fields.agency_ids ?? []);
  showParentsReason();
  parts.preview.refresh();
  showRecap();
  openMoreDetailsIfUsed(fields, draft.files);
  main.dataset.unsentWork = 'yes';
  const notice = $('#draft-restored');
  notice.querySelector('[data-draft-time]').textContent = new Date(draft.savedAt)
    .toLocaleString('en-GB', { weekday: 'long', hour: '2-digit', minute: '2-digit' });
  notice.hidden = false;
}

// What is folded under "More details" is shown again when the draft brought back uses it.
function openMoreDetailsIfUsed(fields, files) {
  const used = [fields.linked_pupil_ids, fields.extra_recipient_ids, fields.agency_ids, files]
    .some((list) => list?.length) || Boolean(fields.on_behalf);
  if (used) $('#more-details').open = true;
}

function checkIds(container, ids) {
  for (const box of container.querySelectorAll('input[type=checkbox]')) {
    box.checked = ids.includes(Number(box.value));
  }
}

async function startAgain() {
  if (!window.confirm('Start again? What you had written will be deleted.')) return;
  if (device) await onDevice.deleteDraft(device.userId);
  $('#draft-restored').hidden = true;
  clearForm();
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

// "Add incident": the answers checked here first, then "Check before you send" with the pupil,
// categories, urgency and who will be alerted; only its "Yes, add it now" sends.
function checkBeforeSending() {
  if (queue.has(draftUuid) || form.dataset.sending === 'yes') return;
  errors.clear();
  const incident = collect();
  const found = problems(incident);
  if (Object.keys(found).length) {
    errors.show(found);
    return;
  }
  fillCheck(incident);
  check.showModal();
  check.querySelector('#check-heading').focus();
}

function fillCheck(incident) {
  const pupil = known.roster.get(incident.pupil_id);
  check.querySelector('[data-check-pupil]').textContent = pupilTitle(pupil);
  check.querySelector('[data-check-pupil-details]').textContent = pupilDetails(pupil);
  check.querySelector('[data-check-categories]').textContent = incident.category_ids
    .map((id) => known.categories.get(id)).join('; ');
  const urgent = check.querySelector('[data-check-urgent]');
  urgent.textContent = incident.urgent
    ? 'Yes: needs action before the child goes home today' : 'No';
  urgent.classList.toggle('check-urgent', incident.urgent);
  fillAlerted(incident);
}

async function fillAlerted(incident) {
  const status = check.querySelector('[data-check-alert-status]');
  const list = check.querySelector('[data-check-alerted]');
  list.replaceChildren();
  list.hidden = true;
  status.textContent = 'Checking who will be alerted…';
  const ticket = ++checkTicket;
  const answer = main.dataset.offline === 'yes' ? null : await Promise.race([
    parts.preview.now(),
    new Promise((resolve) => { setTimeout(() => resolve(null), PREVIEW_WAIT_MS); }),
  ]);
  if (ticket !== checkTicket) return; // the check was opened again since
  if (!answer) {
    const chosen = incident.extra_recipient_ids.map((id) => parts.staff.name(id));
    status.textContent = 'Haven cannot be reached just now, so who will be alerted is not known '
      + 'yet: the school’s alert rules decide it when the incident is sent'
      + (chosen.length ? `, and ${chosen.join(', ')}, whom you chose, will be alerted too.` : '.');
    return;
  }
  status.textContent = answer.recipients.length
    ? 'These staff will be alerted straight away:'
    : 'Nobody will be alerted. Go back and add someone under “More details” if they need to know.';
  list.replaceChildren(...answer.recipients.map(person));
  list.hidden = answer.recipients.length === 0;
}

async function confirmSending() {
  if (!check.open) return; // a second tap after the first has closed it
  check.close();
  await send();
}

async function send() {
  if (queue.has(draftUuid) || form.dataset.sending === 'yes') return;
  const incident = collect();
  const found = problems(incident);
  if (Object.keys(found).length) {
    errors.show(found);
    return;
  }
  setLocked(true);
  // Sealed into the outbox whenever this device can: never sent around it for want of waiting.
  await opening.catch(() => {});
  if (!device || !onDevice.dataKey()) {
    queue.add({ uuid: draftUuid, incident, files: parts.files.value });
    return;
  }
  form.dataset.sending = 'yes';
  try {
    await sendThroughOutbox(incident);
  } finally {
    form.dataset.sending = '';
  }
}

// The chosen pupil again beside "Add incident", where the author is when they send.
function showRecap() {
  const pupil = parts.pupil.value === null ? null : known.roster.get(parts.pupil.value);
  $('[data-recap-pupil]').textContent = pupil ? pupilTitle(pupil) : 'No pupil chosen yet';
  $('[data-recap-details]').textContent = pupil ? pupilDetails(pupil) : '';
  $('[data-send-recap]').classList.toggle('send-recap-empty', !pupil);
  $('[data-recap-urgent]').hidden = !$('#urgent').checked;
}

// Sealed into the outbox first, so that nothing is lost whatever happens next; then sent at
// once when Haven can be reached.
async function sendThroughOutbox(incident) {
  try {
    await onDevice.addToOutbox({ ...device, incident, files: parts.files.value });
  } catch (error) {
    setLocked(false);
    errors.show({}, `This incident could not be kept on this device, so it has not been added: ${error.message}`);
    return;
  }
  clearTimeout(saveTimer);
  await onDevice.deleteDraft(device.userId).catch(() => {});
  main.dataset.unsentWork = '';
  const uuid = incident.uuid;
  await onDevice.replayOutbox({ only: uuid, force: true }).catch(() => {});
  const receipt = await onDevice.receiptFor(uuid);
  if (receipt) {
    showReceipt({ receipt });
    return;
  }
  const entry = await get('outbox', uuid);
  if (entry?.refusal) {
    // Refused at once, with the form still here: put it right and add it again.
    await onDevice.discard(uuid);
    main.dataset.unsentWork = 'yes';
    saveNow();
    const { refusal } = entry;
    showRefusal({ error: { kind: refusal.fields ? 'invalid' : 'forbidden', message: refusal.message,
      body: { fields: refusal.fields ?? {} } } });
    return;
  }
  showQueued(uuid, entry);
}

function showQueued(uuid, entry) {
  setLocked(false);
  queuedUuid = uuid;
  form.hidden = true;
  errors.clear();
  const box = $('#queued');
  const why = entry?.lastError?.message ?? 'There is no connection to Haven.';
  box.querySelector('[data-queued-reason]').textContent = why;
  box.hidden = false;
  box.querySelector('h2').focus();
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
  queuedUuid = null;
  $('#queued').hidden = true;
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

function clearForm() {
  draftUuid = newUuid();
  form.reset();
  for (const part of ['pupil', 'linked', 'staff', 'bodyMap', 'files']) parts[part].reset();
  errors.clear();
  showParentsReason();
  setNow();
  parts.preview.refresh();
  showRecap();
  main.dataset.unsentWork = '';
}

function recordAnother() {
  clearForm();
  queuedUuid = null;
  $('#receipt').hidden = true;
  $('#queued').hidden = true;
  $('#draft-restored').hidden = true;
  form.hidden = false;
  $('#pupil-search').focus();
}

// An incident this page left waiting may be sent by the service worker or another tab.
function listenForLaterReceipts(channelName) {
  try {
    new BroadcastChannel(channelName).addEventListener('message', ({ data }) => {
      if (data?.type === 'sent' && data.uuid === queuedUuid) showReceipt({ receipt: data.receipt });
    });
  } catch {
    // No BroadcastChannel: the outbox list still shows what has gone.
  }
}

// Leaving with unsaved or unsent work asks first.
window.addEventListener('beforeunload', (event) => {
  if (main.dataset.unsentWork !== 'yes' && form.dataset.sending !== 'yes') return;
  saveNow();
  event.preventDefault();
  event.returnValue = '';
});

queue.addEventListener('change', (event) => showQueue(event.detail));
queue.addEventListener('sent', (event) => showReceipt(event.detail));
queue.addEventListener('refused', (event) => showRefusal(event.detail));
$('[data-send-now]').addEventListener('click', () => queue.flush());
for (const button of document.querySelectorAll('[data-record-another]')) {
  button.addEventListener('click', recordAnother);
}
$('[data-start-again]').addEventListener('click', startAgain);
$('[data-retry-load]').addEventListener('click', load);
load();
if (cryptoAvailable()) {
  // What waits in this device's outbox, and receipts for what this page left there: beside
  // the form, not before it.
  import('./outbox-panel.js').then(({ OutboxPanel }) => new OutboxPanel($('#outbox')));
  import('./outbox.js').then(({ channelName }) => listenForLaterReceipts(channelName));
}
