// The image viewers: reconstruction and original stacked in one viewer (the
// flip keeps zoom and position), the difference map beside it on demand,
// zoom, fit, full screen and the zoom readout.

import { ImageOpener } from './image-opener.js';
import { flash } from './messages.js';
import { changed, config, currentItem, state } from './state.js';
import { ViewerSync } from './viewer-sync.js';

const OSD = window.OpenSeadragon;
const el = (id) => document.getElementById(id);
const ui = {
  mainPane: el('main-pane'),
  diffPane: el('diff-pane'),
  badge: el('view-badge'),
  zoomLevel: el('zoom-level'),
};

const viewerOptions = {
  prefixUrl: config.osdImages,
  // The 2D-canvas drawer, not WebGL: where the browser renders without a GPU
  // (virtual machines, remote desktops, headless Chromium), a flip of a
  // 1920x1080 view, key press to painted frame, took 0.2-2.4 s with WebGL and
  // 20-105 ms with the canvas drawer (measured by the flip test in
  // tests/browser/test_workspace_browser.py). Where there is a GPU, the
  // browser accelerates 2D canvases as well.
  drawer: 'canvas',
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

export const mainViewer = OSD({
  ...viewerOptions,
  element: el('main-viewer'),
  showNavigator: true,
  navigatorPosition: 'BOTTOM_RIGHT',
  navigatorAutoFade: true,
});

export const mainOpener = new ImageOpener(
  mainViewer,
  (item) => [
    { tileSource: item.reconstruction_info, x: 0, y: 0, width: 1 },
    // The original lies on top, transparent; its tiles load anyway (preload)
    // for wherever the view goes, so a flip only repaints.
    { tileSource: item.original_info, x: 0, y: 0, width: 1, opacity: 0, preload: true },
  ],
  'image',
);

let diffViewer = null;
let diffOpener = null;
let sync = null;

export const getDiffViewer = () => diffViewer;
export const getDiffOpener = () => diffOpener;

mainViewer.addHandler('open', () => {
  applyShowing();
  renderZoom();
  if (sync && state.diffVisible) sync.syncNow(mainViewer);
  changed('images');
});

function ensureDiffViewer() {
  if (diffViewer) return;
  diffViewer = OSD({ ...viewerOptions, element: el('diff-viewer'), showNavigator: false });
  sync = new ViewerSync(mainViewer, diffViewer);
  diffOpener = new ImageOpener(
    diffViewer,
    (item) => [{ tileSource: item.diff_info, x: 0, y: 0, width: 1 }],
    'difference map',
  );
  diffViewer.addHandler('open', () => {
    sync.syncNow(mainViewer);
    changed('images');
  });
}

/** Open the current item's images in the viewers on screen. */
export function openItem(item) {
  mainOpener.open(item);
  if (state.diffVisible) openDiff(item);
}

function openDiff(item) {
  ensureDiffViewer();
  diffOpener.open(item);
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

/**
 * Whether the view was fitted when it last came to rest: a fitted image stays
 * fitted when the viewer area changes size (side panel, difference map, full
 * screen, a toolbar that wraps), instead of keeping the old width's zoom.
 */
let fittedAtRest = false;
const noteRest = () => {
  fittedAtRest = isFitted(mainViewer);
};
mainViewer.addHandler('open', noteRest);
mainViewer.addHandler('animation-finish', noteRest);

mainViewer.addHandler('after-resize', () => {
  const refit = fittedAtRest;
  // OpenSeadragon sets its own zoom and centre right after this event; act
  // on the next frame.
  requestAnimationFrame(() => {
    if (refit) mainViewer.viewport.goHome(true);
    // The split appearing or going changes both views; realign them.
    if (sync && state.diffVisible) sync.syncNow(mainViewer);
  });
});

export function toggleDiff() {
  state.diffVisible = !state.diffVisible;
  ui.diffPane.hidden = !state.diffVisible;
  config.root.classList.toggle('has-diff', state.diffVisible);
  const item = currentItem();
  if (state.diffVisible && item) {
    ensureDiffViewer();
    if (diffOpener.item !== item) openDiff(item);
    else requestAnimationFrame(() => sync.syncNow(mainViewer));
  }
  changed('view');
}

/** Show the image of the pair that state.showing names. */
export function applyShowing() {
  const top = mainViewer.world.getItemCount() > 1 ? mainViewer.world.getItemAt(1) : null;
  if (top) top.setOpacity(state.showing === 'original' ? 1 : 0);
  ui.badge.textContent = state.showing === 'original' ? 'ORIGINAL' : 'RECONSTRUCTION';
  ui.badge.dataset.showing = state.showing;
  ui.mainPane.dataset.showing = state.showing;
}

export function flip() {
  state.showing = state.showing === 'reconstruction' ? 'original' : 'reconstruction';
  applyShowing();
  changed('view');
}

export function zoomBy(factor) {
  if (sync) sync.lead(mainViewer);
  mainViewer.viewport.zoomBy(factor);
  mainViewer.viewport.applyConstraints();
}

export function fit() {
  if (sync) sync.lead(mainViewer);
  mainViewer.viewport.goHome();
}

/** Image pixels per CSS pixel, in per cent (100 %: one image pixel per CSS pixel). */
export function zoomPercent() {
  if (mainViewer.world.getItemCount() === 0) return null;
  const image = mainViewer.world.getItemAt(0);
  return image.viewportToImageZoom(mainViewer.viewport.getZoom(true)) * 100;
}

function renderZoom() {
  const percent = zoomPercent();
  const text = percent === null ? '– %' : `${percent < 10 ? percent.toFixed(1) : Math.round(percent)} %`;
  if (ui.zoomLevel.textContent !== text) ui.zoomLevel.textContent = text;
}

mainViewer.addHandler('update-viewport', renderZoom);

export const isFullscreen = () => document.fullscreenElement === config.root;

export function toggleFullscreen() {
  if (document.fullscreenElement) {
    document.exitFullscreen();
  } else if (config.root.requestFullscreen) {
    config.root.requestFullscreen().catch((err) => flash(`Full screen refused: ${err.message}`));
  }
}

document.addEventListener('fullscreenchange', () => {
  config.root.classList.toggle('is-fullscreen', isFullscreen());
  changed('view');
});

/** Client (page) coordinates of an image pixel of the reconstruction. */
export function imageToClient(x, y) {
  const image = mainViewer.world.getItemAt(0);
  const p = image.imageToViewerElementCoordinates(new OSD.Point(x, y));
  const r = mainViewer.canvas.getBoundingClientRect();
  return { x: r.left + p.x, y: r.top + p.y };
}
