/**
 * SYMLINK on the server's side (SPEC.md section 11.6): a link whose target, resolved through
 * the real file system, stays inside the peer's sandbox. The client's side is
 * `make_remote_link.ts`.
 *
 * @module
 */

import { FileError } from "../errors.ts";
import { fileErrorFromOs } from "../files/_os_error.ts";
import { checkWritable, type FileRequest } from "./file_request.ts";
import { headFlag, headString } from "../wire/head_codec.ts";

/**
 * Answers one SYMLINK stream with an empty reply head.
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await serveSymlink(request); // inside FileService.handle()
 * ```
 */
export async function serveSymlink(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const path = headString(stream.head, "path");
  const linkTarget = headString(stream.head, "target");
  checkWritable(peer, path);
  const sandbox = await request.sandbox();
  const target = await sandbox.resolveForWrite(path, {
    createParents: headFlag(stream.head, "parents"),
  });
  if (target.existing !== null) {
    throw new FileError(`${path} exists on the server`, { reason: "exists", path });
  }
  // Resolved through the real file system, the way reads will follow it.
  await sandbox.checkLinkTarget(target.dir, linkTarget, path);
  try {
    await Deno.symlink(linkTarget, target.path);
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot make the link");
  }
  stream.reply({}, { end: true });
}
