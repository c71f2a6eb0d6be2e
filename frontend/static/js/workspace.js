// The labeler's workspace: one image of a batch at a time, reconstruction and
// original stacked in one viewer (flipping keeps zoom and position), an
// optional difference map beside it, and boxes drawn in reconstruction pixels.
// Every change is saved at once through the JSON API.

import { ApiError, apiFetch } from './api.js';
import { BoxLayer } from './box-layer.js';
import { pickRect } from './geometry.js';
import { SaveQueue } from './save-queue.js';
import { ViewerSync } from './viewer-sync.js';

const root = document.getElementById('workspace');
const OSD = window.OpenSeadragon;

const config = {
  batchId: root.dataset.batchId,
  startIndex: Number.parseInt(root.dataset.startIndex || '0', 10) || 0,
  annotateAll: root.dataset.annotateAll === 'true',
  api: root.dataset.apiBase || '/api/v1',
  osdImages: `${root.dataset.vendorOsd || '/static/vendor/openseadragon/'}images/`,
};

const NOTE_SAVE_DELAY_MS = 800;
const ZOOM_STEP = 1.4;

const el = (id) => document.getElementById(id);
const ui = {
  position: el('position'),
  blindName: el('blind-name'),
  doneState: el('done-state'),
  prev: el('btn-prev'),
  next: el('btn-next'),
  flip: el('btn-flip'),
  draw: el('btn-draw'),
  diff: el('btn-diff'),
  zoomIn: el('btn-zoom-in'),
  zoomOut: el('btn-zoom-out'),
  fit: el('btn-fit'),
  fullscreen: el('btn-fullscreen'),
  treeButton: el('btn-tree'),
  helpButton: el('btn-help'),
  panelButton: el('btn-panel'),
  progress: el('progress'),
  progressBar: el('progress-bar'),
  progressText: el('progress-text'),
  saveStatus: el('save-status'),
  batchComplete: el('batch-complete'),
  mainPane: el('main-pane'),
  diffPane: el('diff-pane'),
  badge: el('view-badge'),
  drawIndicator: el('draw-indicator'),
  message: el('viewer-message'),
  panel: el('review-panel'),
  form: el('review-form'),
  done: el('review-done'),
  multi: el('review-multi'),
  multiTypes: el('multi-types'),
  appearance: el('review-appearance'),
  note: el('review-note'),
  boxCount: el('box-count'),
  multiHint: el('multi-hint'),
  tree: el('tree-panel'),
  help: el('help-panel'),
};

// ---------------------------------------------------------------- state

const state = {
  items: [],
  index: -1,
  showing: 'reconstruction',
  drawMode: false,
  diffVisible: false,
  /** Outcome of the last refused save, shown until the next change. */
  notice: null,
  /** blind_name -> {boxes, undo, loaded, loading, reloading} */
  images: new Map(),
  /** blind_name -> pending note-save timer */
  noteTimers: new Map(),
  /** multi types remembered while the flag is off, so M twice loses nothing */
  parkedTypes: new Map(),
};

let nextKey = 1;
const newKey = () => `box-${nextKey++}`;

const currentItem = () => state.items[state.index] || null;

function imageState(blind) {
  let s = state.images.get(blind);
  if (!s) {
    s = { boxes: [], undo: [], loaded: false, loading: null, reloading: false };
    state.images.set(blind, s);
  }
  return s;
}

const liveBoxes = (s) => s.boxes.filter((b) => !b.deleted);

// ---------------------------------------------------------------- save queue

const queue = new SaveQueue({
  onChange: () => {
    renderSaveStatus();
    renderBoxes();
  },
  onFailure: (op, err) => handleRefusedSave(op, err),
});

function renderSaveStatus() {
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
  } else if (state.notice === 'conflict') {
    text = 'Conflict — reloaded';
    stateName = 'conflict';
    title = 'Someone else changed this image; the saved version was loaded.';
  } else if (state.notice) {
    text = 'Refused — reloaded';
    stateName = 'error';
    title = state.notice;
  }
  if (ui.saveStatus.textContent !== text) ui.saveStatus.textContent = text;
  ui.saveStatus.dataset.state = stateName;
  ui.saveStatus.title = title;
}

