/**
 * Opening a local file to send or hash it, the one way both ends do it: the uploading client
 * (`transfer/upload_file.ts`) and the server's GET, STAT and resumed PUT
 * (`transfer/serve_get.ts`, `transfer/serve_stat.ts`, `transfer/serve_put.ts`). Errors go
 * through `fileErrorFromOs()`, so they name only the path the caller gives.
 *
 * @module
 */

import { FileError } from "../errors.ts";
import { fileErrorFromOs, quotePath } from "./_os_error.ts";
import { type FileCalls, fileCalls } from "./file_calls.ts";

/** A file opened by {@linkcode openRegularFile}, with what its `fstat()` found. */
export interface OpenedFile {
  /** The open file; the caller closes it. */
  file: Deno.FsFile;
  /** The open file's `fstat()`: a regular file's size, mode and times, read once. */
  info: Deno.FileInfo;
}

/**
 * Opens `realPath` for reading and checks, on the open file, that it is a regular file (a
 * folder, a device or a FIFO is refused, and closed again). The `fstat()` made for the check is
 * returned with the file, so that the caller never needs a second one.
 *
 * @param realPath Where the file is.
 * @param path The path to name in errors, as the caller gave it (for a peer, its own path).
 * @param calls How the `open()` and `fstat()` are made. Default: `fileCalls("threaded")`.
 * @returns The open file and its `fstat()`; the caller closes the file.
 * @throws {FileError} `not_found`, `permission` or `io` when it cannot be opened;
 * `unsupported_type` when it is not a regular file.
 *
 * @example A folder is refused
 * ```ts
 * import { openRegularFile } from "./open_regular_file.ts";
 * import { fileCalls } from "./file_calls.ts";
 * import { FileError } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await assert.rejects(
 *     openRegularFile(dir, "the-folder"),
 *     (error) => error instanceof FileError && error.reason === "unsupported_type",
 *   );
 *   await Deno.writeTextFile(join(dir, "a.txt"), "abc");
 *   const { file, info } = await openRegularFile(join(dir, "a.txt"), "a.txt", fileCalls("inline"));
 *   file.close();
 *   assert.equal(info.size, 3);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function openRegularFile(
  realPath: string,
  path: string,
  calls: FileCalls = fileCalls("threaded"),
): Promise<OpenedFile> {
  let file: Deno.FsFile;
  try {
    file = await calls.open(realPath, { read: true });
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot read");
  }
  const info = await calls.stat(file).catch((error) => {
    file.close();
    throw fileErrorFromOs(error, path, "Cannot read");
  });
  if (!info.isFile) {
    file.close();
    throw new FileError(
      `${quotePath(path)} is not a regular file; use a folder transfer for folders`,
      { reason: "unsupported_type", path },
    );
  }
  return { file, info };
}
