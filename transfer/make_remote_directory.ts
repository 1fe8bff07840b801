/**
 * MKDIR from the client's side (SPEC.md section 11): `uploadDirectory()` makes the remote
 * folders with it before it sends the files.
 *
 * @module
 */

import type { Channel } from "../session/channel.ts";
import { StreamKind } from "../session/stream.ts";
import { askRemote } from "./ask_remote.ts";

/**
 * Makes a remote folder and (unless `parents` is false) its missing parents; a folder that
 * already exists is fine.
 *
 * @param channel The connection.
 * @param remotePath The folder.
 * @param parents Make missing parents (default true); false refuses a missing parent (10).
 * @returns True if the folder was made, false if it existed.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await makeRemoteDirectory(channel, "www/images");
 * ```
 */
export async function makeRemoteDirectory(
  channel: Channel,
  remotePath: string,
  parents = true,
): Promise<boolean> {
  const reply = await askRemote(
    channel,
    StreamKind.mkdir,
    parents ? { path: remotePath } : { path: remotePath, parents: false },
  );
  return reply.created === true;
}
