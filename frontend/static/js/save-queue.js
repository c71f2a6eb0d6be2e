// Ordered, retrying save queue.
//
// Every operation belongs to a lane (`key`, e.g. one annotation) and a group
// (e.g. one image). Operations of one lane run strictly one after another, so a
// box's create has returned its server id before the patch that needs it is
// sent. Lanes run independently of each other.
//
// Transient failures (network, 5xx, ...) are retried with exponential backoff
// until they succeed: a change is never dropped because the server was briefly
// away. A permanent failure (409 conflict, 422, 404) drops the rest of that
// lane and is reported through `onFailure`, whose handler reloads the truth
// from the server.

/**
 * Wait before retry number `attempt` (0-based): doubling from `baseDelayMs` up
 * to `maxDelayMs`, with +-20 % jitter so that many tabs do not hammer a
 * recovering server in step.
 */
export function backoffDelay(
  attempt,
  { baseDelayMs = 500, maxDelayMs = 30000, random = Math.random } = {},
) {
  const base = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class SaveQueue {
  /**
   * @param {object} options
   * @param {(q: SaveQueue) => void} [options.onChange] called after every state change
   * @param {(op: object, err: Error) => void} [options.onFailure] permanent failure of `op`
   * @param {number} [options.baseDelayMs] first retry delay
   * @param {number} [options.maxDelayMs] longest retry delay
   * @param {() => number} [options.random] jitter source, in [0, 1)
   */
  constructor({
    onChange = () => {},
    onFailure = () => {},
    baseDelayMs = 500,
    maxDelayMs = 30000,
    random = Math.random,
  } = {}) {
    this.onChange = onChange;
    this.onFailure = onFailure;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.random = random;
    /** @type {Map<string, {group: string, ops: object[], running: boolean}>} */
    this.lanes = new Map();
    /** Lanes currently waiting to retry. */
    this.retrying = new Set();
    /** Last transient error, for the status tooltip. */
    this.lastError = null;
    this._wakers = new Set();
    this._idleWaiters = [];
  }

  /**
   * Queue `op` = {key, group, kind, send: async () => void, coalesce?: boolean}.
   * `send` must read the state it sends when it is called, not when it was
   * queued: a coalescing op (two saves of the same thing in a row) is then
   * sent once with the newest state.
   */
  enqueue(op) {
    let lane = this.lanes.get(op.key);
    if (!lane) {
      lane = { group: op.group, ops: [], running: false };
      this.lanes.set(op.key, lane);
    }
    const last = lane.ops[lane.ops.length - 1];
    if (op.coalesce && last && !last.started && last.kind === op.kind) {
      this._changed();
      return;
    }
    lane.ops.push({ ...op, started: false });
    this._changed();
    if (!lane.running) this._drain(op.key, lane);
  }

  /** Number of operations not yet finished, optionally only of one group. */
  pendingCount(group) {
    let n = 0;
    for (const lane of this.lanes.values()) {
      if (group === undefined || lane.group === group) n += lane.ops.length;
    }
    return n;
  }

  get isRetrying() {
    return this.retrying.size > 0;
  }

  /** Resolves once no operation of `group` is queued or running. */
  whenIdle(group) {
    if (this.pendingCount(group) === 0) return Promise.resolve();
    return new Promise((resolve) => this._idleWaiters.push({ group, resolve }));
  }

  /** Retry waiting operations now (e.g. the browser came back online). */
  wake() {
    for (const wake of [...this._wakers]) wake();
  }

  retryDelay(attempt) {
    return backoffDelay(attempt, this);
  }

  async _drain(key, lane) {
    lane.running = true;
    while (lane.ops.length > 0) {
      const op = lane.ops[0];
      op.started = true;
      let attempt = 0;
      for (;;) {
        try {
          await op.send();
          lane.ops.shift();
          break;
        } catch (err) {
          if (err && err.isRetryable) {
            this.lastError = err;
            this.retrying.add(key);
            this._changed();
            await this._sleep(this.retryDelay(attempt));
            attempt += 1;
            this.retrying.delete(key);
            this._changed();
            continue;
          }
          // The server refused this change for good; what is queued behind it
          // in this lane was built on it and would fail or do harm.
          lane.ops.length = 0;
          this.onFailure(op, err);
          break;
        }
      }
      this._changed();
    }
    lane.running = false;
    if (this.lanes.get(key) === lane) this.lanes.delete(key);
    this._changed();
    this._settleIdleWaiters();
  }

  _sleep(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this._wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this._wakers.add(done);
    });
  }

  _settleIdleWaiters() {
    const waiting = this._idleWaiters;
    this._idleWaiters = [];
    for (const w of waiting) {
      if (this.pendingCount(w.group) === 0) w.resolve();
      else this._idleWaiters.push(w);
    }
  }

  _changed() {
    this.onChange(this);
  }
}
