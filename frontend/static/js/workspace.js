// The labeler's workspace: one image of a batch at a time, reconstruction and
// original stacked in one viewer, an optional difference map beside it, and
// annotations drawn in reconstruction pixels, every change saved at once
// through the JSON API.
//
// This module starts the page: it gives the action table (action-table.js)
// the facade its handlers call, binds it to the keys and buttons, and wires
// the page's life (going online, leaving with unsaved changes). The modules
// it imports each do one job and share state through state.js.

import { ACTIONS, GESTURES } from './action-table.js';
import { bindActions } from './actions.js';
import * as annotationView from './annotation-view.js';
import * as navigation from './navigation.js';
import * as panels from './panels.js';
import { bindReviewForm, flushNoteSave, toggleMulti } from './review.js';
import { queue, renderSaveStatus } from './saving.js';
import { config, currentItem, onChange, state } from './state.js';
import * as viewers from './viewers.js';

/** What the actions may ask of the workspace (see action-table.js). */
const ws = {
  hasImage: () => currentItem() !== null,
  canEdit: () => !config.readOnly,
  index: () => state.index,
  count: () => state.items.length,
  goBy: navigation.goBy,
  doneAndNext: navigation.doneAndNext,
  flip: viewers.flip,
  toggleDiff: viewers.toggleDiff,
  diffVisible: () => state.diffVisible,
  zoomBy: viewers.zoomBy,
  fit: viewers.fit,
  toggleFullscreen: viewers.toggleFullscreen,
  isFullscreen: viewers.isFullscreen,
  drawMode: () => state.drawMode,
  setDrawMode: annotationView.setDrawMode,
  annotationsHidden: () => state.annotationsHidden,
  toggleAnnotationsHidden: annotationView.toggleAnnotationsHidden,
  hasSelection: annotationView.hasSelection,
  deleteSelected: annotationView.deleteSelected,
  canUndo: annotationView.canUndo,
  undo: annotationView.undo,
  canRedo: annotationView.canRedo,
  redo: annotationView.redo,
  toggleMulti,
  toggleDialog: panels.toggleDialog,
  dialogOpen: panels.dialogOpen,
  toggleSidePanel: panels.toggleSidePanel,
  sidePanelShown: panels.sidePanelShown,
  escape: () => {
    if (!annotationView.cancelDrag() && !panels.closeDialog()) annotationView.escapeAnnotation();
  },
};

const refreshActions = bindActions(ACTIONS, ws, {
  root: config.root,
  helpTable: document.getElementById('help-keys'),
  gestures: GESTURES,
});
onChange('*', refreshActions);

window.addEventListener('online', () => {
  queue.wake();
  viewers.mainOpener.retryNow();
  const diffOpener = viewers.getDiffOpener();
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
  refreshActions();
  if (await navigation.openBatch()) viewers.mainViewer.canvas.focus({ preventScroll: true });
}

start();

// Exposed for browser tests and the console; holds no secrets.
window.sclicWorkspace = {
  state,
  queue,
  actions: ACTIONS,
  mainViewer: viewers.mainViewer,
  get diffViewer() {
    return viewers.getDiffViewer();
  },
  zoomPercent: viewers.zoomPercent,
  imageToClient: viewers.imageToClient,
};