/** A new change by the user: an old conflict notice no longer applies. */
function clearNotice() {
  state.notice = null;
}

function annotationsUrl(blind) {
  return `${config.api}/items/${encodeURIComponent(blind)}/annotations`;
}

function annotationUrl(id) {
  return `${config.api}/annotations/${encodeURIComponent(id)}`;
}

/** Take the server's copy of a box, unless newer local edits are queued. */
function applyServerBox(box, data) {
  box.id = data.id;
  box.version = data.version;
  if (!queueHasMoreFor(box.key)) Object.assign(box, pickRect(data));
}

function queueHasMoreFor(key) {
  const lane = queue.lanes.get(key);
  return Boolean(lane && lane.ops.length > 1);
}

function enqueueCreate(blind, box) {
  queue.enqueue({
    key: box.key,
    group: blind,
    kind: 'create',
    send: async () => {
      const data = await apiFetch('POST', annotationsUrl(blind), pickRect(box));
      applyServerBox(box, data);
    },
  });
}

function enqueueUpdate(blind, box) {
  queue.enqueue({
    key: box.key,
    group: blind,
    kind: 'update',
    coalesce: true,
    send: async () => {
      const data = await apiFetch('PATCH', annotationUrl(box.id), {
        ...pickRect(box),
        version: box.version,
      });
      applyServerBox(box, data);
    },
  });
}

function enqueueDelete(blind, box) {
  queue.enqueue({
    key: box.key,
    group: blind,
    kind: 'delete',
    send: async () => {
      const url = `${annotationUrl(box.id)}?version=${encodeURIComponent(box.version)}`;
      try {
        await apiFetch('DELETE', url);
      } catch (err) {
        // Gone already (an earlier attempt succeeded but its answer was lost).
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      box.id = null;
      box.version = null;
    },
  });
}

function handleRefusedSave(op, err) {
  state.notice =
    err instanceof ApiError && err.isConflict ? 'conflict' : err.message || 'refused';
  if (op.kind === 'review') {
    reloadReview(op.blind, err);
  } else {
    reloadBoxes(op.group);
  }
  renderSaveStatus();
}

// ---------------------------------------------------------------- boxes

async function fetchBoxes(blind) {
  const body = await apiFetch('GET', annotationsUrl(blind));
  return body.data.map((a) => ({
    key: newKey(),
    id: a.id,
    version: a.version,
    ...pickRect(a),
    deleted: false,
  }));
}

/** Load an image's boxes once; later visits keep the local (possibly unsaved) state. */
function ensureBoxes(blind) {
  const s = imageState(blind);
  if (s.loaded) return Promise.resolve(s);
  if (!s.loading) {
    s.loading = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          s.boxes = await fetchBoxes(blind);
          s.loaded = true;
          return s;
        } catch (err) {
          if (!(err instanceof ApiError && err.isRetryable)) {
            showMessage(`Could not load the boxes of this image: ${err.message}`);
            throw err;
          }
          await new Promise((r) => setTimeout(r, queue.retryDelay(Math.min(attempt, 5))));
        }
      }
    })().finally(() => {
      s.loading = null;
    });
  }
  return s.loading;
}

/** After a refused save: wait for this image's other saves, then show the server's boxes. */
async function reloadBoxes(blind) {
  const s = imageState(blind);
  if (s.reloading) return;
  s.reloading = true;
  renderBoxes();
  try {
    await queue.whenIdle(blind);
    for (let attempt = 0; ; attempt++) {
      try {
        s.boxes = await fetchBoxes(blind);
        break;
      } catch (err) {
        if (!(err instanceof ApiError && err.isRetryable)) throw err;
        await new Promise((r) => setTimeout(r, queue.retryDelay(Math.min(attempt, 5))));
      }
    }
    s.loaded = true;
    // Undo entries refer to boxes that no longer exist as they were.
    s.undo = [];
  } catch (err) {
    showMessage(`Could not reload the boxes of this image: ${err.message}`);
  } finally {
    s.reloading = false;
    renderBoxes();
    renderSaveStatus();
  }
}

