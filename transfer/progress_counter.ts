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
  /** For folders: files finished so far (moved or already up to date). */
  filesDone?: number;
  /** For folders: files to move in all. */
  totalFiles?: number;
}

/**
 * Counts the bytes of one transfer (a file, or every file of a folder) and reports each step
 * to `onProgress`, with the average rate since the counter was made. A folder's counter also
 * counts the files finished ({@linkcode ProgressCounter.fileDone}), so that a small file that
 * moves in one step is still reported by name once it is done.
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
  /** Bytes to move in all (a resumed transfer takes off what it kept). */
  totalBytes: number;
  /** Files finished so far. */
  filesDone = 0;
  /** Files to move in all, for a folder; `undefined` for one file. */
  readonly totalFiles: number | undefined;

  /**
   * @param onProgress Called after each step; nothing is reported without it.
   * @param totalBytes Bytes to move in all.
   * @param totalFiles For a folder: the files to move in all.
   */
  constructor(
    onProgress: ((progress: TransferProgress) => void) | undefined,
    totalBytes: number,
    totalFiles?: number,
  ) {
    this.#onProgress = onProgress;
    this.totalBytes = totalBytes;
    this.totalFiles = totalFiles;
  }

  /** Counts `bytes` more of `path` and reports the progress. */
  add(path: string, bytes: number): void {
    this.bytesDone += bytes;
    this.#report(path);
  }

  /**
   * Counts one more file finished (moved or already up to date) and reports the progress
   * under its name.
   */
  fileDone(path: string): void {
    this.filesDone++;
    this.#report(path);
  }

  /**
   * Takes off the bytes a resumed file kept (they are not moved again), so that the total
   * is what moves.
   */
  skipKept(bytes: number): void {
    this.totalBytes -= bytes;
  }

  #report(path: string): void {
    if (this.#onProgress === undefined) return;
    const seconds = (performance.now() - this.#started) / 1000;
    const progress: TransferProgress = {
      path,
      bytesDone: this.bytesDone,
      totalBytes: this.totalBytes,
      bytesPerSecond: seconds > 0 ? this.bytesDone / seconds : 0,
    };
    if (this.totalFiles !== undefined) {
      progress.filesDone = this.filesDone;
      progress.totalFiles = this.totalFiles;
    }
    this.#onProgress(progress);
  }
}
