// Which image of the batch is on screen: loading the batch, turning images
// (← →, the URL's #image=N, "done and next"), and where work starts again.

import * as annotationView from './annotation-view.js';
import { ensureLoaded, preload } from './annotations.js';
import { ApiError, apiFetch } from './api.js';
import { clearNotify, hideMessage, notify, showMessage } from './messages.js';
import { REMOVED_TEXT, shownFrom } from './removed.js';
import { flushNoteSave, normaliseReview, reviewForm, setDone } from './review.js';
import { backoffDelay } from './save-queue.js';
import { apiUrl, changed, config, currentItem, onChange, state } from './state.js';
import { applyShowing, openItem } from './viewers.js';

const el = (id) => document.getElementById(id);
const ui = { position: el('position'), blindName: el('blind-name') };

function parseHashIndex() {
  const m = /(?:^|[#&])image=(\d+)/.exec(window.location.hash);
  return m ? Number.parseInt(m[1], 10) - 1 : null;
}

/** The index to show for a request to go to `index`: a removed image is skipped
 * in the direction of travel (or, at the end, back); -1 when none is left. */
function shownIndex(index) {
  const clamped = Math.min(Math.max(index, 0), state.items.length - 1);
  if (!state.items[clamped].removed) return clamped;
  const step = clamped < state.index ? -1 : 1;
  const ahead = shownFrom(state.items, clamped, step);
  return ahead >= 0 ? ahead : shownFrom(state.items, clamped, -step);
}

export function goTo(index) {
  if (state.items.length === 0) return;
  const wanted = Math.min(Math.max(index, 0), state.items.length - 1);
  const clamped = shownIndex(wanted);
  const skipped = clamped !== wanted;
  if (clamped < 0) {
    showMessage('Every image of this batch was removed on request.');
    return;
  }
  // Leave a note field before its image changes: its blur saves the note to
  // the image it was typed for, and the next keystrokes cannot land on the
  // wrong image.
  if (reviewForm.contains(document.activeElement)) document.activeElement.blur();
  const previous = currentItem();
  if (previous) flushNoteSave(previous);
  if (clamped === state.index) {
    if (skipped) notify(REMOVED_TEXT);
    return;
  }

  annotationView.leaveImage();
  state.index = clamped;
  state.showing = 'reconstruction';
  const item = currentItem();

  const hash = `#image=${clamped + 1}`;
  if (window.location.hash !== hash) history.replaceState(null, '', hash);
  ui.position.textContent = `${clamped + 1} / ${state.items.length}`;
  ui.position.dataset.index = String(clamped);
  ui.blindName.textContent = item.blind_name;
  ui.blindName.title = `Image name: ${item.blind_name}`;
  document.title = `${clamped + 1} / ${state.items.length} · ${item.blind_name}`;

  if (skipped) notify(REMOVED_TEXT);
  else clearNotify();
  applyShowing();
  openItem(item);
  changed('item');
  ensureLoaded(item.blind_name).catch(() => {});
}

// The image on screen was removed while the page was open: say so, move on.
onChange('removed', () => {
  const item = currentItem();
  if (!item || !item.removed) return;
  goTo(state.index + 1);
  notify(REMOVED_TEXT);
});

export const goBy = (delta) => goTo(state.index + delta);

/** Enter: this image is done; on to the next, or back to one still open. */
export function doneAndNext() {
  const item = currentItem();
  if (!item) return;
  flushNoteSave(item);
  setDone(item, true);
  if (state.index < state.items.length - 1) {
    goTo(state.index + 1);
  } else if (!state.items.every((it) => it.review.done || it.removed)) {
    // Last image, but some earlier one is still open: go there.
    goTo(state.items.findIndex((it) => !it.review.done && !it.removed));
  }
}

async function loadItems() {
  // An admin's review reads the labeler's work: her reviews, and her
  // annotations with each item.
  const url = config.itemsUrl || apiUrl('batches', config.batchId, 'items');
  for (let attempt = 0; ; attempt++) {
    try {
      const body = await apiFetch('GET', url);
      const items = body.data || body.items;
      for (const it of items) if (it.annotations) preload(it.blind_name, it.annotations);
      return items.map((it) => ({ ...it, review: normaliseReview(it.review) }));
    } catch (err) {
      if (!(err instanceof ApiError && err.isRetryable) || attempt >= 4) throw err;
      showMessage(`Loading the batch failed (${err.message}); retrying…`);
      await new Promise((r) => setTimeout(r, backoffDelay(attempt)));
    }
  }
}

/**
 * Load the batch and show where to start: the image in the URL (a reload),
 * else the one the server names, else the first image not done yet, so work
 * continues where it stopped. False when there is nothing to show.
 */
export async function openBatch() {
  try {
    state.items = await loadItems();
  } catch (err) {
    showMessage(`This batch could not be loaded: ${err.message}`);
    return false;
  }
  hideMessage();
  if (state.items.length === 0) {
    showMessage('This batch has no images.');
    changed('review');
    return false;
  }
  const fromHash = parseHashIndex();
  let index;
  if (fromHash !== null && fromHash >= 0 && fromHash < state.items.length) {
    index = fromHash;
  } else if (config.startIndex > 0) {
    index = config.startIndex;
  } else if (config.readOnly) {
    index = 0; // a review goes through the work from the start
  } else {
    index = Math.max(0, state.items.findIndex((it) => !it.review.done && !it.removed));
  }
  goTo(index);
  const removed = state.items.filter((it) => it.removed).length;
  if (removed === 1) notify('One image of this batch was removed on request; it is skipped.');
  else if (removed > 1) notify(`${removed} images of this batch were removed on request; they are skipped.`);
  return true;
}

window.addEventListener('hashchange', () => {
  const index = parseHashIndex();
  if (index !== null && index !== state.index) goTo(index);
});