function findBox(s, key) {
  return s.boxes.find((b) => b.key === key) || null;
}

function addBox(rect) {
  const item = currentItem();
  if (!item) return;
  const s = imageState(item.blind_name);
  if (!s.loaded || s.reloading) return;
  clearNotice();
  const box = { key: newKey(), id: null, version: null, ...rect, deleted: false };
  s.boxes.push(box);
  s.undo.push({ type: 'create', key: box.key });
  enqueueCreate(item.blind_name, box);
  boxLayer.select(box.key);
  renderBoxes();
}

function editBox(key, before, after) {
  const item = currentItem();
  const s = imageState(item.blind_name);
  const box = findBox(s, key);
  if (!box || box.deleted || s.reloading) return;
  clearNotice();
  Object.assign(box, after);
  s.undo.push({ type: 'update', key, before: pickRect(before) });
  enqueueUpdate(item.blind_name, box);
  renderBoxes();
}

function deleteSelectedBox() {
  const item = currentItem();
  const key = boxLayer.selectedKey;
  if (!item || !key) return;
  const s = imageState(item.blind_name);
  const box = findBox(s, key);
  if (!box || box.deleted || s.reloading) return;
  clearNotice();
  box.deleted = true;
  s.undo.push({ type: 'delete', key });
  enqueueDelete(item.blind_name, box);
  renderBoxes();
}

/** Undo the last box change on this image, replayed through the API. */
function undo() {
  const item = currentItem();
  if (!item) return;
  const s = imageState(item.blind_name);
  if (s.reloading) return;
  const entry = s.undo.pop();
  if (!entry) {
    flash('Nothing to undo');
    return;
  }
  const box = findBox(s, entry.key);
  if (!box) return;
  clearNotice();
  if (entry.type === 'create' && !box.deleted) {
    box.deleted = true;
    enqueueDelete(item.blind_name, box);
  } else if (entry.type === 'update' && !box.deleted) {
    Object.assign(box, entry.before);
    enqueueUpdate(item.blind_name, box);
    boxLayer.select(box.key);
  } else if (entry.type === 'delete' && box.deleted) {
    // Recreated under a new server id; the box keeps its local key, so older
    // undo entries still find it.
    box.deleted = false;
    enqueueCreate(item.blind_name, box);
    boxLayer.select(box.key);
  }
  renderBoxes();
}

function renderBoxes() {
  const item = currentItem();
  if (!item || !boxLayer) return;
  const s = imageState(item.blind_name);
  const boxes = s.loaded
    ? liveBoxes(s).map((b) => ({ ...b, saved: Boolean(b.id) && !queue.lanes.has(b.key) }))
    : [];
  boxLayer.readOnly = !s.loaded || s.reloading;
  boxLayer.render(boxes);
  if (diffLayer) diffLayer.render(boxes);
  ui.boxCount.textContent = String(boxes.length);
  ui.multiHint.hidden = config.annotateAll || boxes.length < 3 || item.review.multi;
  ui.mainPane.classList.toggle('is-reloading', s.reloading);
}

// ---------------------------------------------------------------- review

function reviewUrl(blind) {
  return `${config.api}/items/${encodeURIComponent(blind)}/review`;
}

