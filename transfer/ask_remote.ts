/**
 * The client's one-round-trip file operations (STAT, MKDIR, SYMLINK; SPEC.md section 11): a
 * request head out, a reply head back, no data either way. `statRemote()`,
 * `makeRemoteDirectory()` and `makeRemoteLink()` are built on it.
 *
 * @module
 */

import type { Channel } from "../session/channel.ts";
import type { Head } from "../session/stream.ts";
import { remoteFileError } from "./file_protocol.ts";

/**
 * Opens a file stream of `kind` with `head`, returns the reply head and checks that no data
 * follows. A refusal comes back as a `FileError` naming `head.path`.
 *
 * @param channel The connection.
 * @param kind The stream kind (`StreamKind.stat`, `.mkdir`, `.symlink`).
 * @param head The request head; its `path` names the file in errors.
 * @returns The reply head.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * const reply = await askRemote(channel, StreamKind.stat, { path: "a.txt", hash: false });
 * ```
 */
export async function askRemote(channel: Channel, kind: number, head: Head): Promise<Head> {
  const path = String(head.path);
  try {
    const stream = await channel.openStream(kind, head, { end: true });
    const reply = await stream.replyHead();
    await stream.readAll(0);
    return reply;
  } catch (error) {
    throw remoteFileError(error, path);
  }
}
