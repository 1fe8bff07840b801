/**
 * Progress of a transfer as the caller sees it (`onProgress`): the client's uploads and
 * downloads count the bytes they move here, one counter per file or one for a whole folder.
 *
 * @module
 */

/** Progress of a transfer, as given to progress callbacks. */
export interface TransferProgress {
  /** The file being moved (for folders: the current file). */
  path: string;
  /** Bytes moved so far (for folders: of all files). */
  bytesDone: number;
  /** Bytes to move in all. */
  totalBytes: number;
  /** Average rate since the start, in bytes per second. */
  bytesPerSecond: number;
}

/**
 * Counts the bytes of one transfer (a file, or every file of a folder) and reports each step
 * to `onProgress`, with the average rate since the counter was made.
 *
 * @example Two steps of one file
 * ```ts
 * import { ProgressCounter, type TransferProgress } from "./progress_counter.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: TransferProgress[] = [];
 * const counter = new ProgressCounter((progress) => seen.push(progress), 10);
 * counter.add("a.txt", 4);
 * counter.add("a.txt", 6);
 * assert.deepEqual(seen.map((progress) => progress.bytesDone), [4, 10]);
 * assert.equal(seen[1].totalBytes, 10);
 * ```
 */
export class ProgressCounter {
  #onProgress: ((progress: TransferProgress) => void) | undefined;
  #started = performance.now();
  /** Bytes counted so far. */
  bytesDone = 0;
  /** Bytes to move in all (a resumed download takes off what it kept). */
  totalBytes: number;

  /**
   * @param onProgress Called after each step; nothing is reported without it.
   * @param totalBytes Bytes to move in all.
   */
  constructor(onProgress: ((progress: TransferProgress) => void) | undefined, totalBytes: number) {
    this.#onProgress = onProgress;
    this.totalBytes = totalBytes;
  }

  /** Counts `bytes` more of `path` and reports the progress. */
  add(path: string, bytes: number): void {
    this.bytesDone += bytes;
    if (this.#onProgress === undefined) return;
    const seconds = (performance.now() - this.#started) / 1000;
    this.#onProgress({
      path,
      bytesDone: this.bytesDone,
      totalBytes: this.totalBytes,
      bytesPerSecond: seconds > 0 ? this.bytesDone / seconds : 0,
    });
  }
}
