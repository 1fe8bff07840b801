/**
 * GET on the server's side (SPEC.md section 11.5): the file is opened inside the peer's
 * sandbox, a kept prefix the client names is checked against the file's own, and the content
 * from there is sent (`content_transfer.ts`'s `sendContent()`). The client's side is
 * `download_file.ts`.
 *
 * @module
 */

import { fileChunkBytes, parseDigest } from "../files/chunk_tree.ts";
import { hashPrefix } from "../files/hash_prefix.ts";
import { openRegularFile } from "../files/open_regular_file.ts";
import { sendContent } from "./content_transfer.ts";
import { checkReadable, type FileRequest } from "./file_request.ts";
import { maxFileBytes, wireMtimeMs } from "./file_protocol.ts";
import { headInteger, headString } from "../wire/head_codec.ts";

/**
 * Answers one GET stream: checks the key and the path, replies `{"size", "mtimeMs", "mode",
 * "offset"}` and sends the content from `offset`.
 *
 * @param request The stream, its peer and the service's helpers.
 * @throws {FileError} On a refusal or a failure (`FileService` resets the stream with its code).
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await serveGet(request); // inside FileService.handle()
 * ```
 */
export async function serveGet(request: FileRequest): Promise<void> {
  const { stream, peer } = request;
  const head = stream.head;
  const path = headString(head, "path");
  const offset = headInteger(head, "offset", maxFileBytes, true) ?? 0;
  const prefix = head.prefix === undefined ? undefined : parseDigest(headString(head, "prefix"));
  checkReadable(peer, path);
  const sandbox = await request.sandbox();
  const resolved = await sandbox.resolveForRead(path);
  const { file, info } = await openRegularFile(resolved.path, path);
  try {
    const size = info.size;
    let start = 0;
    let leaves: Uint8Array[] = [];
    if (offset > 0 && offset <= size && offset % fileChunkBytes === 0 && prefix !== undefined) {
      const kept = await hashPrefix(file, offset, path);
      if (kept.root.every((byte, i) => byte === prefix[i])) {
        start = offset;
        leaves = kept.leaves;
      }
    }
    stream.reply({
      size,
      mtimeMs: wireMtimeMs(info.mtime),
      mode: info.mode === null ? null : info.mode & 0o7777,
      offset: start,
    });
    await sendContent(stream, file, {
      start,
      size,
      prefixLeaves: leaves,
      path,
      waitForPeer: request.wait,
    });
  } finally {
    file.close();
  }
}
