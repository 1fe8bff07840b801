/**
 * What a caller asks of a client file transfer and what it gets back: the options and result
 * of `uploadFile()`, `downloadFile()`, `uploadDirectory()` and `downloadDirectory()` (and of
 * `OvtpClient`'s file methods, which call them).
 *
 * @module
 */

import { formatDigest } from "../files/chunk_tree.ts";
import type { TransferProgress } from "./progress_counter.ts";

/** Files a folder transfer moves at once unless told otherwise. */
export const defaultFolderConcurrency = 16;

/** Options of the file operations. */
export interface FileTransferOptions {
  /** Replace an existing destination. Default false: an existing one is an error. */
  overwrite?: boolean;
  /** Give the copy the source's permission bits and modification time. Default false. */
  preserve?: boolean;
  /** Continue an interrupted transfer from its last verified chunk. Default false. */
  resume?: boolean;
  /** Send symbolic links as links instead of the files they point to. Default false. */
  keepSymlinks?: boolean;
  /** Folders only: skip files whose size and digest already match. Never deletes. */
  sync?: boolean;
  /** Folders only: files moved at once, a positive integer. Default 16. */
  concurrency?: number;
  /** Called as bytes move. */
  onProgress?: (progress: TransferProgress) => void;
  /** Stops the transfer; the destination stays as it was. */
  signal?: AbortSignal;
  /**
   * Uploads only: how a local file is opened, checked and (up to 64 KiB) read. Default
   * `"inline"`: synchronous calls, about 2 µs each instead of 25–30 µs for a trip to a worker
   * thread, but a local file system that hangs (an unreachable network mount) freezes the
   * process while it hangs; `"threaded"` for such file systems. See `files/file_calls.ts`.
   */
  fileCalls?: "inline" | "threaded";
}

/** What a file operation did. */
export interface TransferResult {
  /** Files moved. */
  files: number;
  /** Files skipped because they already matched (sync). */
  skipped: number;
  /** Content bytes moved over the connection. */
  bytes: number;
  /** Content bytes not moved because a partial copy was resumed. */
  resumedBytes: number;
  /** Chunk-tree digest of the file (single files only), as lowercase hex. */
  digest?: string;
}

/**
 * The result of one file moved: `size - start` bytes sent, `start` kept from an earlier try.
 *
 * @param size The file's size.
 * @param start Where the transfer resumed (0 for a whole file).
 * @param root The chunk-tree root of the whole file.
 * @returns One file, its bytes and its digest.
 *
 * @example A resumed file
 * ```ts
 * import { movedFile } from "./file_transfer_options.ts";
 * import assert from "node:assert/strict";
 *
 * const result = movedFile(10, 4, new Uint8Array(32));
 * assert.equal(result.bytes, 6);
 * assert.equal(result.resumedBytes, 4);
 * assert.equal(result.digest, "00".repeat(32));
 * ```
 */
export function movedFile(size: number, start: number, root: Uint8Array): TransferResult {
  return {
    files: 1,
    skipped: 0,
    bytes: size - start,
    resumedBytes: start,
    digest: formatDigest(root),
  };
}
