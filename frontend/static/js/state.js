// The workspace's shared state: the batch's items, which one is on screen and
// how it is shown. Modules change it through their own functions, then call
// changed(topic); whatever shows that part of the state subscribed with
// onChange(topic, render) and renders again. Topics:
//   item         another image is on screen (navigation)
//   images       a viewer opened its images (viewers)
//   view         flip, difference map, drawing mode, hidden boxes, panels
//   annotations  the boxes of an image changed (annotations)
//   review       the review of an image changed (review)
//   save         the save queue moved (saving)
//   removed      an item turned out to be removed on request (removed)

const root = document.getElementById('workspace');

export const config = Object.freeze({
  root,
  batchId: root.dataset.batchId,
  startIndex: Number.parseInt(root.dataset.startIndex || '0', 10) || 0,
  annotateAll: root.dataset.annotateAll === 'true',
  /** Someone else's work, shown for review: nothing on the page may change it. */
  readOnly: root.dataset.readOnly === 'true',
  /** Where the items come from: an admin's review reads the labeler's work instead. */
  itemsUrl: root.dataset.itemsUrl || null,
  /** The server's rule: the smallest side of a box, in image pixels. */
  minAnnotationSide: Number.parseInt(root.dataset.minAnnotationSide || '2', 10) || 2,
  api: root.dataset.apiBase || '/api/v1',
  osdImages: `${root.dataset.vendorOsd || '/static/vendor/openseadragon/'}images/`,
});

export const state = {
  /** The batch's items, each with its review (see review.js). */
  items: [],
  index: -1,
  /** 'reconstruction' or 'original': which image of the pair is on top. */
  showing: 'reconstruction',
  drawMode: false,
  diffVisible: false,
  /** Boxes hidden to see the pixels under them. */
  annotationsHidden: false,
};

export const currentItem = () => state.items[state.index] || null;

const listeners = new Map();

/** Call `render` after every change of `topic` ('*': after every change). */
export function onChange(topic, render) {
  if (!listeners.has(topic)) listeners.set(topic, []);
  listeners.get(topic).push(render);
}

export function changed(topic) {
  for (const render of listeners.get(topic) || []) render(topic);
  for (const render of listeners.get('*') || []) render(topic);
}

export function apiUrl(...parts) {
  return [config.api, ...parts.map((p) => encodeURIComponent(p))].join('/');
}
