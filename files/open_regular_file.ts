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

/**
 * Opens `realPath` for reading and checks, on the open file, that it is a regular file (a
 * folder, a device or a FIFO is refused, and closed again).
 *
 * @param realPath Where the file is.
 * @param path The path to name in errors, as the caller gave it (for a peer, its own path).
 * @returns The open file; the caller closes it.
 * @throws {FileError} `not_found`, `permission` or `io` when it cannot be opened;
 * `unsupported_type` when it is not a regular file.
 *
 * @example A folder is refused
 * ```ts
 * import { openRegularFile } from "./open_regular_file.ts";
 * import { FileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await assert.rejects(
 *     openRegularFile(dir, "the-folder"),
 *     (error) => error instanceof FileError && error.reason === "unsupported_type",
 *   );
 * } finally {
 *   await Deno.remove(dir);
 * }
 * ```
 */
export async function openRegularFile(realPath: string, path: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(realPath, { read: true });
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot read");
  }
  const info = await file.stat().catch((error) => {
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
  return file;
}