function saveReview(item) {
  clearNotice();
  const blind = item.blind_name;
  queue.enqueue({
    key: `review:${blind}`,
    group: `review:${blind}`,
    kind: 'review',
    blind,
    coalesce: true,
    send: async () => {
      const r = item.review;
      const data = await apiFetch('PUT', reviewUrl(blind), {
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
  renderProgress();
}

async function reloadReview(blind, err) {
  const item = state.items.find((it) => it.blind_name === blind);
  if (!item) return;
  let current = err && err.body && err.body.current;
  if (!current) {
    try {
      const body = await apiFetch('GET', `${config.api}/batches/${encodeURIComponent(config.batchId)}/items`);
      const fresh = body.data.find((it) => it.blind_name === blind);
      current = fresh && fresh.review;
    } catch (e) {
      showMessage(`Could not reload the review of this image: ${e.message}`);
      return;
    }
  }
  if (current) item.review = normaliseReview(current);
  if (item === currentItem()) renderReview();
  renderProgress();
}

function normaliseReview(r) {
  return {
    done: Boolean(r && r.done),
    multi: Boolean(r && r.multi),
    multi_types: Array.isArray(r && r.multi_types) ? [...r.multi_types] : [],
    appearance_note: (r && r.appearance_note) || '',
    note: (r && r.note) || '',
    version: r && r.version !== undefined ? r.version : 0,
  };
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
  ui.doneState.dataset.done = String(r.done);
  ui.doneState.textContent = r.done ? 'Done ✓' : 'Open';
  ui.multiHint.hidden = config.annotateAll || Number(ui.boxCount.textContent) < 3 || r.multi;
}

function renderProgress() {
  const total = state.items.length;
  const done = state.items.filter((it) => it.review.done).length;
  ui.progress.dataset.done = String(done);
  ui.progress.dataset.total = String(total);
  ui.progressBar.max = Math.max(total, 1);
  ui.progressBar.value = done;
  ui.progressText.textContent = `${done} / ${total} done`;
  ui.batchComplete.hidden = !(total > 0 && done === total);
  root.classList.toggle('is-complete', total > 0 && done === total);
  const item = currentItem();
  if (item) {
    ui.doneState.dataset.done = String(item.review.done);
    ui.doneState.textContent = item.review.done ? 'Done ✓' : 'Open';
  }
}

function setDone(item, done) {
  if (item.review.done === done) return;
  item.review.done = done;
  saveReview(item);
  renderReview();
}

function markDoneAndAdvance() {
  const item = currentItem();
  if (!item) return;
  flushNoteSave(item);
  setDone(item, true);
  if (state.index < state.items.length - 1) {
    goTo(state.index + 1);
  } else if (!state.items.every((it) => it.review.done)) {
    // Last image, but some earlier one is still open: go there.
    goTo(state.items.findIndex((it) => !it.review.done));
  }
}

function toggleMulti() {
  const item = currentItem();
  if (!item) return;
  const r = item.review;
  r.multi = !r.multi;
  if (r.multi) {
    if (r.multi_types.length === 0) r.multi_types = state.parkedTypes.get(item.blind_name) || [];
  } else {
    state.parkedTypes.set(item.blind_name, r.multi_types);
    r.multi_types = [];
  }
  saveReview(item);
  renderReview();
}

function scheduleNoteSave(item) {
  const blind = item.blind_name;
  clearTimeout(state.noteTimers.get(blind));
  state.noteTimers.set(
    blind,
    setTimeout(() => {
      state.noteTimers.delete(blind);
      saveReview(item);
    }, NOTE_SAVE_DELAY_MS),
  );
}

function flushNoteSave(item) {
  const blind = item.blind_name;
  if (!state.noteTimers.has(blind)) return;
  clearTimeout(state.noteTimers.get(blind));
  state.noteTimers.delete(blind);
  saveReview(item);
}

function bindReviewForm() {
  ui.form.addEventListener('submit', (e) => e.preventDefault());
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

// ---------------------------------------------------------------- viewers

const viewerOptions = {
  prefixUrl: config.osdImages,
  showNavigationControl: false,
  keyboardNavEnabled: false,
  crossOriginPolicy: false,
  // Look at single pixels, unsmoothed, as a labeler comparing artifacts needs.
  maxZoomPixelRatio: 16,
  imageSmoothingEnabled: false,
  minZoomImageRatio: 0.5,
  visibilityRatio: 0.2,
  animationTime: 0.5,
  gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
  gestureSettingsPen: { clickToZoom: false },
  // A tile lost to a brief network failure is fetched again.
  tileRetryMax: 3,
  tileRetryDelay: 2000,
};

const mainViewer = OSD({
  ...viewerOptions,
  element: el('main-viewer'),
  showNavigator: true,
  navigatorPosition: 'BOTTOM_RIGHT',
  navigatorAutoFade: true,
});

let diffViewer = null;
let diffLayer = null;
let diffOpener = null;
let sync = null;

const boxLayer = new BoxLayer(mainViewer, {
  imageSize: () => {
    const item = currentItem();
    return { width: item.width, height: item.height };
  },
  canDraw: () => state.drawMode,
  onDraw: addBox,
  onEdit: editBox,
});

/**
 * Opens an item's image(s) in a viewer and keeps trying, with backoff, while
 * that item is still on screen: a network hiccup while turning to the next
 * image must not leave the labeler in front of an empty viewer.
 */
class ImageOpener {
  constructor(viewer, sourcesFor, label) {
    this.viewer = viewer;
    this.sourcesFor = sourcesFor;
    this.label = label;
    this.item = null;
    this.failed = false;
    this.attempt = 0;
    this.timer = null;
    viewer.addHandler('open', () => {
      // All sources or nothing: with one missing, the world's order (and so
      // the coordinates of the boxes) would be wrong.
      if (viewer.world.getItemCount() === this.sourcesFor(this.item).length) {
        this.failed = false;
        this.attempt = 0;
        hideMessage();
      } else {
        this._failed();
      }
    });
    viewer.addHandler('open-failed', () => this._failed());
  }

  open(item) {
    clearTimeout(this.timer);
    if (this.item !== item) this.attempt = 0;
    this.item = item;
    this.failed = false;
    this.viewer.open(this.sourcesFor(item));
  }

  /** Try again now, if the last attempt failed (e.g. the browser is back online). */
  retryNow() {
    if (this.failed && this.item) this.open(this.item);
  }

  _failed() {
    this.failed = true;
    const item = this.item;
    showMessage(`The ${this.label} could not be loaded; retrying…`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.item === item && this.failed) {
        this.attempt += 1;
        this.open(item);
      }
    }, queue.retryDelay(Math.min(this.attempt, 5)));
  }
}

const mainOpener = new ImageOpener(
  mainViewer,
  (item) => [
    { tileSource: item.reconstruction_info, x: 0, y: 0, width: 1 },
    // The original lies on top, hidden; its tiles load anyway so a flip is instant.
    { tileSource: item.original_info, x: 0, y: 0, width: 1, opacity: 0, preload: true },
  ],
  'image',
);

mainViewer.addHandler('open', () => {
  applyShowing();
  renderBoxes();
  if (sync && state.diffVisible) sync.syncNow(mainViewer);
});

function openMain(item) {
  mainOpener.open(item);
}

function ensureDiffViewer() {
  if (diffViewer) return;
  diffViewer = OSD({ ...viewerOptions, element: el('diff-viewer'), showNavigator: false });
  diffLayer = new BoxLayer(diffViewer, {
    interactive: false,
    boxClass: 'annotation-box-mirror',
    imageSize: () => ({ width: currentItem().width, height: currentItem().height }),
  });
  sync = new ViewerSync(mainViewer, diffViewer);
  diffOpener = new ImageOpener(
    diffViewer,
    (item) => [{ tileSource: item.diff_info, x: 0, y: 0, width: 1 }],
    'difference map',
  );
  diffViewer.addHandler('open', () => {
    sync.syncNow(mainViewer);
    renderBoxes();
  });
}

/** True when the viewer shows the whole image as fitted ("0"). */
function isFitted(viewer) {
  const vp = viewer.viewport;
  if (!vp || viewer.world.getItemCount() === 0) return false;
  const home = vp.getHomeBounds().getCenter();
  const center = vp.getCenter();
  return (
    Math.abs(vp.getZoom() / vp.getHomeZoom() - 1) < 0.01 &&
    Math.abs(center.x - home.x) < 0.01 &&
    Math.abs(center.y - home.y) < 0.01
  );
}

let refitOnResize = false;

/** Call before the viewer area changes size: a fitted image stays fitted. */
function beforeLayoutChange() {
  refitOnResize = isFitted(mainViewer);
}

mainViewer.addHandler('after-resize', () => {
  // OpenSeadragon sets its own zoom and centre right after this event; act
  // on the next frame.
  requestAnimationFrame(() => {
    if (refitOnResize) {
      refitOnResize = false;
      mainViewer.viewport.goHome(true);
    }
    // The split appearing or going changes both views; realign them.
    if (sync && state.diffVisible) sync.syncNow(mainViewer);
  });
});

function openDiff(item) {
  ensureDiffViewer();
  diffOpener.open(item);
}

function toggleDiff() {
  beforeLayoutChange();
  state.diffVisible = !state.diffVisible;
  ui.diffPane.hidden = !state.diffVisible;
  ui.diff.setAttribute('aria-pressed', String(state.diffVisible));
  root.classList.toggle('has-diff', state.diffVisible);
  const item = currentItem();
  if (state.diffVisible && item) {
    ensureDiffViewer();
    if (diffOpener.item !== item) openDiff(item);
    else requestAnimationFrame(() => sync.syncNow(mainViewer));
  }
}

function applyShowing() {
  const top = mainViewer.world.getItemCount() > 1 ? mainViewer.world.getItemAt(1) : null;
  if (top) top.setOpacity(state.showing === 'original' ? 1 : 0);
  const label = state.showing === 'original' ? 'ORIGINAL' : 'RECONSTRUCTION';
  ui.badge.textContent = label;
  ui.badge.dataset.showing = state.showing;
  ui.mainPane.dataset.showing = state.showing;
}

function flip() {
  state.showing = state.showing === 'reconstruction' ? 'original' : 'reconstruction';
  applyShowing();
}

function zoomBy(factor) {
  if (sync) sync.lead(mainViewer);
  mainViewer.viewport.zoomBy(factor);
  mainViewer.viewport.applyConstraints();
}

function fit() {
  if (sync) sync.lead(mainViewer);
  mainViewer.viewport.goHome();
}

function toggleFullscreen() {
  beforeLayoutChange();
  if (document.fullscreenElement) {
    document.exitFullscreen();
  } else if (root.requestFullscreen) {
    root.requestFullscreen().catch((err) => flash(`Full screen refused: ${err.message}`));
  }
}

document.addEventListener('fullscreenchange', () => {
  const on = document.fullscreenElement === root;
  ui.fullscreen.setAttribute('aria-pressed', String(on));
  root.classList.toggle('is-fullscreen', on);
});

function setDrawMode(on) {
  state.drawMode = on;
  ui.draw.setAttribute('aria-pressed', String(on));
  ui.drawIndicator.hidden = !on;
  root.classList.toggle('is-drawing', on);
  if (!on) boxLayer.cancelDrag();
}

// ---------------------------------------------------------------- navigation

function parseHashIndex() {
  const m = /(?:^|[#&])image=(\d+)/.exec(window.location.hash);
  return m ? Number.parseInt(m[1], 10) - 1 : null;
}

function goTo(index) {
  if (state.items.length === 0) return;
  const clamped = Math.min(Math.max(index, 0), state.items.length - 1);
  // Leave a note field before its image changes: its blur saves the note to
  // the image it was typed for, and the next keystrokes cannot land on the
  // wrong image.
  if (ui.form.contains(document.activeElement)) document.activeElement.blur();
  const previous = currentItem();
  if (previous) flushNoteSave(previous);
  if (clamped === state.index) return;

  boxLayer.cancelDrag();
  boxLayer.select(null);
  state.index = clamped;
  state.showing = 'reconstruction';
  const item = currentItem();

  const hash = `#image=${clamped + 1}`;
  if (window.location.hash !== hash) history.replaceState(null, '', hash);

  ui.position.textContent = `${clamped + 1} / ${state.items.length}`;
  ui.position.dataset.index = String(clamped);
  ui.blindName.textContent = item.blind_name;
  ui.prev.disabled = clamped === 0;
  ui.next.disabled = clamped === state.items.length - 1;
  document.title = `${clamped + 1} / ${state.items.length} · ${item.blind_name}`;

  applyShowing();
  renderReview();
  renderProgress();
  renderBoxes();
  openMain(item);
  if (state.diffVisible) openDiff(item);
  ensureBoxes(item.blind_name).then(
    () => {
      if (currentItem() === item) renderBoxes();
    },
    () => {},
  );
}

async function loadItems() {
  const url = `${config.api}/batches/${encodeURIComponent(config.batchId)}/items`;
  for (let attempt = 0; ; attempt++) {
    try {
      const body = await apiFetch('GET', url);
      return body.data.map((it) => ({ ...it, review: normaliseReview(it.review) }));
    } catch (err) {
      if (!(err instanceof ApiError && err.isRetryable) || attempt >= 4) throw err;
      showMessage(`Loading the batch failed (${err.message}); retrying…`);
      await new Promise((r) => setTimeout(r, queue.retryDelay(attempt)));
    }
  }
}

// ---------------------------------------------------------------- messages

let flashTimer = null;

function showMessage(text) {
  ui.message.textContent = text;
  ui.message.hidden = false;
}

function hideMessage() {
  ui.message.hidden = true;
}

/** Short-lived hint in the message area. */
function flash(text) {
  showMessage(text);
  clearTimeout(flashTimer);
  flashTimer = setTimeout(hideMessage, 1500);
}

// ---------------------------------------------------------------- panels

function togglePanel(dialog, button) {
  if (dialog.open) {
    dialog.close();
  } else {
    // Non-modal: the image stays usable while the panel is open.
    dialog.show();
    dialog.focus({ preventScroll: true });
  }
  button.setAttribute('aria-expanded', String(dialog.open));
}

for (const [dialog, button] of [
  [ui.tree, ui.treeButton],
  [ui.help, ui.helpButton],
]) {
  dialog.addEventListener('close', () => {
    button.setAttribute('aria-expanded', 'false');
    mainViewer.canvas.focus({ preventScroll: true });
  });
}

document.addEventListener('click', (e) => {
  const closer = e.target instanceof Element && e.target.closest('[data-close]');
  if (closer) el(closer.dataset.close).close();
});

function toggleSidePanel() {
  beforeLayoutChange();
  const show = ui.panel.hidden;
  ui.panel.hidden = !show;
  ui.panelButton.setAttribute('aria-expanded', String(show));
}

// ---------------------------------------------------------------- keyboard

function isTextField(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  if (target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(
      target.type,
    );
  }
  return false;
}

function isActivatable(target) {
  return (
    target instanceof HTMLButtonElement ||
    target instanceof HTMLAnchorElement ||
    (target instanceof HTMLElement && target.tagName === 'SUMMARY') ||
    (target instanceof HTMLInputElement && ['checkbox', 'radio'].includes(target.type))
  );
}

function onEscape() {
  if (boxLayer.drag) boxLayer.cancelDrag();
  else if (ui.help.open) ui.help.close();
  else if (ui.tree.open) ui.tree.close();
  else if (state.drawMode) setDrawMode(false);
  else boxLayer.select(null);
}

function onKeyDown(e) {
  const target = e.target;
  if (isTextField(target)) {
    if (e.key === 'Escape') target.blur();
    return;
  }
  if (e.key === 'Escape') {
    onEscape();
    return;
  }
  if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'z') {
    e.preventDefault();
    if (!e.repeat) undo();
    return;
  }
  // Leave every other browser shortcut alone.
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  // A focused button or checkbox keeps its own Space and Enter.
  if ((e.key === ' ' || e.key === 'Enter') && isActivatable(target)) return;
  if (state.items.length === 0 && e.key !== '?') return;

  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  let handled = true;
  switch (key) {
    case ' ':
      if (!e.repeat) flip();
      break;
    case 'ArrowLeft':
      if (!e.repeat) goTo(state.index - 1);
      break;
    case 'ArrowRight':
      if (!e.repeat) goTo(state.index + 1);
      break;
    case 'd':
      if (!e.repeat) toggleDiff();
      break;
    case '+':
    case '=':
      zoomBy(ZOOM_STEP);
      break;
    case '-':
    case '_':
      zoomBy(1 / ZOOM_STEP);
      break;
    case '0':
      fit();
      break;
    case 'f':
      if (!e.repeat) toggleFullscreen();
      break;
    case 'h':
      if (!e.repeat) togglePanel(ui.tree, ui.treeButton);
      break;
    case '?':
      if (!e.repeat) togglePanel(ui.help, ui.helpButton);
      break;
    case 'p':
      if (!e.repeat) toggleSidePanel();
      break;
    case 'b':
      if (!e.repeat) setDrawMode(!state.drawMode);
      break;
    case 'Delete':
    case 'Backspace':
      deleteSelectedBox();
      break;
    case 'Enter':
      if (!e.repeat) markDoneAndAdvance();
      break;
    case 'm':
      if (!e.repeat) toggleMulti();
      break;
    default:
      handled = false;
  }
  if (handled) e.preventDefault();
}

document.addEventListener('keydown', onKeyDown);

// ---------------------------------------------------------------- buttons

const buttonActions = [
  [ui.prev, () => goTo(state.index - 1)],
  [ui.next, () => goTo(state.index + 1)],
  [ui.flip, flip],
  [ui.draw, () => setDrawMode(!state.drawMode)],
  [ui.diff, toggleDiff],
  [ui.zoomIn, () => zoomBy(ZOOM_STEP)],
  [ui.zoomOut, () => zoomBy(1 / ZOOM_STEP)],
  [ui.fit, fit],
  [ui.fullscreen, toggleFullscreen],
  [ui.treeButton, () => togglePanel(ui.tree, ui.treeButton)],
  [ui.helpButton, () => togglePanel(ui.help, ui.helpButton)],
  [ui.panelButton, toggleSidePanel],
];
for (const [button, action] of buttonActions) {
  button.addEventListener('click', action);
  // Clicking must not move focus onto the button, where Space would press it
  // again instead of flipping the image.
  button.addEventListener('mousedown', (e) => e.preventDefault());
}

// ---------------------------------------------------------------- page life

window.addEventListener('hashchange', () => {
  const index = parseHashIndex();
  if (index !== null && index !== state.index) goTo(index);
});

window.addEventListener('online', () => {
  queue.wake();
  mainOpener.retryNow();
  if (diffOpener && state.diffVisible) diffOpener.retryNow();
});

window.addEventListener('beforeunload', (e) => {
  for (const item of state.items) flushNoteSave(item);
  if (queue.pendingCount() > 0) {
    // Unsaved changes: let the browser ask before leaving.
    e.preventDefault();
    e.returnValue = '';
  }
});

async function start() {
  bindReviewForm();
  renderSaveStatus();
  try {
    state.items = await loadItems();
  } catch (err) {
    showMessage(`This batch could not be loaded: ${err.message}`);
    return;
  }
  hideMessage();
  if (state.items.length === 0) {
    showMessage('This batch has no images.');
    renderProgress();
    return;
  }
  // Where to start: the image in the URL (a reload), else the one the server
  // names, else the first image not done yet, so work continues where it stopped.
  const fromHash = parseHashIndex();
  let index;
  if (fromHash !== null && fromHash >= 0 && fromHash < state.items.length) {
    index = fromHash;
  } else if (config.startIndex > 0) {
    index = config.startIndex;
  } else {
    index = Math.max(0, state.items.findIndex((it) => !it.review.done));
  }
  goTo(index);
  mainViewer.canvas.focus({ preventScroll: true });
}

start();

// Exposed for browser tests and the console; holds no secrets.
window.sclicWorkspace = {
  state,
  queue,
  get mainViewer() {
    return mainViewer;
  },
  get diffViewer() {
    return diffViewer;
  },
  /** Client (page) coordinates of an image pixel of the reconstruction. */
  imageToClient(x, y) {
    const image = mainViewer.world.getItemAt(0);
    const p = image.imageToViewerElementCoordinates(new OSD.Point(x, y));
    const r = mainViewer.canvas.getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  },
};
