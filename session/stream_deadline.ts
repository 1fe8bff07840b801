/**
 * A call over one stream that gives up when its time is up or its caller's signal aborts: the
 * stream is reset (code `cancel`), which stops the work at once, and the call fails with the
 * reason. Requests (`session/message_exchange.ts`, `messaging/client_requests.ts`) and file
 * transfers (`transfer/upload_file.ts`, `transfer/download_file.ts`) run their streams through
 * it; the timing itself is an entry of the shared `async/timer_queue.ts`, with
 * `async/deadline.ts`'s contract.
 *
 * @module
 */

import { abortReason } from "../async/deadline.ts";
import { sharedTimers, type TimerEntry } from "../async/timer_queue.ts";
import { TimeoutError } from "../errors.ts";
import { type Stream, StreamError } from "./stream.ts";

/** Options of {@linkcode withStreamDeadline}. */
export interface StreamDeadlineOptions {
  /** Give up after this long. Default: no time limit. */
  timeoutMs?: number;
  /** Give up when this signal aborts. */
  signal?: AbortSignal;
}

/**
 * Runs `work` on `stream`. When the time is up or `signal` aborts, the stream is reset with
 * code `cancel` (its pending reads and writes fail) and the call rejects with a
 * {@linkcode TimeoutError} or the signal's reason; when `work` fails, the stream is reset too,
 * so the peer stops waiting for it.
 *
 * @param stream The stream the work uses.
 * @param options The time limit and the caller's signal.
 * @param work The work.
 * @returns What `work` resolves to.
 *
 * @example See tests/session/stream_deadline_test.ts; in short:
 * ```ts ignore
 * const reply = await withStreamDeadline(stream, { timeoutMs: 5000 }, () => stream.replyHead());
 * ```
 */
export async function withStreamDeadline<T>(
  stream: Stream,
  options: StreamDeadlineOptions,
  work: () => Promise<T>,
): Promise<T> {
  const { timeoutMs, signal } = options;
  // The same contract as deadline() (async/deadline.ts), without its AbortController and
  // listeners: a request takes one entry of the shared timer queue, and a listener only on a
  // signal the caller gave. The call settles once the work has stopped.
  let stopped: Error | undefined;
  const stop = (reason: Error) => {
    if (stopped !== undefined) return;
    stopped = reason;
    if (!stream.done) stream.reset(StreamError.cancel, "the caller gave up");
  };
  const onAbort = () => stop(abortReason(signal!.reason));
  let timer: TimerEntry | undefined;
  try {
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      throw new RangeError(`withStreamDeadline: timeoutMs ${timeoutMs} is not a number >= 0`);
    }
    if (signal?.aborted) throw abortReason(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = sharedTimers.add(
        timeoutMs,
        () => stop(new TimeoutError(`No complete reply within ${timeoutMs} ms`)),
      );
    }
    return await work();
  } catch (error) {
    if (!stream.done) stream.reset(StreamError.cancel, "the call failed");
    throw stopped ?? error;
  } finally {
    sharedTimers.cancel(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
