// Annotation boxes drawn over an OpenSeadragon viewer.
//
// Boxes live in image-pixel coordinates of the first world item (the
// reconstruction); their screen rectangles are recomputed on every viewer
// redraw, so they stay glued to the image while zooming and panning.
// The layer sits inside the viewer's canvas element: wheel events over a box
// still reach OpenSeadragon and zoom, while presses on boxes, handles and
// drawing drags are taken before OpenSeadragon sees them, so they never pan.

import {
  isDegenerate,
  movedRect,
  pickRect,
  rectFromPoints,
  resizedRect,
  sameRect,
} from './geometry.js';

const HANDLES = ['nw', 'ne', 'sw', 'se'];
/** Screen pixels a press must travel before it counts as a drag. */
const DRAG_THRESHOLD_PX = 3;

export class BoxLayer {
  /**
   * @param {object} viewer OpenSeadragon viewer
   * @param {object} options
   * @param {boolean} [options.interactive] false: outlines only (difference view)
   * @param {string} [options.boxClass] CSS class of each box element
   * @param {() => {width: number, height: number}} options.imageSize
   * @param {(rect: object) => void} [options.onDraw] a new box was drawn
   * @param {(key: string, before: object, after: object) => void} [options.onEdit] moved/resized
   * @param {(key: string|null) => void} [options.onSelect]
   * @param {() => boolean} [options.canDraw] whether drawing mode is on
   */
  constructor(viewer, options) {
    this.viewer = viewer;
    this.options = {
      interactive: true,
      boxClass: 'annotation-box',
      onDraw: () => {},
      onEdit: () => {},
      onSelect: () => {},
      canDraw: () => false,
      ...options,
    };
    this.boxes = [];
    this.elements = new Map();
    this.selectedKey = null;
    this.readOnly = false;
    this.drag = null;

    this.root = document.createElement('div');
    this.root.className = 'box-layer';
    viewer.canvas.appendChild(this.root);

    this.draft = document.createElement('div');
    this.draft.className = 'annotation-draft';
    this.draft.hidden = true;
    this.root.appendChild(this.draft);

    viewer.addHandler('update-viewport', () => this.position());
    viewer.addHandler('resize', () => this.position());

    if (this.options.interactive) {
      this._onPointerDown = this._onPointerDown.bind(this);
      this._onPointerMove = this._onPointerMove.bind(this);
      this._onPointerUp = this._onPointerUp.bind(this);
      viewer.element.addEventListener('pointerdown', this._onPointerDown, { capture: true });
      // A plain click on the image (no drag) clears the selection.
      viewer.addHandler('canvas-click', (event) => {
        if (event.quick && !this.drag) this.select(null);
      });
    }
  }

  /** The reconstruction: the bottom image of the viewer's world. */
  get tiledImage() {
    return this.viewer.world.getItemCount() > 0 ? this.viewer.world.getItemAt(0) : null;
  }

  /**
   * Show exactly these boxes: [{key, id, x, y, w, h, saved}], in display order.
   */
  render(boxes) {
    this.boxes = boxes;
    const keep = new Set();
    boxes.forEach((box, index) => {
      keep.add(box.key);
      let el = this.elements.get(box.key);
      if (!el) {
        el = this._createElement(box.key);
        this.elements.set(box.key, el);
        this.root.appendChild(el);
      }
      el.dataset.id = box.id || '';
      el.dataset.x = String(box.x);
      el.dataset.y = String(box.y);
      el.dataset.w = String(box.w);
      el.dataset.h = String(box.h);
      el.dataset.saved = box.saved ? 'true' : 'false';
      el.classList.toggle('selected', box.key === this.selectedKey);
      el.querySelector('.box-label').textContent = String(index + 1);
      el.setAttribute(
        'aria-label',
        `Box ${index + 1}: x ${box.x}, y ${box.y}, ${box.w} by ${box.h} pixels`,
      );
    });
    for (const [key, el] of this.elements) {
      if (!keep.has(key)) {
        el.remove();
        this.elements.delete(key);
      }
    }
    if (this.selectedKey !== null && !keep.has(this.selectedKey)) {
      this.selectedKey = null;
      this.options.onSelect(null);
    }
    this.position();
  }

  select(key) {
    if (key === this.selectedKey) return;
    this.selectedKey = key;
    for (const [k, el] of this.elements) el.classList.toggle('selected', k === key);
    this.options.onSelect(key);
  }

  /** Abort a drag in progress, leaving every box as it was. */
  cancelDrag() {
    if (!this.drag) return;
    this._endDrag();
    this.draft.hidden = true;
    this.position();
  }

  /** Recompute every box's screen rectangle from its image rectangle. */
  position() {
    const image = this.tiledImage;
    this.root.hidden = !image;
    if (!image) return;
    for (const box of this.boxes) {
      const el = this.elements.get(box.key);
      if (!el) continue;
      const shown = this._previewRect(box);
      this._place(el, image, shown);
    }
    if (this.drag && this.drag.type === 'draw' && this.drag.rect) {
      this._place(this.draft, image, this.drag.rect);
    }
  }

