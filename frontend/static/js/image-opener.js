// Opens an item's image(s) in a viewer and keeps trying, with backoff, while
// that item is still on screen: a network hiccup while turning to the next
// image must not leave the labeler in front of an empty viewer.

import { hideMessage, showMessage } from './messages.js';
import { checkRemoved } from './removed.js';
import { backoffDelay } from './save-queue.js';

export class ImageOpener {
  /**
   * @param {object} viewer OpenSeadragon viewer
   * @param {(item: object) => object[]} sourcesFor the tile sources to open for an item
   * @param {string} label what the labeler is told could not be loaded
   */
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
      // the coordinates of the annotations) would be wrong.
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
    clearTimeout(this.timer);
    // An image removed on request never comes back: no retrying (navigation
    // hears of it and moves on).
    checkRemoved(item).then((removed) => {
      if (removed && this.item === item) {
        this.failed = false;
        clearTimeout(this.timer);
      }
    });
    showMessage(`The ${this.label} could not be loaded; retrying…`);
    this.timer = setTimeout(
      () => {
        if (this.item === item && this.failed) {
          this.attempt += 1;
          this.open(item);
        }
      },
      backoffDelay(Math.min(this.attempt, 5)),
    );
  }
}
