// Annotation rectangles in image-pixel coordinates of the reconstruction.
// Stored annotations are integer {x, y, w, h} with 0 <= x, x + w <= width (same for y).

/**
 * Smallest side, in image pixels, of a real annotation. The server's rule
 * (backend/services/labeling.py) is the one that counts: the workspace reads
 * it from its page and passes it on; this default serves pure uses and tests.
 */
export const MIN_ANNOTATION_SIDE = 2;

export function clamp(value, lo, hi) {
  return Math.min(Math.max(value, lo), hi);
}

/**
 * Rectangle spanned by two (float) image points, each snapped to the nearest pixel
 * boundary, and clipped to the image.
 */
export function rectFromPoints(a, b, width, height) {
  const x0 = clamp(Math.round(Math.min(a.x, b.x)), 0, width);
  const y0 = clamp(Math.round(Math.min(a.y, b.y)), 0, height);
  const x1 = clamp(Math.round(Math.max(a.x, b.x)), 0, width);
  const y1 = clamp(Math.round(Math.max(a.y, b.y)), 0, height);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

export function isDegenerate(rect, minSide = MIN_ANNOTATION_SIDE) {
  return rect.w < minSide || rect.h < minSide;
}

/** Rectangle translated by (dx, dy) image pixels, kept entirely inside the image. */
export function movedRect(rect, dx, dy, width, height) {
  return {
    x: clamp(Math.round(rect.x + dx), 0, Math.max(0, width - rect.w)),
    y: clamp(Math.round(rect.y + dy), 0, Math.max(0, height - rect.h)),
    w: rect.w,
    h: rect.h,
  };
}

/**
 * Rectangle after dragging one corner handle ("nw", "ne", "sw", "se") to `point`.
 * The opposite corner stays fixed; dragging past it flips the rectangle.
 */
export function resizedRect(rect, handle, point, width, height) {
  const fixed = {
    x: handle.includes('w') ? rect.x + rect.w : rect.x,
    y: handle.includes('n') ? rect.y + rect.h : rect.y,
  };
  const x0 = clamp(Math.round(Math.min(fixed.x, point.x)), 0, width);
  const y0 = clamp(Math.round(Math.min(fixed.y, point.y)), 0, height);
  const x1 = clamp(Math.round(Math.max(fixed.x, point.x)), 0, width);
  const y1 = clamp(Math.round(Math.max(fixed.y, point.y)), 0, height);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

export function sameRect(a, b) {
  return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}

export function pickRect(obj) {
  return { x: obj.x, y: obj.y, w: obj.w, h: obj.h };
}
