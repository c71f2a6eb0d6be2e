// The workspace's one save queue and the save status beside the progress:
// "Saved", "Saving…", "Retrying…", or why the server refused a change (whose
// image is then reloaded from the server by the op's own onRefused).

import { ApiError } from './api.js';
import { SaveQueue } from './save-queue.js';
import { changed } from './state.js';

const status = document.getElementById('save-status');

/** Outcome of the last refused save, shown until the next change. */
let notice = null;

export const queue = new SaveQueue({
  onChange: () => {
    renderSaveStatus();
    changed('save');
  },
  onFailure: (op, err) => {
    notice = err instanceof ApiError && err.isConflict ? 'conflict' : err.message || 'refused';
    if (op.onRefused) op.onRefused(err);
    renderSaveStatus();
  },
});

/** A new change by the user: an old refusal no longer applies. */
export function clearNotice() {
  notice = null;
}

export function renderSaveStatus() {
  let text = 'Saved';
  let stateName = 'saved';
  let title = '';
  if (queue.isRetrying) {
    text = 'Retrying…';
    stateName = 'retrying';
    title = queue.lastError ? queue.lastError.message : '';
  } else if (queue.pendingCount() > 0) {
    text = 'Saving…';
    stateName = 'saving';
  } else if (notice === 'conflict') {
    text = 'Conflict — reloaded';
    stateName = 'conflict';
    title = 'Someone else changed this image; the saved version was loaded.';
  } else if (notice) {
    text = 'Refused — reloaded';
    stateName = 'error';
    title = notice;
  }
  if (status.textContent !== text) status.textContent = text;
  status.dataset.state = stateName;
  status.title = title;
}
