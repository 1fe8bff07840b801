/**
 * Reading exactly as many bytes as a buffer holds from a local file, the one way ovtp does it:
 * the prefix hasher (`files/hash_prefix.ts`) and the sender of a file's content
 * (`transfer/content_transfer.ts`) read their 1 MiB chunks through it.
 *
 * @module
 */

import { fileErrorFromOs } from "./_os_error.ts";

/**
 * Reads from `file`'s current position until `into` is full or the file ends.
 *
 * @param file An open file.
 * @param into Where the bytes go.
 * @param path The path to name in an error, as the caller gave it (for a peer, its own path).
 * @param action What was being done, for the error message, e.g. `"Cannot hash"`.
 * @returns How many bytes were read: `into.length`, or fewer where the file ended.
 * @throws {FileError} `io` (or another reason of `fileErrorFromOs()`) when a read fails.
 *
 * @example Read a short file
 * ```ts
 * import { readFull } from "./read_full.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * try {
 *   await Deno.writeTextFile(path, "abc");
 *   using file = await Deno.open(path);
 *   assert.equal(await readFull(file, new Uint8Array(10), path, "Cannot read"), 3);
 * } finally {
 *   await Deno.remove(path);
 * }
 * ```
 */
export async function readFull(
  file: Deno.FsFile,
  into: Uint8Array,
  path: string,
  action: string,
): Promise<number> {
  let filled = 0;
  try {
    while (filled < into.length) {
      const count = await file.read(into.subarray(filled));
      if (count === null) break;
      filled += count;
    }
  } catch (error) {
    throw fileErrorFromOs(error, path, action);
  }
  return filled;
}
