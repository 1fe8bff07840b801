/**
 * STAT on the server's side (SPEC.md section 11.6): a path's type, size, time and mode, and
 * with `hash` the file's chunk-tree digest. The client's side is `stat_remote.ts`.
 *
 * @module
 */

import { wireMtimeMs } from "./file_protocol.ts";
import { formatDigest } from "../files/chunk_tree.ts";
import { hashPrefix } from "../files/hash_prefix.ts";
import { openRegularFile } from "../files/open_regular_file.ts";
import { checkReadable, type FileRequest } from "./file_request.ts";
import { headFlag, headString } from "../wire/head_codec.ts";

/**
 * Answers one STAT stream with one reply head.
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await serveStat(request); // inside FileService.handle()
 * ```
 */
export async function serveStat(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const path = headString(stream.head, "path");
  const withDigest = headFlag(stream.head, "hash");
  checkReadable(peer, path);
  const sandbox = await request.sandbox();
  const resolved = await sandbox.resolveForRead(path, { allowDirectory: true });
  const info = resolved.info;
  let digest: string | undefined;
  if (withDigest && info.isFile) {
    digest = await request.withOpenFile(async () => {
      const { file, info: opened } = await openRegularFile(resolved.path, path);
      try {
        const size = opened.size;
        return formatDigest((await hashPrefix(file, size, path)).root);
      } finally {
        file.close();
      }
    });
    if (digest === undefined) return; // refused: too many open files
  }
  stream.reply({
    type: info.isDirectory ? "directory" : "file",
    size: info.size,
    mtimeMs: wireMtimeMs(info.mtime),
    mode: info.mode === null ? null : info.mode & 0o7777,
    ...(digest === undefined ? {} : { digest }),
  }, { end: true });
}
