/**
 * REMOVE on the server's side (SPEC.md section 11.7): a file, a symbolic link (the link itself,
 * never what it points to), an empty folder, or with `recursive` a whole tree, inside the peer's
 * sandbox. A tree is first walked without changing anything, so that a tree the server would
 * refuse (one holding a partial upload, or deeper than {@linkcode maxRemoveDepth}) is left
 * whole; then it is removed depth first, one folder's listing in memory per level. The client's
 * side is `remove_remote.ts`.
 *
 * @module
 */

import { join } from "node:path";
import { FileError } from "../errors.ts";
import { fileErrorFromOs, quotePath } from "../files/_os_error.ts";
import { isReservedName } from "../files/partial_files.ts";
import { checkWritable, type FileRequest } from "./file_request.ts";
import { headFlag, headString } from "../wire/head_codec.ts";

/**
 * Deepest tree a recursive REMOVE walks, in folders below the one removed. Memory is one folder
 * listing per level, so this bounds it; a deeper tree is refused before anything is removed.
 *
 * @example The limit
 * ```ts
 * import { maxRemoveDepth } from "./serve_remove.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(maxRemoveDepth, 128);
 * ```
 */
export const maxRemoveDepth = 128;

/**
 * Answers one REMOVE stream with `{"removed": n}`, the number of entries removed (the path
 * itself included).
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/remove_rename_test.ts; in short:
 * ```ts ignore
 * await serveRemove(request); // inside FileService.handle()
 * ```
 */
export async function serveRemove(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const path = headString(stream.head, "path");
  const recursive = headFlag(stream.head, "recursive");
  checkWritable(peer, path);
  const sandbox = await request.sandbox();
  const entry = await sandbox.resolveEntry(path, "remove");
  if (entry.info === null) {
    throw new FileError(`Cannot remove ${quotePath(path)}: it does not exist`, {
      reason: "not_found",
      path,
    });
  }
  let removed = 1;
  if (entry.info.isDirectory && recursive) {
    // Refuse what would be refused halfway before removing anything.
    removed += await checkTree(entry.path, path, path, 0);
    await sandbox.recheckDirectory(entry.dir, path);
    await removeTree(entry.path, path);
  }
  await sandbox.recheckDirectory(entry.dir, path);
  try {
    await Deno.remove(entry.path);
  } catch (error) {
    const failure = fileErrorFromOs(error, path, "Cannot remove");
    if (failure.reason !== "not_empty") throw failure;
    throw new FileError(
      recursive
        ? `Cannot remove ${quotePath(path)}: an upload started in it meanwhile; try again`
        : `Cannot remove ${quotePath(path)}: it is a folder that is not empty; ` +
          "remove it recursively",
      { reason: "not_empty", path, cause: error },
    );
  }
  stream.reply({ removed }, { end: true });
}

/**
 * Walks the tree under `dir` without changing it: counts its entries and refuses a partial
 * upload (any key's, in progress or interrupted) or a folder deeper than the limit (`dir` is at
 * `depth`, the removed folder at 0).
 */
async function checkTree(
  dir: string,
  top: string,
  display: string,
  depth: number,
): Promise<number> {
  let count = 0;
  try {
    for await (const item of Deno.readDir(dir)) {
      if (isReservedName(item.name)) {
        throw new FileError(
          `Cannot remove ${quotePath(top)}: it holds a partial upload (a transfer in ` +
            "progress, or an interrupted one kept for resuming); try again once it is done",
          { reason: "not_empty", path: top },
        );
      }
      count++;
      // A symlink is an entry of its own (isDirectory is false): never followed.
      if (!item.isDirectory) continue;
      if (depth + 1 > maxRemoveDepth) {
        throw new FileError(
          `Cannot remove ${quotePath(top)}: it is more than ${maxRemoveDepth} folders deep; ` +
            "remove its deepest folders first",
          { reason: "unsupported_type", path: top },
        );
      }
      count += await checkTree(join(dir, item.name), top, `${display}/${item.name}`, depth + 1);
    }
  } catch (error) {
    throw fileErrorFromOs(error, display, "Cannot remove");
  }
  return count;
}

/**
 * Removes what `dir` holds, depth first; symlinks are unlinked, never followed. A partial upload
 * that appeared since the check is left, so its folder stays (and the caller fails on it).
 */
async function removeTree(dir: string, display: string): Promise<void> {
  const items: Deno.DirEntry[] = [];
  try {
    for await (const item of Deno.readDir(dir)) items.push(item);
  } catch (error) {
    throw fileErrorFromOs(error, display, "Cannot remove");
  }
  for (const item of items) {
    if (isReservedName(item.name)) continue;
    const path = join(dir, item.name);
    const itemDisplay = `${display}/${item.name}`;
    if (item.isDirectory) await removeTree(path, itemDisplay);
    try {
      await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue; // gone meanwhile: fine
      const failure = fileErrorFromOs(error, itemDisplay, "Cannot remove");
      if (failure.reason !== "not_empty") throw failure;
      throw new FileError(
        `Cannot remove ${quotePath(itemDisplay)}: an upload started in it meanwhile; ` +
          "try again",
        { reason: "not_empty", path: itemDisplay, cause: error },
      );
    }
  }
}
