import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SaveQueue, backoffDelay } from '../static/js/save-queue.js';

class FakeError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
  get isRetryable() {
    return this.status === 0 || this.status >= 500;
  }
}

const quickQueue = (options = {}) =>
  new SaveQueue({ baseDelayMs: 1, maxDelayMs: 4, random: () => 0.5, ...options });

test('operations of one lane run in order, one at a time', async () => {
  const q = quickQueue();
  const log = [];
  let running = 0;
  const op = (name, ms) => ({
    key: 'box-1',
    group: 'img',
    kind: name,
    send: async () => {
      running += 1;
      assert.equal(running, 1);
      await new Promise((r) => setTimeout(r, ms));
      log.push(name);
      running -= 1;
    },
  });
  q.enqueue(op('create', 15));
  q.enqueue(op('update', 1));
  q.enqueue(op('delete', 1));
  await q.whenIdle('img');
  assert.deepEqual(log, ['create', 'update', 'delete']);
});

test('a later op sees what an earlier one of its lane learnt', async () => {
  const q = quickQueue();
  const box = { id: null };
  const sent = [];
  q.enqueue({ key: 'b', group: 'g', kind: 'create', send: async () => {
    await new Promise((r) => setTimeout(r, 5));
    box.id = 'srv-1';
  } });
  q.enqueue({ key: 'b', group: 'g', kind: 'update', send: async () => sent.push(box.id) });
  await q.whenIdle('g');
  assert.deepEqual(sent, ['srv-1']);
});

test('transient failures are retried until they succeed', async () => {
  const states = [];
  const q = quickQueue({ onChange: (queue) => states.push(queue.isRetrying) });
  let calls = 0;
  q.enqueue({ key: 'b', group: 'g', kind: 'create', send: async () => {
    calls += 1;
    if (calls < 4) throw new FakeError(calls === 1 ? 0 : 503);
  } });
  await q.whenIdle('g');
  assert.equal(calls, 4);
  assert.ok(states.includes(true));
  assert.equal(q.isRetrying, false);
  assert.equal(q.pendingCount(), 0);
});

test('a permanent failure drops the rest of its lane only and is reported', async () => {
  const failures = [];
  const q = quickQueue({ onFailure: (op, err) => failures.push([op.kind, err.status]) });
  const ran = [];
  q.enqueue({ key: 'a', group: 'g', kind: 'update', send: async () => { throw new FakeError(409); } });
  q.enqueue({ key: 'a', group: 'g', kind: 'delete', send: async () => ran.push('a-delete') });
  q.enqueue({ key: 'b', group: 'g', kind: 'create', send: async () => ran.push('b-create') });
  await q.whenIdle('g');
  assert.deepEqual(failures, [['update', 409]]);
  assert.deepEqual(ran, ['b-create']);
});

test('queued saves of the same kind coalesce into one', async () => {
  const q = quickQueue();
  let value = 0;
  const sent = [];
  let release;
  const gate = new Promise((r) => { release = r; });
  q.enqueue({ key: 'r', group: 'g', kind: 'first', send: () => gate });
  for (let i = 1; i <= 5; i++) {
    value = i;
    q.enqueue({ key: 'r', group: 'g', kind: 'review', coalesce: true, send: async () => sent.push(value) });
  }
  assert.equal(q.pendingCount('g'), 2);
  release();
  await q.whenIdle('g');
  assert.deepEqual(sent, [5]);
});

test('wake() retries at once instead of waiting out the backoff', async () => {
  const q = new SaveQueue({ baseDelayMs: 60000, maxDelayMs: 60000, random: () => 0.5 });
  let calls = 0;
  q.enqueue({ key: 'b', group: 'g', kind: 'create', send: async () => {
    calls += 1;
    if (calls === 1) throw new FakeError(503);
  } });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(q.isRetrying, true);
  q.wake();
  await q.whenIdle('g');
  assert.equal(calls, 2);
});

test('retry delays grow and are capped', () => {
  const q = new SaveQueue({ baseDelayMs: 500, maxDelayMs: 30000, random: () => 0.5 });
  assert.equal(q.retryDelay(0), 500);
  assert.equal(q.retryDelay(1), 1000);
  assert.equal(q.retryDelay(3), 4000);
  assert.equal(q.retryDelay(20), 30000);
});

test('the backoff doubles, is capped, and jitters by at most a fifth', () => {
  const fixed = (random) => (attempt) => backoffDelay(attempt, { random });
  assert.deepEqual([0, 1, 2, 3].map(fixed(() => 0.5)), [500, 1000, 2000, 4000]);
  assert.equal(fixed(() => 0.5)(10), 30000);
  assert.equal(fixed(() => 0)(0), 400);
  assert.equal(fixed(() => 0.999999)(0), 600);
  assert.equal(backoffDelay(2, { baseDelayMs: 10, maxDelayMs: 25, random: () => 0.5 }), 25);
});

test('a refused op reaches onFailure with what it was queued with', async () => {
  const refused = [];
  const q = quickQueue({ onFailure: (op, err) => op.onRefused(err) });
  q.enqueue({
    key: 'a',
    group: 'img',
    kind: 'create',
    onRefused: (err) => refused.push(['img', err.status]),
    send: async () => {
      throw new FakeError(422);
    },
  });
  await q.whenIdle('img');
  assert.deepEqual(refused, [['img', 422]]);
  assert.equal(q.pendingCount(), 0);
});

test('whenIdle waits for its own group only', async () => {
  const q = quickQueue();
  let release;
  q.enqueue({ key: 'slow', group: 'other', kind: 'create', send: () => new Promise((r) => { release = r; }) });
  let done = false;
  q.enqueue({ key: 'b', group: 'img', kind: 'create', send: async () => { done = true; } });
  await q.whenIdle('img');
  assert.equal(done, true);
  assert.equal(q.pendingCount('other'), 1);
  release();
  await q.whenIdle();
  assert.equal(q.pendingCount(), 0);
});
