/**
 * A call over one stream that gives up when its time is up or its caller's signal aborts: the
 * stream is reset (code `cancel`), which stops the work at once, and the call fails with the
 * reason. Requests (`session/message_exchange.ts`, `messaging/client_requests.ts`) and file
 * transfers (`transfer/upload_file.ts`, `transfer/download_file.ts`) run their streams through
 * it; the timing itself is `async/deadline.ts`.
 *
 * @module
 */

import { deadline } from "../async/deadline.ts";
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
  try {
    return await deadline(async (signal) => {
      const stop = () => {
        if (!stream.done) stream.reset(StreamError.cancel, "the caller gave up");
      };
      signal.addEventListener("abort", stop, { once: true });
      try {
        return await work();
      } finally {
        signal.removeEventListener("abort", stop);
      }
    }, {
      ...options,
      timeoutMessage: `No complete reply within ${options.timeoutMs} ms`,
    });
  } catch (error) {
    if (!stream.done) stream.reset(StreamError.cancel, "the call failed");
    throw error;
  }
}
