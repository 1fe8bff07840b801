/**
 * MKDIR on the server's side (SPEC.md section 11.6): a folder and its missing parents (unless
 * `"parents": false`), inside
 * the peer's sandbox. The client's side is `make_remote_directory.ts`.
 *
 * @module
 */

import { FileError } from "../errors.ts";
import { fileErrorFromOs } from "../files/_os_error.ts";
import { checkWritable, type FileRequest } from "./file_request.ts";
import { headFlag, headInteger, headString } from "../wire/head_codec.ts";

/** Permission bits a folder made for a peer may get: never set-group-ID or sticky. */
const permissionBitsMask = 0o777;
/** Mode of a folder made without one, before the umask. */
const defaultFolderMode = 0o755;

/**
 * Answers one MKDIR stream with `{"created": bool}`; an existing folder is not an error.
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await serveMkdir(request); // inside FileService.handle()
 * ```
 */
export async function serveMkdir(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const path = headString(stream.head, "path");
  const mode = headInteger(stream.head, "mode", 0o7777, true);
  // Missing parents are made unless the head says `"parents": false` (absent means true).
  const parents = stream.head.parents === undefined || stream.head.parents === null ||
    headFlag(stream.head, "parents");
  checkWritable(peer, path);
  const sandbox = await request.sandbox();
  const existing = await sandbox.resolveForRead(path, { allowDirectory: true }).catch(() =>
    undefined
  );
  if (existing?.info.isDirectory) {
    stream.reply({ created: false }, { end: true });
    return;
  }
  const target = await sandbox.resolveForWrite(path, { createParents: parents });
  if (target.existing !== null) {
    throw new FileError(`${path} exists and is not a folder`, { reason: "exists", path });
  }
  try {
    await Deno.mkdir(target.path, { mode: (mode ?? defaultFolderMode) & permissionBitsMask });
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot make the folder");
  }
  stream.reply({ created: true }, { end: true });
}
