// The current image's annotations on screen: editable over the image, as
// outlines over the difference map, counted in the side panel; drawing mode,
// selection, and hiding them to see the pixels under them.

import { AnnotationLayer } from './annotation-layer.js';
import * as annotations from './annotations.js';
import { flash, notify } from './messages.js';
import { changed, config, currentItem, onChange, state } from './state.js';
import { getDiffViewer, mainViewer } from './viewers.js';

const el = (id) => document.getElementById(id);
const ui = {
  mainPane: el('main-pane'),
  drawIndicator: el('draw-indicator'),
  hiddenIndicator: el('hidden-indicator'),
  count: el('annotation-count'),
  multiHint: el('multi-hint'),
};

const imageSize = () => {
  const item = currentItem();
  return { width: item.width, height: item.height };
};

const blind = () => currentItem().blind_name;

export const mainLayer = new AnnotationLayer(mainViewer, {
  imageSize,
  canDraw: () => state.drawMode,
  onDraw: (rect) => {
    const key = annotations.add(blind(), rect);
    if (key) mainLayer.select(key);
  },
  onEdit: (key, before, after) => annotations.edit(blind(), key, before, after),
  onSelect: () => changed('view'),
  minSide: config.minAnnotationSide,
  onTooSmall: (rect) =>
    notify(
      `Box refused: it is ${rect.w}×${rect.h} px; a box must be at least ` +
        `${config.minAnnotationSide} px on each side.`,
    ),
});

let diffLayer = null;

function ensureDiffLayer() {
  const viewer = getDiffViewer();
  if (diffLayer || !viewer) return;
  diffLayer = new AnnotationLayer(viewer, {
    interactive: false,
    elementClass: 'annotation-box-mirror',
    imageSize,
  });
}

export function renderAnnotations() {
  const item = currentItem();
  if (!item) return;
  ensureDiffLayer();
  const s = annotations.annotationsOf(item.blind_name);
  const shown = s.loaded
    ? annotations.liveAnnotations(s).map((a) => ({ ...a, saved: annotations.isSaved(a) }))
    : [];
  mainLayer.readOnly = config.readOnly || !annotations.isEditable(item.blind_name);
  mainLayer.render(shown);
  if (diffLayer) diffLayer.render(shown);
  for (const layer of [mainLayer, diffLayer]) {
    if (layer && layer.hidden !== state.annotationsHidden) layer.setHidden(state.annotationsHidden);
  }
  ui.count.textContent = String(shown.length);
  ui.multiHint.hidden = config.annotateAll || shown.length < 3 || item.review.multi;
  ui.mainPane.classList.toggle('is-reloading', s.reloading);
}

for (const topic of ['item', 'images', 'annotations', 'review', 'save']) {
  onChange(topic, renderAnnotations);
}

export function setDrawMode(on) {
  state.drawMode = on;
  if (on) showAnnotations();
  ui.drawIndicator.hidden = !on;
  config.root.classList.toggle('is-drawing', on);
  if (!on) mainLayer.cancelDrag();
  changed('view');
}

function showAnnotations() {
  if (state.annotationsHidden) setAnnotationsHidden(false);
}

/** Hide the annotations to see the pixels under them; drawing and selection end. */
export function setAnnotationsHidden(hidden) {
  state.annotationsHidden = hidden;
  if (hidden) {
    if (state.drawMode) setDrawMode(false);
    mainLayer.select(null);
  }
  ui.hiddenIndicator.hidden = !hidden;
  config.root.classList.toggle('annotations-hidden', hidden);
  renderAnnotations();
  changed('view');
}

export const toggleAnnotationsHidden = () => setAnnotationsHidden(!state.annotationsHidden);

export const hasSelection = () => mainLayer.selectedKey !== null;

export function deleteSelected() {
  const key = mainLayer.selectedKey;
  if (currentItem() && key) annotations.remove(blind(), key);
}

function replay(step, nothingLeft) {
  if (!currentItem()) return;
  // A change the labeler cannot see would be a surprise.
  showAnnotations();
  const selected = step(blind());
  if (selected === null) flash(nothingLeft);
  else mainLayer.select(selected || null);
}

export const undo = () => replay(annotations.undo, 'Nothing to undo');
export const redo = () => replay(annotations.redo, 'Nothing to redo');
export const canUndo = () => Boolean(currentItem()) && annotations.canUndo(blind());
export const canRedo = () => Boolean(currentItem()) && annotations.canRedo(blind());

/** End a drag in progress; false when there was none. */
export function cancelDrag() {
  if (!mainLayer.drag) return false;
  mainLayer.cancelDrag();
  return true;
}

/** Esc with no drag and no panel open: leave drawing mode, else drop the selection. */
export function escapeAnnotation() {
  if (state.drawMode) setDrawMode(false);
  else mainLayer.select(null);
}

/** Before another image comes on screen. */
export function leaveImage() {
  mainLayer.cancelDrag();
  mainLayer.select(null);
  state.annotationsHidden = false;
  ui.hiddenIndicator.hidden = true;
  config.root.classList.remove('annotations-hidden');
}
