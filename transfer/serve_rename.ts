/**
 * RENAME on the server's side (SPEC.md section 11.8): moves a file, a symbolic link (the link
 * itself) or a folder to another path inside the peer's sandbox, with one `rename(2)`, so it is
 * whole or not at all. An existing destination is refused unless `overwrite`; a folder is never
 * moved into itself. The client's side is `rename_remote.ts`.
 *
 * @module
 */

import { sep } from "node:path";
import { FileError } from "../errors.ts";
import { fileErrorFromOs, quotePath } from "../files/_os_error.ts";
import { checkWritable, type FileRequest } from "./file_request.ts";
import { headFlag, headString } from "../wire/head_codec.ts";

/**
 * Answers one RENAME stream with an empty reply head.
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/remove_rename_test.ts; in short:
 * ```ts ignore
 * await serveRename(request); // inside FileService.handle()
 * ```
 */
export async function serveRename(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const from = headString(stream.head, "path");
  const to = headString(stream.head, "to");
  const overwrite = headFlag(stream.head, "overwrite");
  checkWritable(peer, from);
  checkWritable(peer, to);
  const sandbox = await request.sandbox();
  const source = await sandbox.resolveEntry(from, "rename");
  if (source.info === null) {
    throw new FileError(`Cannot rename ${quotePath(from)}: it does not exist`, {
      reason: "not_found",
      path: from,
    });
  }
  const target = await sandbox.resolveEntry(to, "rename");
  const what = `Cannot rename ${quotePath(from)} to ${quotePath(to)}`;
  if (source.path === target.path) {
    stream.reply({}, { end: true }); // the same entry: nothing to do, as rename(2)
    return;
  }
  if (source.info.isDirectory && target.path.startsWith(source.path + sep)) {
    throw new FileError(`${what}: a folder cannot move into itself`, {
      reason: "bad_path",
      path: to,
    });
  }
  if (target.info !== null) {
    if (!overwrite) {
      throw new FileError(`${what}: ${quotePath(to)} exists; ask to overwrite it to replace it`, {
        reason: "exists",
        path: to,
      });
    }
    if (target.info.isDirectory !== source.info.isDirectory) {
      const why = target.info.isDirectory
        ? `${quotePath(to)} is a folder, which only a folder can replace`
        : `a folder cannot replace ${quotePath(to)}, which is not a folder`;
      throw new FileError(`${what}: ${why}`, { reason: "unsupported_type", path: to });
    }
  }
  // Both folders must still be where they were resolved, inside the root.
  await sandbox.recheckDirectory(source.dir, from);
  await sandbox.recheckDirectory(target.dir, to);
  try {
    await Deno.rename(source.path, target.path);
  } catch (error) {
    const failure = fileErrorFromOs(error, from, "Cannot rename");
    if (failure.reason === "not_empty") {
      throw new FileError(`${what}: ${quotePath(to)} is a folder that is not empty`, {
        reason: "not_empty",
        path: to,
        cause: error,
      });
    }
    throw failure;
  }
  stream.reply({}, { end: true });
}
