import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  isDegenerate,
  movedRect,
  rectFromPoints,
  resizedRect,
} from '../static/js/geometry.js';

test('a drag in any direction gives the same integer rectangle', () => {
  const a = { x: 10.4, y: 20.6 };
  const b = { x: 50.5, y: 5.2 };
  assert.deepEqual(rectFromPoints(a, b, 100, 100), { x: 10, y: 5, w: 41, h: 16 });
  assert.deepEqual(rectFromPoints(b, a, 100, 100), { x: 10, y: 5, w: 41, h: 16 });
});

test('a drawn annotation is clipped to the image', () => {
  const r = rectFromPoints({ x: -30, y: 90 }, { x: 40, y: 250 }, 100, 120);
  assert.deepEqual(r, { x: 0, y: 90, w: 40, h: 30 });
});

test('drags under two pixels are degenerate', () => {
  assert.ok(isDegenerate({ x: 0, y: 0, w: 1, h: 50 }));
  assert.ok(isDegenerate({ x: 0, y: 0, w: 50, h: 0 }));
  assert.ok(!isDegenerate({ x: 0, y: 0, w: 2, h: 2 }));
});

test('a moved annotation keeps its size and stays inside the image', () => {
  const rect = { x: 10, y: 10, w: 30, h: 20 };
  assert.deepEqual(movedRect(rect, 5.6, -3.2, 100, 100), { x: 16, y: 7, w: 30, h: 20 });
  assert.deepEqual(movedRect(rect, 500, 500, 100, 100), { x: 70, y: 80, w: 30, h: 20 });
  assert.deepEqual(movedRect(rect, -500, -500, 100, 100), { x: 0, y: 0, w: 30, h: 20 });
});

test('resizing by a corner keeps the opposite corner fixed', () => {
  const rect = { x: 10, y: 10, w: 30, h: 20 };
  assert.deepEqual(resizedRect(rect, 'se', { x: 60, y: 50 }, 100, 100), { x: 10, y: 10, w: 50, h: 40 });
  assert.deepEqual(resizedRect(rect, 'nw', { x: 0, y: 5 }, 100, 100), { x: 0, y: 5, w: 40, h: 25 });
  // Past the fixed corner the rectangle flips instead of getting a negative size.
  assert.deepEqual(resizedRect(rect, 'se', { x: 5, y: 5 }, 100, 100), { x: 5, y: 5, w: 5, h: 5 });
  // And it never leaves the image.
  assert.deepEqual(resizedRect(rect, 'ne', { x: 150, y: -20 }, 100, 100), { x: 10, y: 0, w: 90, h: 30 });
});
