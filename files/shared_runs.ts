/**
 * Shares a run of some work on a key (a folder's sync, a folder's re-check) among the callers
 * that ask for it at the same time, but never one that started before a caller asked: what a
 * caller gets always reflects the file system after its call.
 *
 * @module
 */

/**
 * Runs `work(key)` for callers that ask at once only once or twice: a call made while no run
 * of its key is going starts one; a call made while one runs gets the next run, which starts
 * once the running one has ended (and is shared by every caller that asked meanwhile). So each
 * caller's run starts after its call. `work` must not reject: return the outcome instead.
 *
 * @example Callers that ask during a run share the next one
 * ```ts
 * import { SharedRuns } from "./shared_runs.ts";
 * import assert from "node:assert/strict";
 *
 * let runs = 0;
 * const shared = new SharedRuns(async (_key: string) => ++runs);
 * const first = shared.run("dir"); // starts run 1
 * const second = shared.run("dir"); // asked during run 1: gets run 2
 * const third = shared.run("dir"); // shares run 2
 * assert.deepEqual(await Promise.all([first, second, third]), [1, 2, 2]);
 * ```
 */
export class SharedRuns<T> {
  readonly #work: (key: string) => Promise<T>;
  readonly #state = new Map<string, { running: Promise<T>; queued?: Promise<T> }>();

  /**
   * @param work The work to share, per key; it must not reject.
   */
  constructor(work: (key: string) => Promise<T>) {
    this.#work = work;
  }

  /**
   * A run of the work for `key` that starts after this call.
   *
   * @param key What the work is about, e.g. a folder's path.
   * @returns The outcome of that run.
   */
  run(key: string): Promise<T> {
    const state = this.#state.get(key);
    if (state === undefined) return this.#start(key);
    // The running one may have started before this call: wait for the next one.
    state.queued ??= state.running.then(() => this.#start(key));
    return state.queued;
  }

  #start(key: string): Promise<T> {
    const running: Promise<T> = this.#work(key).finally(() => {
      if (this.#state.get(key)?.running === running) this.#state.delete(key);
    });
    this.#state.set(key, { running });
    return running;
  }
}
