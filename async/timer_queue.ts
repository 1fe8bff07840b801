/**
 * `TimerQueue`: many time limits on one timer. A request's deadline (`async/deadline.ts`,
 * `session/stream_deadline.ts`) and a stream's stall timeout (`session/stream.ts`) are armed
 * and disarmed once per message, and almost never fire; a `setTimeout` each (a node-compat
 * `Timeout` object, a timer op, a `clearTimeout`) cost a message server about a tenth of its CPU.
 * Here an entry is an object in a list, and one `setTimeout` is armed for the earliest entry at
 * most: adding one that is due later than the armed timer arms nothing, cancelling one arms
 * nothing (the timer, when it fires early, re-arms for the earliest entry left), and the timer is
 * cleared as soon as no entry is left, so that nothing keeps the process (or a test) waiting.
 * Each entry fires no earlier than its time, and as late as a `setTimeout` of its own would.
 *
 * @module
 */

/** One armed time limit; pass it to {@linkcode TimerQueue.cancel}. */
export interface TimerEntry {
  /** When it is due, in `performance.now()` milliseconds. */
  readonly dueMs: number;
  /** @internal What to call; dropped once it fired or was cancelled. */
  fire: (() => void) | undefined;
}

/** Cancelled entries kept in the list before it is compacted, beyond twice the live ones. */
const compactSlackEntries = 64;

/**
 * Time limits that share one timer.
 *
 * @example Entries fire in time; cancelled ones never
 * ```ts
 * import { TimerQueue } from "./timer_queue.ts";
 * import assert from "node:assert/strict";
 *
 * const timers = new TimerQueue();
 * const fired: string[] = [];
 * timers.add(20, () => fired.push("late"));
 * const cancelled = timers.add(10, () => fired.push("cancelled"));
 * timers.add(5, () => fired.push("early"));
 * timers.cancel(cancelled);
 * await new Promise((resolve) => setTimeout(resolve, 40));
 * assert.deepEqual(fired, ["early", "late"]);
 * assert.equal(timers.size, 0);
 * ```
 */
export class TimerQueue {
  /**
   * Armed entries, and cancelled ones not yet dropped: a plain list, compacted now and then, not
   * a `Set`. Measured on a message server, a Set that every message's entry passed through
   * tripled the garbage collector's time (its entries survived young-generation collections).
   */
  #entries: TimerEntry[] = [];
  #live = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer is due (`Infinity` when none is). */
  #armedMs = Infinity;

  /** Entries armed now. */
  get size(): number {
    return this.#live;
  }

  /**
   * Calls `fire` once `ms` milliseconds have passed, unless the entry is cancelled first.
   *
   * @throws {RangeError} If `ms` is negative or not a finite number.
   */
  add(ms: number, fire: () => void): TimerEntry {
    if (!(Number.isFinite(ms) && ms >= 0)) {
      throw new RangeError(`TimerQueue: ${ms} ms is not a number >= 0`);
    }
    const entry: TimerEntry = { dueMs: performance.now() + ms, fire };
    this.#entries.push(entry);
    this.#live++;
    if (entry.dueMs < this.#armedMs) this.#arm(entry.dueMs);
    return entry;
  }

  /** Disarms `entry` (nothing happens if it fired or was cancelled already). */
  cancel(entry: TimerEntry | undefined): void {
    if (entry?.fire === undefined) return;
    entry.fire = undefined;
    this.#live--;
    if (this.#live === 0) {
      this.#entries = [];
      this.#disarm();
    } else if (this.#entries.length > 2 * this.#live + compactSlackEntries) {
      this.#entries = this.#entries.filter((armed) => armed.fire !== undefined);
    }
  }

  #arm(dueMs: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedMs = dueMs;
    this.#timer = setTimeout(
      () => this.#expire(),
      Math.max(0, Math.ceil(dueMs - performance.now())),
    );
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedMs = Infinity;
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedMs = Infinity;
    const nowMs = performance.now();
    const due: (() => void)[] = [];
    const left: TimerEntry[] = [];
    let nextMs = Infinity;
    for (const entry of this.#entries) {
      if (entry.fire === undefined) continue;
      if (entry.dueMs <= nowMs) {
        due.push(entry.fire);
        entry.fire = undefined;
        this.#live--;
      } else {
        left.push(entry);
        if (entry.dueMs < nextMs) nextMs = entry.dueMs;
      }
    }
    this.#entries = left;
    if (nextMs !== Infinity) this.#arm(nextMs);
    for (const fire of due) {
      try {
        fire();
      } catch (error) {
        // One failing callback must not keep the others from firing; report it as a timer would.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * The queue that the time limits of this process share.
 *
 * @example A time limit on the shared queue
 * ```ts
 * import { sharedTimers } from "./timer_queue.ts";
 * import assert from "node:assert/strict";
 *
 * const entry = sharedTimers.add(30_000, () => {});
 * assert.ok(entry.dueMs > performance.now());
 * sharedTimers.cancel(entry);
 * ```
 */
export const sharedTimers: TimerQueue = new TimerQueue();
