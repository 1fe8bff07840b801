/**
 * A bounded pool of async workers, in the manner of denoland/std's `async/pool.ts`
 * (`pooledMap`): folder transfers (`transfer/upload_directory.ts`,
 * `transfer/download_directory.ts`) move many files at once through it, at most `concurrency`
 * at a time.
 *
 * @module
 */

/** Options of {@linkcode pooledEach}. */
export interface PooledEachOptions {
  /** Items worked on at once; at least 1. */
  concurrency: number;
  /** Starts no further item once aborted, and rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * Runs `work` on every item, at most `concurrency` at once, in order of the items. Unlike std's
 * `pooledMap`, it starts no new item after the first failure and rejects with that first error
 * (not an `AggregateError`) once the items already started have settled.
 *
 * @param items The items.
 * @param work What to do with one item.
 * @param options How many at once, and a signal that stops starting new items.
 * @throws {RangeError} If `concurrency` is not a positive integer.
 *
 * @example At most two at once
 * ```ts
 * import { pooledEach } from "./pooled_each.ts";
 * import assert from "node:assert/strict";
 *
 * let running = 0;
 * let most = 0;
 * const done: number[] = [];
 * await pooledEach([1, 2, 3, 4, 5], async (item) => {
 *   most = Math.max(most, ++running);
 *   await new Promise((resolve) => setTimeout(resolve, 1));
 *   done.push(item);
 *   running--;
 * }, { concurrency: 2 });
 * assert.equal(most, 2);
 * assert.deepEqual(done.sort(), [1, 2, 3, 4, 5]);
 * ```
 */
export async function pooledEach<T>(
  items: readonly T[],
  work: (item: T) => Promise<void>,
  options: PooledEachOptions,
): Promise<void> {
  const { concurrency, signal } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`pooledEach: concurrency ${concurrency} is not a positive integer`);
  }
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && !failed) {
      const item = items[next++];
      try {
        signal?.throwIfAborted();
        await work(item);
      } catch (error) {
        if (!failed) [failed, failure] = [true, error];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failed) throw failure;
}
