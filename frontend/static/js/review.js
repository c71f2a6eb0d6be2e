// The review of each image in the side panel (done, multi-miscompression and
// its types, notes) and the batch's progress. Changes save through the save
// queue; notes save by themselves shortly after typing stops.

import { apiFetch } from './api.js';
import { clearNotice, queue } from './saving.js';
import { apiUrl, changed, config, currentItem, onChange, state } from './state.js';
import { showMessage } from './messages.js';

const NOTE_SAVE_DELAY_MS = 800;

const el = (id) => document.getElementById(id);
const ui = {
  form: el('review-form'),
  done: el('review-done'),
  multi: el('review-multi'),
  multiTypes: el('multi-types'),
  appearance: el('review-appearance'),
  note: el('review-note'),
  doneState: el('done-state'),
  progress: el('progress'),
  progressBar: el('progress-bar'),
  progressText: el('progress-text'),
  batchComplete: el('batch-complete'),
};

/** blind_name -> pending note-save timer */
const noteTimers = new Map();
/** multi types remembered while the flag is off, so M twice loses nothing */
const parkedTypes = new Map();

export function normaliseReview(r) {
  return {
    done: Boolean(r && r.done),
    multi: Boolean(r && r.multi),
    multi_types: Array.isArray(r && r.multi_types) ? [...r.multi_types] : [],
    appearance_note: (r && r.appearance_note) || '',
    note: (r && r.note) || '',
    version: r && r.version !== undefined ? r.version : 0,
  };
}

export const reviewForm = ui.form;

function saveReview(item) {
  if (config.readOnly) return; // someone else's work, shown for review
  clearNotice();
  const blind = item.blind_name;
  queue.enqueue({
    key: `review:${blind}`,
    group: `review:${blind}`,
    kind: 'review',
    coalesce: true,
    onRefused: (err) => reloadReview(blind, err),
    send: async () => {
      const r = item.review;
      const data = await apiFetch('PUT', apiUrl('items', blind, 'review'), {
        done: r.done,
        multi: r.multi,
        multi_types: r.multi ? [...r.multi_types] : [],
        appearance_note: r.appearance_note,
        note: r.note,
        version: r.version,
      });
      // Only the version: the user may have typed on since this was sent.
      r.version = data.version;
    },
  });
  changed('review');
}

async function reloadReview(blind, err) {
  const item = state.items.find((it) => it.blind_name === blind);
  if (!item) return;
  let current = err && err.body && err.body.current;
  if (!current) {
    try {
      const body = await apiFetch('GET', apiUrl('batches', config.batchId, 'items'));
      const fresh = body.data.find((it) => it.blind_name === blind);
      current = fresh && fresh.review;
    } catch (e) {
      showMessage(`Could not reload the review of this image: ${e.message}`);
      return;
    }
  }
  if (current) item.review = normaliseReview(current);
  changed('review');
}

function renderReview() {
  const item = currentItem();
  if (!item) return;
  const r = item.review;
  ui.done.checked = r.done;
  ui.multi.checked = r.multi;
  ui.multiTypes.hidden = !r.multi;
  for (const cb of ui.multiTypes.querySelectorAll('input[name="multi_types"]')) {
    cb.checked = r.multi_types.includes(cb.value);
  }
  // Never overwrite what the user is typing right now.
  if (document.activeElement !== ui.appearance) ui.appearance.value = r.appearance_note;
  if (document.activeElement !== ui.note) ui.note.value = r.note;
}

export function renderProgress() {
  // An image removed on request can be neither seen nor finished.
  const shown = state.items.filter((it) => !it.removed);
  const total = shown.length;
  const done = shown.filter((it) => it.review.done).length;
  ui.progress.dataset.done = String(done);
  ui.progress.dataset.total = String(total);
  ui.progressBar.max = Math.max(total, 1);
  ui.progressBar.value = done;
  ui.progressText.textContent = `${done} / ${total} done`;
  ui.batchComplete.hidden = !(total > 0 && done === total);
  config.root.classList.toggle('is-complete', total > 0 && done === total);
  const item = currentItem();
  if (item) {
    ui.doneState.dataset.done = String(item.review.done);
    ui.doneState.textContent = item.review.done ? 'Done ✓' : 'Open';
  }
}

for (const topic of ['item', 'review', 'removed']) {
  onChange(topic, () => {
    renderReview();
    renderProgress();
  });
}

export function setDone(item, done) {
  if (item.review.done === done) return;
  item.review.done = done;
  saveReview(item);
}

export function toggleMulti() {
  const item = currentItem();
  if (!item) return;
  const r = item.review;
  r.multi = !r.multi;
  if (r.multi) {
    if (r.multi_types.length === 0) r.multi_types = parkedTypes.get(item.blind_name) || [];
  } else {
    parkedTypes.set(item.blind_name, r.multi_types);
    r.multi_types = [];
  }
  saveReview(item);
}

function scheduleNoteSave(item) {
  const blind = item.blind_name;
  clearTimeout(noteTimers.get(blind));
  noteTimers.set(
    blind,
    setTimeout(() => {
      noteTimers.delete(blind);
      saveReview(item);
    }, NOTE_SAVE_DELAY_MS),
  );
}

/** Save a note still waiting for its typing pause, now. */
export function flushNoteSave(item) {
  const blind = item.blind_name;
  if (!noteTimers.has(blind)) return;
  clearTimeout(noteTimers.get(blind));
  noteTimers.delete(blind);
  saveReview(item);
}

export function bindReviewForm() {
  ui.form.addEventListener('submit', (e) => e.preventDefault());
  if (config.readOnly) {
    // The labeler's review is shown as she left it; nothing here changes it.
    for (const input of ui.form.elements) input.disabled = true;
    return;
  }
  ui.done.addEventListener('change', () => {
    const item = currentItem();
    if (item) setDone(item, ui.done.checked);
  });
  ui.multi.addEventListener('change', () => {
    const item = currentItem();
    if (item && item.review.multi !== ui.multi.checked) toggleMulti();
  });
  ui.multiTypes.addEventListener('change', () => {
    const item = currentItem();
    if (!item) return;
    item.review.multi_types = [
      ...ui.multiTypes.querySelectorAll('input[name="multi_types"]:checked'),
    ].map((cb) => cb.value);
    saveReview(item);
  });
  for (const [field, input] of [
    ['appearance_note', ui.appearance],
    ['note', ui.note],
  ]) {
    input.addEventListener('input', () => {
      const item = currentItem();
      if (!item) return;
      item.review[field] = input.value;
      scheduleNoteSave(item);
    });
    input.addEventListener('blur', () => {
      const item = currentItem();
      if (item) flushNoteSave(item);
    });
  }
  // A mouse click leaves focus on the checkbox, where Space and Enter would
  // act on it; hand the keyboard back to the viewer.
  ui.form.addEventListener('click', (e) => {
    if (e.detail > 0 && e.target instanceof HTMLInputElement && e.target.type === 'checkbox') {
      e.target.blur();
    }
  });
}
