// Annotations (the labeler's boxes) drawn over an OpenSeadragon viewer.
//
// Annotations live in image-pixel coordinates of the first world item (the
// reconstruction); their screen rectangles are recomputed on every viewer
// redraw, so they stay glued to the image while zooming and panning.
// The layer sits inside the viewer's canvas element: wheel events over an
// annotation still reach OpenSeadragon and zoom, while presses on
// annotations, handles and drawing drags are taken before OpenSeadragon sees
// them, so they never pan.

import {
  MIN_ANNOTATION_SIDE,
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

export class AnnotationLayer {
  /**
   * @param {object} viewer OpenSeadragon viewer
   * @param {object} options
   * @param {boolean} [options.interactive] false: outlines only (difference view)
   * @param {string} [options.elementClass] CSS class of each annotation's element
   * @param {() => {width: number, height: number}} options.imageSize
   * @param {(rect: object) => void} [options.onDraw] a new annotation was drawn
   * @param {(key: string, before: object, after: object) => void} [options.onEdit] moved/resized
   * @param {(key: string|null) => void} [options.onSelect]
   * @param {() => boolean} [options.canDraw] whether drawing mode is on
   * @param {number} [options.minSide] smallest side of an annotation (the server's rule)
   * @param {(rect: object) => void} [options.onTooSmall] a drag ended under that size
   */
  constructor(viewer, options) {
    this.viewer = viewer;
    this.options = {
      interactive: true,
      elementClass: 'annotation-box',
      onDraw: () => {},
      onEdit: () => {},
      onSelect: () => {},
      canDraw: () => false,
      minSide: MIN_ANNOTATION_SIDE,
      onTooSmall: () => {},
      ...options,
    };
    this.annotations = [];
    this.elements = new Map();
    this.selectedKey = null;
    this.readOnly = false;
    /** Hidden to show the pixels under the annotations. */
    this.hidden = false;
    this.drag = null;

    this.root = document.createElement('div');
    this.root.className = 'annotation-layer';
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
   * Show exactly these annotations: [{key, id, x, y, w, h, saved}], in display order.
   */
  render(annotations) {
    this.annotations = annotations;
    const keep = new Set();
    annotations.forEach((annotation, index) => {
      keep.add(annotation.key);
      let el = this.elements.get(annotation.key);
      if (!el) {
        el = this._createElement(annotation.key);
        this.elements.set(annotation.key, el);
        this.root.appendChild(el);
      }
      const a = annotation;
      el.dataset.id = a.id || '';
      el.dataset.x = String(a.x);
      el.dataset.y = String(a.y);
      el.dataset.w = String(a.w);
      el.dataset.h = String(a.h);
      el.dataset.saved = a.saved ? 'true' : 'false';
      el.classList.toggle('selected', a.key === this.selectedKey);
      el.querySelector('.annotation-label').textContent = String(index + 1);
      el.setAttribute('aria-label', `Box ${index + 1}: x ${a.x}, y ${a.y}, ${a.w} by ${a.h} pixels`);
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

  /** Abort a drag in progress, leaving every annotation as it was. */
  cancelDrag() {
    if (!this.drag) return;
    this._endDrag();
    this.draft.hidden = true;
    this.position();
  }

  /** Hide or show every annotation; a drag in progress ends. */
  setHidden(hidden) {
    this.hidden = hidden;
    if (hidden) this.cancelDrag();
    this.position();
  }

  /** Recompute every annotation's screen rectangle from its image rectangle. */
  position() {
    const image = this.tiledImage;
    this.root.hidden = !image || this.hidden;
    if (this.root.hidden) return;
    for (const annotation of this.annotations) {
      const el = this.elements.get(annotation.key);
      if (!el) continue;
      this._place(el, image, this._previewRect(annotation));
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

  /** The rectangle an annotation is drawn at: its live drag preview while being edited. */
  _previewRect(annotation) {
    if (this.drag && this.drag.key === annotation.key && this.drag.rect) return this.drag.rect;
    return annotation;
  }

  _createElement(key) {
    const el = document.createElement('div');
    el.className = this.options.elementClass;
    el.dataset.key = key;
    const label = document.createElement('span');
    label.className = 'annotation-label';
    label.setAttribute('aria-hidden', 'true');
    el.appendChild(label);
    if (this.options.interactive) {
      for (const handle of HANDLES) {
        const h = document.createElement('div');
        h.className = `annotation-handle annotation-handle-${handle}`;
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
    if (event.button !== 0 || this.readOnly || this.hidden || !this.tiledImage) return;
    // A release the page never saw (e.g. outside a frame) must not leave a
    // drag hanging that would swallow this press.
    if (this.drag) this.cancelDrag();
    const target = event.target instanceof Element ? event.target : null;
    const handleEl = target && target.closest('.annotation-handle');
    const annotationEl = target && target.closest(`.${this.options.elementClass}`);
    const startDraw = event.shiftKey || (this.options.canDraw() && !annotationEl);

    let drag = null;
    if (handleEl && annotationEl && !event.shiftKey) {
      drag = { type: 'resize', key: annotationEl.dataset.key, handle: handleEl.dataset.handle };
    } else if (annotationEl && !event.shiftKey) {
      drag = { type: 'move', key: annotationEl.dataset.key };
    } else if (startDraw && this.viewer.canvas.contains(target)) {
      drag = { type: 'draw', key: null };
    } else {
      return;
    }

    // From here on the press belongs to the layer, not to OpenSeadragon's pan.
    event.preventDefault();
    event.stopPropagation();
    this.viewer.canvas.focus({ preventScroll: true });

    const annotation = drag.key ? this.annotations.find((a) => a.key === drag.key) : null;
    if (drag.key && !annotation) return;
    if (drag.key) this.select(drag.key);

    this.drag = {
      ...drag,
      pointerId: event.pointerId,
      startClient: { x: event.clientX, y: event.clientY },
      startImage: this._imagePoint(event),
      original: annotation ? pickRect(annotation) : null,
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
    if (drag.active && rect && isDegenerate(rect, this.options.minSide)) {
      this.options.onTooSmall(rect);
    } else if (drag.active && rect) {
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
