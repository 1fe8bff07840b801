/**
 * RENAME from the client's side (SPEC.md section 11.8): `OvtpClient.rename()` is built on it.
 * The server's side is `serve_rename.ts`.
 *
 * @module
 */

import type { Channel } from "../session/channel.ts";
import { StreamKind } from "../session/stream.ts";
import { askRemote } from "./ask_remote.ts";

/**
 * Renames (moves) a remote path to another inside the same served folder.
 *
 * @param channel The connection.
 * @param from The path to move.
 * @param to Its new path.
 * @param overwrite Replace an existing `to` (a file or link by a file or link, an empty folder
 * by a folder).
 *
 * @example See tests/transfer/remove_rename_test.ts; in short:
 * ```ts ignore
 * await renameRemote(channel, "in/report.csv", "done/report.csv", false);
 * ```
 */
export async function renameRemote(
  channel: Channel,
  from: string,
  to: string,
  overwrite: boolean,
): Promise<void> {
  await askRemote(
    channel,
    StreamKind.rename,
    overwrite ? { path: from, to, overwrite: true } : { path: from, to },
  );
}
