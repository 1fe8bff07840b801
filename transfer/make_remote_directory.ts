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
 * Makes a remote folder and its missing parents; a folder that already exists is fine.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await makeRemoteDirectory(channel, "www/images");
 * ```
 */
export async function makeRemoteDirectory(channel: Channel, remotePath: string): Promise<void> {
  await askRemote(channel, StreamKind.mkdir, { path: remotePath });
}
