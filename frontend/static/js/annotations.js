// The labeler's annotations of each image: loaded once from the API, changed
// here at once, and saved through the save queue (per annotation, its create,
// updates and delete go in order). Undo and redo replay changes through the
// API as well, so what the server holds is always what the page shows.

import { ApiError, apiFetch } from './api.js';
import { pickRect } from './geometry.js';
import { notify, showMessage } from './messages.js';
import { checkRemoved } from './removed.js';
import { backoffDelay } from './save-queue.js';
import { clearNotice, queue } from './saving.js';
import { apiUrl, changed, state } from './state.js';

let nextKey = 1;
const newKey = () => `annotation-${nextKey++}`;

/**
 * blind_name -> {annotations, undo, redo, loaded, loading, reloading}.
 * An annotation: {key (local, stable), id and version (server's), x, y, w, h,
 * deleted}. Undo and redo entries: {type: create|update|delete, key, before, after}.
 */
const images = new Map();

export function annotationsOf(blind) {
  let s = images.get(blind);
  if (!s) {
    s = { annotations: [], undo: [], redo: [], loaded: false, loading: null, reloading: false };
    images.set(blind, s);
  }
  return s;
}

export const liveAnnotations = (s) => s.annotations.filter((a) => !a.deleted);

/** Saved: the server has it and nothing about it is still queued. */
export const isSaved = (a) => Boolean(a.id) && !queue.lanes.has(a.key);

/** Whether the labeler can change this image's annotations right now. */
export function isEditable(blind) {
  const s = annotationsOf(blind);
  return s.loaded && !s.reloading;
}

const annotationsUrl = (blind) => apiUrl('items', blind, 'annotations');
const annotationUrl = (id) => apiUrl('annotations', id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Take the server's copy, unless newer local edits are queued. */
function applyServerCopy(annotation, data) {
  annotation.id = data.id;
  annotation.version = data.version;
  const lane = queue.lanes.get(annotation.key);
  if (!(lane && lane.ops.length > 1)) Object.assign(annotation, pickRect(data));
}

/** A refused save is told, then the image's annotations come back from the server. */
function refused(blind, err) {
  if (err instanceof ApiError && err.status === 410) {
    // Removed on request meanwhile: navigation moves on (see removed.js).
    checkRemoved(state.items.find((it) => it.blind_name === blind));
    return;
  }
  if (err instanceof ApiError && err.status === 422) notify(`Box refused: ${err.message}`);
  reload(blind);
}

function enqueue(blind, annotation, kind, send, coalesce = false) {
  queue.enqueue({
    key: annotation.key,
    group: blind,
    kind,
    coalesce,
    send,
    onRefused: (err) => refused(blind, err),
  });
}

/** The server's answer to a write; a box it had to cut at the image's edge is told. */
function saved(a, data) {
  if (data.clipped) notify(data.message || "The box was cut at the image's edge.");
  applyServerCopy(a, data);
}

function enqueueCreate(blind, a) {
  enqueue(blind, a, 'create', async () => {
    saved(a, await apiFetch('POST', annotationsUrl(blind), pickRect(a)));
  });
}

function enqueueUpdate(blind, a) {
  const send = async () => {
    const body = { ...pickRect(a), version: a.version };
    saved(a, await apiFetch('PATCH', annotationUrl(a.id), body));
  };
  enqueue(blind, a, 'update', send, true);
}

function enqueueDelete(blind, a) {
  enqueue(blind, a, 'delete', async () => {
    const url = `${annotationUrl(a.id)}?version=${encodeURIComponent(a.version)}`;
    try {
      await apiFetch('DELETE', url);
    } catch (err) {
      // Gone already (an earlier attempt succeeded but its answer was lost).
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
    a.id = null;
    a.version = null;
  });
}

const fromServer = (a) => ({
  key: newKey(),
  id: a.id,
  version: a.version,
  ...pickRect(a),
  deleted: false,
});

async function fetchAnnotations(blind) {
  const body = await apiFetch('GET', annotationsUrl(blind));
  return body.data.map(fromServer);
}

/** Annotations that came with the item (an admin's review of a labeler's work). */
export function preload(blind, list) {
  const s = annotationsOf(blind);
  s.annotations = list.map(fromServer);
  s.loaded = true;
}

/** GET an image's annotations, retrying while the failure is transient. */
async function fetchWithRetry(blind) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchAnnotations(blind);
    } catch (err) {
      if (!(err instanceof ApiError && err.isRetryable)) throw err;
      await sleep(backoffDelay(Math.min(attempt, 5)));
    }
  }
}

