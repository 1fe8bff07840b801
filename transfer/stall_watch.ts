/**
 * The server's watch over a file stream whose peer stops sending or reading: `FileService`
 * gives each file stream one, and every wait on the peer (`FileRequest.wait`) goes through it,
 * so that a stalled transfer is reset and its file closed after `stallTimeoutMs`.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import { type Stream, StreamError } from "../session/stream.ts";
import type { PeerWait } from "./content_transfer.ts";

/** The stall watch looks this many times per timeout. */
const stallChecksPerTimeout = 4;

/**
 * Resets a stream that waits on its peer for longer than a timeout. Only the time spent in
 * {@linkcode StallWatch.wait} counts: hashing or writing on the server's side never does.
 *
 * @example See tests/transfer/file_service_test.ts; in short:
 * ```ts ignore
 * const watch = new StallWatch(stream, 60_000);
 * const chunk = await watch.wait(reader.read(fileChunkBytes));
 * ```
 */
export class StallWatch {
  #stream: Stream;
  #timeoutMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #waiting = 0;
  #since = 0;
  /** The error for the log, once the stream was reset for stalling. */
  timedOut: TimeoutError | undefined;

  /**
   * @param stream The stream to reset.
   * @param timeoutMs How long it may wait on its peer at a stretch.
   */
  constructor(stream: Stream, timeoutMs: number) {
    this.#stream = stream;
    this.#timeoutMs = timeoutMs;
  }

  /** Waits for `waiting`, resetting the stream if that takes longer than the timeout. */
  wait: PeerWait = async (waiting) => {
    if (this.#waiting++ === 0) this.#since = performance.now();
    this.#timer ??= setInterval(
      () => this.#check(),
      Math.max(1, Math.floor(this.#timeoutMs / stallChecksPerTimeout)),
    );
    try {
      return await waiting;
    } finally {
      this.#waiting--;
    }
  };

  /** Stops watching (the stream is done). */
  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    if (this.#waiting === 0 || performance.now() - this.#since < this.#timeoutMs) return;
    this.stop();
    const message = `no progress for ${this.#timeoutMs} ms: the peer stopped sending or ` +
      "reading, so the transfer was stopped; try again";
    this.timedOut = new TimeoutError(`File stream ${this.#stream.id}: ${message}`);
    this.#stream.reset(StreamError.cancel, message);
  }
}