  _place(el, image, rect) {
    const OSD = window.OpenSeadragon;
    const p0 = image.imageToViewerElementCoordinates(new OSD.Point(rect.x, rect.y));
    const p1 = image.imageToViewerElementCoordinates(
      new OSD.Point(rect.x + rect.w, rect.y + rect.h),
    );
    el.style.left = `${p0.x}px`;
    el.style.top = `${p0.y}px`;
    el.style.width = `${Math.max(0, p1.x - p0.x)}px`;
    el.style.height = `${Math.max(0, p1.y - p0.y)}px`;
  }

  /** The rectangle a box is drawn at: its live drag preview while being edited. */
  _previewRect(box) {
    if (this.drag && this.drag.key === box.key && this.drag.rect) return this.drag.rect;
    return box;
  }

  _createElement(key) {
    const el = document.createElement('div');
    el.className = this.options.boxClass;
    el.dataset.key = key;
    const label = document.createElement('span');
    label.className = 'box-label';
    label.setAttribute('aria-hidden', 'true');
    el.appendChild(label);
    if (this.options.interactive) {
      for (const handle of HANDLES) {
        const h = document.createElement('div');
        h.className = `box-handle box-handle-${handle}`;
        h.dataset.handle = handle;
        el.appendChild(h);
      }
    }
    return el;
  }

  /** Image-pixel point (floats) under a pointer event. */
  _imagePoint(event) {
    const OSD = window.OpenSeadragon;
    const r = this.viewer.canvas.getBoundingClientRect();
    const pixel = new OSD.Point(event.clientX - r.left, event.clientY - r.top);
    return this.tiledImage.viewerElementToImageCoordinates(pixel);
  }

  _onPointerDown(event) {
    if (event.button !== 0 || this.readOnly || !this.tiledImage) return;
    // A release the page never saw (e.g. outside a frame) must not leave a
    // drag hanging that would swallow this press.
    if (this.drag) this.cancelDrag();
    const target = event.target instanceof Element ? event.target : null;
    const handleEl = target && target.closest('.box-handle');
    const boxEl = target && target.closest(`.${this.options.boxClass}`);
    const startDraw = event.shiftKey || (this.options.canDraw() && !boxEl);

    let drag = null;
    if (handleEl && boxEl && !event.shiftKey) {
      drag = { type: 'resize', key: boxEl.dataset.key, handle: handleEl.dataset.handle };
    } else if (boxEl && !event.shiftKey) {
      drag = { type: 'move', key: boxEl.dataset.key };
    } else if (startDraw && this.viewer.canvas.contains(target)) {
      drag = { type: 'draw', key: null };
    } else {
      return;
    }

    // From here on the press belongs to the layer, not to OpenSeadragon's pan.
    event.preventDefault();
    event.stopPropagation();
    this.viewer.canvas.focus({ preventScroll: true });

    const box = drag.key ? this.boxes.find((b) => b.key === drag.key) : null;
    if (drag.key && !box) return;
    if (drag.key) this.select(drag.key);

    this.drag = {
      ...drag,
      pointerId: event.pointerId,
      startClient: { x: event.clientX, y: event.clientY },
      startImage: this._imagePoint(event),
      original: box ? pickRect(box) : null,
      rect: null,
      active: drag.type === 'resize',
    };
    window.addEventListener('pointermove', this._onPointerMove, { capture: true });
    window.addEventListener('pointerup', this._onPointerUp, { capture: true });
    window.addEventListener('pointercancel', this._onPointerUp, { capture: true });
  }

  _onPointerMove(event) {
    const drag = this.drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    event.preventDefault();
    event.stopPropagation();
    if (!drag.active) {
      const moved = Math.hypot(
        event.clientX - drag.startClient.x,
        event.clientY - drag.startClient.y,
      );
      if (moved < DRAG_THRESHOLD_PX) return;
      drag.active = true;
    }
    const { width, height } = this.options.imageSize();
    const point = this._imagePoint(event);
    if (drag.type === 'draw') {
      drag.rect = rectFromPoints(drag.startImage, point, width, height);
      this.draft.hidden = false;
    } else if (drag.type === 'move') {
      drag.rect = movedRect(
        drag.original,
        point.x - drag.startImage.x,
        point.y - drag.startImage.y,
        width,
        height,
      );
    } else {
      drag.rect = resizedRect(drag.original, drag.handle, point, width, height);
    }
    this.position();
  }

  _onPointerUp(event) {
    const drag = this.drag;
    if (!drag || event.pointerId !== drag.pointerId) return;
    event.preventDefault();
    event.stopPropagation();
    this._endDrag();
    this.draft.hidden = true;

    const rect = event.type === 'pointercancel' ? null : drag.rect;
    if (drag.active && rect && !isDegenerate(rect)) {
      if (drag.type === 'draw') {
        this.options.onDraw(rect);
      } else if (!sameRect(rect, drag.original)) {
        this.options.onEdit(drag.key, drag.original, rect);
      }
    }
    this.position();
  }

  _endDrag() {
    this.drag = null;
    window.removeEventListener('pointermove', this._onPointerMove, { capture: true });
    window.removeEventListener('pointerup', this._onPointerUp, { capture: true });
    window.removeEventListener('pointercancel', this._onPointerUp, { capture: true });
  }
}