/** Load an image's annotations once; later visits keep the local (maybe unsaved) state. */
export function ensureLoaded(blind) {
  const s = annotationsOf(blind);
  if (s.loaded) return Promise.resolve(s);
  if (!s.loading) {
    s.loading = fetchWithRetry(blind)
      .then((list) => {
        s.annotations = list;
        s.loaded = true;
        changed('annotations');
        return s;
      })
      .catch((err) => {
        showMessage(`Could not load the boxes of this image: ${err.message}`);
        throw err;
      })
      .finally(() => {
        s.loading = null;
      });
  }
  return s.loading;
}

/** After a refused save: wait for this image's other saves, then show the server's. */
async function reload(blind) {
  const s = annotationsOf(blind);
  if (s.reloading) return;
  s.reloading = true;
  changed('annotations');
  try {
    await queue.whenIdle(blind);
    s.annotations = await fetchWithRetry(blind);
    s.loaded = true;
    // Undo and redo entries name annotations that no longer exist as they were.
    s.undo = [];
    s.redo = [];
  } catch (err) {
    showMessage(`Could not reload the boxes of this image: ${err.message}`);
  } finally {
    s.reloading = false;
    changed('annotations');
  }
}

const find = (s, key) => s.annotations.find((a) => a.key === key) || null;

/** A change by the labeler: kept for undo, and it ends what redo could repeat. */
function record(s, entry) {
  clearNotice();
  s.undo.push(entry);
  s.redo = [];
  changed('annotations');
}

/** A new annotation drawn on `blind`; returns its key, or null if the image is not editable. */
export function add(blind, rect) {
  if (!isEditable(blind)) return null;
  const s = annotationsOf(blind);
  const a = { key: newKey(), id: null, version: null, ...pickRect(rect), deleted: false };
  s.annotations.push(a);
  enqueueCreate(blind, a);
  record(s, { type: 'create', key: a.key });
  return a.key;
}

/** An annotation moved or resized from `before` to `after`. */
export function edit(blind, key, before, after) {
  const s = annotationsOf(blind);
  const a = find(s, key);
  if (!a || a.deleted || !isEditable(blind)) return;
  Object.assign(a, pickRect(after));
  enqueueUpdate(blind, a);
  record(s, { type: 'update', key, before: pickRect(before), after: pickRect(after) });
}

export function remove(blind, key) {
  const s = annotationsOf(blind);
  const a = find(s, key);
  if (!a || a.deleted || !isEditable(blind)) return;
  a.deleted = true;
  enqueueDelete(blind, a);
  record(s, { type: 'delete', key });
}

export const canUndo = (blind) => isEditable(blind) && annotationsOf(blind).undo.length > 0;
export const canRedo = (blind) => isEditable(blind) && annotationsOf(blind).redo.length > 0;

/**
 * Apply a recorded change again (redo) or its inverse (undo). Returns the key
 * of the annotation to select, '' when there is none to select, or null when
 * the annotation is no longer as the entry left it (then nothing changes).
 */
function replay(blind, s, entry, forward) {
  const a = find(s, entry.key);
  if (!a) return null;
  let op = 'update';
  if (entry.type !== 'update') op = (entry.type === 'create') === forward ? 'create' : 'delete';
  if (op === 'create' && a.deleted) {
    // Recreated under a new server id; the annotation keeps its local key, so
    // older entries still find it.
    a.deleted = false;
    enqueueCreate(blind, a);
  } else if (op === 'delete' && !a.deleted) {
    a.deleted = true;
    enqueueDelete(blind, a);
  } else if (op === 'update' && !a.deleted) {
    Object.assign(a, forward ? entry.after : entry.before);
    enqueueUpdate(blind, a);
  } else {
    return null;
  }
  return op === 'delete' ? '' : a.key;
}

function step(blind, from, to, forward) {
  if (!isEditable(blind)) return null;
  const s = annotationsOf(blind);
  const entry = s[from].pop();
  if (!entry) return null;
  clearNotice();
  const selected = replay(blind, s, entry, forward);
  if (selected !== null) s[to].push(entry);
  changed('annotations');
  return selected;
}

/** Undo the last change on `blind`: see replay() for what it returns. */
export const undo = (blind) => step(blind, 'undo', 'redo', false);

/** Redo the change last undone on `blind`: see replay() for what it returns. */
export const redo = (blind) => step(blind, 'redo', 'undo', true);
