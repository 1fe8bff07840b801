/**
 * The chunk-tree digest of a local file by its path: what `ovtp hash` prints, what a folder
 * sync compares with the server's STAT digest (`transfer/upload_directory.ts`,
 * `transfer/download_directory.ts`), and what a resumed download checks its kept prefix with
 * (`transfer/download_file.ts`). The hashing itself is `files/hash_prefix.ts`.
 *
 * @module
 */

import { FileError } from "../errors.ts";
import { fileChunkBytes, type FileDigest } from "./chunk_tree.ts";
import { hashPrefix } from "./hash_prefix.ts";
import { fileErrorFromOs, quotePath } from "./_os_error.ts";

/** Options for {@linkcode hashFile}. */
export interface HashFileOptions {
  /**
   * Hash only the first `length` bytes. It must be a multiple of {@linkcode fileChunkBytes}
   * unless it is the whole file. Default: the file's size when it is opened.
   */
  length?: number;
  /** Stops hashing between chunks; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Hashes the first `length` bytes of a file (default: all of it, up to its size when opened)
 * into a chunk tree, reading {@linkcode fileChunkBytes} at a time with one read ahead.
 *
 * @param path The file.
 * @param options The length to hash and an abort signal.
 * @returns The size hashed, the leaves and the root.
 * @throws {RangeError} If `length` is negative, not an integer, or not a multiple of
 * `fileChunkBytes` while shorter than the file.
 * @throws {FileError} `not_found`, `permission` or `io` if the file cannot be read;
 * `unsupported_type` if it is not a regular file; `changed` if it is shorter than `length`.
 *
 * @example Hash a small file, and see that equal content has an equal digest
 * ```ts
 * import { fileChunkBytes, formatDigest, hashFile } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const bytes = new TextEncoder().encode("some content");
 *   await Deno.writeFile(join(dir, "a.txt"), bytes);
 *   await Deno.writeFile(join(dir, "b.txt"), bytes);
 *   const digest = await hashFile(join(dir, "a.txt"));
 *
 *   assert.equal(digest.size, bytes.length);
 *   assert.equal(digest.leaves.length, 1); // one chunk: the file is under fileChunkBytes
 *   assert.ok(bytes.length < fileChunkBytes);
 *   assert.equal(formatDigest(digest.root), formatDigest((await hashFile(join(dir, "b.txt"))).root));
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<FileDigest> {
  const { signal } = options;
  if (
    options.length !== undefined && !(Number.isSafeInteger(options.length) && options.length >= 0)
  ) {
    throw new RangeError(
      `Cannot hash ${quotePath(path)}: size ${options.length} is not a non-negative safe integer`,
    );
  }
  signal?.throwIfAborted();
  let file: Deno.FsFile;
  try {
    // Check first: opening a FIFO for reading would wait for a writer.
    const info = await Deno.stat(path);
    if (!info.isFile) throw notRegular(path);
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot hash");
  }
  try {
    let size: number;
    try {
      const info = await file.stat();
      if (!info.isFile) throw notRegular(path);
      size = info.size;
    } catch (error) {
      throw fileErrorFromOs(error, path, "Cannot hash");
    }
    const length = options.length ?? size;
    if (length !== size && length % fileChunkBytes !== 0) {
      const shown = quotePath(path);
      throw new RangeError(
        `Cannot hash ${shown}: length ${length} is not a multiple of ${fileChunkBytes} bytes ` +
          `nor the whole file (${size} bytes)`,
      );
    }
    return await hashPrefix(file, length, path, { signal });
  } finally {
    file.close();
  }
}

function notRegular(path: string): FileError {
  return new FileError(`Cannot hash ${quotePath(path)}: it is not a regular file; give a file`, {
    reason: "unsupported_type",
    path,
  });
}
