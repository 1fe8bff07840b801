/**
 * The chunk tree of the first bytes of an open file: the one prefix hasher. `hashFile()` hashes
 * a whole file with it; a resumed transfer checks a kept prefix with it on both ends (the
 * uploading client, `transfer/upload_file.ts`; the server's PUT, GET and STAT,
 * `transfer/serve_put.ts`, `transfer/serve_get.ts`, `transfer/serve_stat.ts`).
 *
 * @module
 */

import { FileError } from "../errors.ts";
import { ChunkTreeHasher, fileChunkBytes, type FileDigest } from "./chunk_tree.ts";
import { fileErrorFromOs, quotePath } from "./_os_error.ts";
import { readFull } from "./read_full.ts";

/** Options of {@linkcode hashPrefix}. */
export interface HashPrefixOptions {
  /** Stops hashing between chunks; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Hashes bytes `[0, length)` of an open file into a chunk tree, reading
 * {@linkcode fileChunkBytes} at a time with one read ahead. It reads from the start whatever
 * the file's position; afterwards the position is undefined. `length` should be a whole number
 * of chunks or the whole file: only then are the leaves those of the file.
 *
 * @param file An open file.
 * @param length Bytes to hash.
 * @param path The path to name in errors, as the caller gave it.
 * @param options An abort signal.
 * @returns The size hashed, the leaves and the root.
 * @throws {FileError} `changed` when the file has fewer than `length` bytes; `io` when a read
 * fails.
 *
 * @example Hash the first chunk of a file
 * ```ts
 * import { hashPrefix } from "./hash_prefix.ts";
 * import { ChunkTreeHasher } from "./chunk_tree.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "abcdef");
 *   using file = await Deno.open(path);
 *   const digest = await hashPrefix(file, 3, path);
 *   const hasher = new ChunkTreeHasher();
 *   await hasher.update(new TextEncoder().encode("abc"));
 *   assert.deepEqual(digest.root, await hasher.digest());
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function hashPrefix(
  file: Deno.FsFile,
  length: number,
  path: string,
  options: HashPrefixOptions = {},
): Promise<FileDigest> {
  const { signal } = options;
  signal?.throwIfAborted();
  try {
    await file.seek(0, Deno.SeekMode.Start);
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot hash");
  }
  const hasher = new ChunkTreeHasher();
  let current = new Uint8Array(Math.min(fileChunkBytes, length));
  let spare = new Uint8Array(current.length);
  let remaining = length;
  let reading = readFull(file, current, path, "Cannot hash");
  while (remaining > 0) {
    const count = await reading;
    signal?.throwIfAborted();
    if (count === 0) throw shorter(path, length, length - remaining);
    remaining -= count;
    const next = spare.subarray(0, Math.min(fileChunkBytes, remaining));
    reading = readFull(file, next, path, "Cannot hash");
    reading.catch(() => {}); // Awaited below; never unhandled if hashing throws first.
    await hasher.update(current.subarray(0, count));
    [current, spare] = [spare, current];
  }
  await reading;
  const root = await hasher.digest();
  return { size: length, leaves: [...hasher.leaves], root };
}

function shorter(path: string, length: number, size: number): FileError {
  return new FileError(
    `Cannot hash ${quotePath(path)}: it has ${size} bytes, fewer than the ${length} asked for; ` +
      `it changed, hash it again`,
    { reason: "changed", path },
  );
}
