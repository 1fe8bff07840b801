/**
 * Time limits and cancellation for one piece of async work, in the manner of denoland/std's
 * `async/deadline.ts`: the work is given an `AbortSignal` that aborts when its time is up or the
 * caller's signal aborts, and stops when it does. Every "give up after N ms or when asked"
 * in ovtp goes through here: a request's reply (`session/stream_deadline.ts`), an upload or a
 * download (`transfer/upload_file.ts`, `transfer/download_file.ts`).
 *
 * Unlike std's `deadline()`, the promise settles only once the work has stopped, so that a
 * caller never sees its call fail while the work still holds a file or a stream; the work must
 * therefore end when its signal aborts (a stream reset does that). Its timer is an entry of
 * the process's shared `TimerQueue` (`timer_queue.ts`), not `AbortSignal.timeout()`, and the caller's signal gets a listener removed at
 * the end, not `AbortSignal.any()`: measured in Deno 2.9.6, a pending `AbortSignal.timeout()`
 * holds about 300 bytes until it fires (30 s for a request), and `AbortSignal.any()` over a
 * long-lived caller signal keeps about 380 bytes per call on that signal.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import { sharedTimers } from "./timer_queue.ts";

/** Options of {@linkcode deadline}. */
export interface DeadlineOptions {
  /** Give up after this many milliseconds. Default: no time limit. */
  timeoutMs?: number;
  /** Give up when this signal aborts. */
  signal?: AbortSignal;
  /** Message of the {@linkcode TimeoutError}. Default `No result within {timeoutMs} ms`. */
  timeoutMessage?: string;
}

/**
 * Runs `work` with a signal that aborts when `timeoutMs` has passed or `options.signal` aborts.
 * Resolves with what `work` resolves to; once the signal has aborted, rejects with its reason
 * (a {@linkcode TimeoutError}, or the caller's reason) instead of whatever `work` failed with.
 * An already aborted `options.signal` rejects at once without calling `work`.
 *
 * @param work The work; it must stop (resolve or reject) soon after its signal aborts.
 * @param options The time limit, the caller's signal and the timeout's message.
 * @returns What `work` resolves to.
 * @throws {TimeoutError} When the time is up first.
 * @throws {RangeError} If `timeoutMs` is negative or not a finite number.
 *
 * @example A slow piece of work times out
 * ```ts
 * import { deadline } from "./deadline.ts";
 * import { TimeoutError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const slow = (signal: AbortSignal) =>
 *   new Promise<string>((resolve, reject) => {
 *     const timer = setTimeout(() => resolve("late"), 10_000);
 *     signal.addEventListener("abort", () => {
 *       clearTimeout(timer);
 *       reject(new Error("stopped"));
 *     });
 *   });
 * await assert.rejects(deadline(slow, { timeoutMs: 10 }), TimeoutError);
 * assert.equal(await deadline(async () => "quick", { timeoutMs: 1000 }), "quick");
 * ```
 */
export async function deadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions = {},
): Promise<T> {
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
    throw new RangeError(`deadline: timeoutMs ${timeoutMs} is not a number >= 0`);
  }
  if (signal?.aborted) throw abortReason(signal.reason);
  const controller = new AbortController();
  const onAbort = () => controller.abort(abortReason(signal!.reason));
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = timeoutMs === undefined ? undefined : sharedTimers.add(timeoutMs, () => {
    const message = options.timeoutMessage ?? `No result within ${timeoutMs} ms`;
    controller.abort(new TimeoutError(message));
  });
  try {
    return await work(controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    sharedTimers.cancel(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * The caller's abort reason as an `Error` (an `abort()` without one gives a DOMException).
 *
 * @example A reason that is no Error
 * ```ts
 * import { abortReason } from "./deadline.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(abortReason("stop").message, "Aborted: stop");
 * const error = new Error("why");
 * assert.equal(abortReason(error), error);
 * ```
 */
export function abortReason(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`Aborted: ${String(reason)}`);
}
