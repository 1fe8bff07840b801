/**
 * REMOVE from the client's side (SPEC.md section 11.7): `OvtpClient.remove()` is built on it.
 * The server's side is `serve_remove.ts`.
 *
 * @module
 */

import type { Channel } from "../session/channel.ts";
import { StreamKind } from "../session/stream.ts";
import { headInteger } from "../wire/head_codec.ts";
import { askRemote } from "./ask_remote.ts";
import { maxFileBytes, remoteFileError } from "./file_protocol.ts";

/**
 * Removes a remote file, symbolic link or empty folder, or with `recursive` a folder and all
 * it holds.
 *
 * @param channel The connection.
 * @param remotePath The path to remove.
 * @param recursive Remove a folder with its contents.
 * @returns How many entries were removed (the path itself included).
 *
 * @example See tests/transfer/remove_rename_test.ts; in short:
 * ```ts ignore
 * const removed = await removeRemote(channel, "old/reports", true);
 * ```
 */
export async function removeRemote(
  channel: Channel,
  remotePath: string,
  recursive: boolean,
): Promise<number> {
  const reply = await askRemote(
    channel,
    StreamKind.remove,
    recursive ? { path: remotePath, recursive: true } : { path: remotePath },
  );
  try {
    return headInteger(reply, "removed", maxFileBytes);
  } catch (error) {
    throw remoteFileError(error, remotePath);
  }
}
