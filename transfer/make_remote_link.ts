/**
 * SYMLINK from the client's side (SPEC.md section 11): uploads with `keepSymlinks` send links
 * as links through it (`uploadFile()`, `uploadDirectory()`).
 *
 * @module
 */

import { FileError } from "../errors.ts";
import type { Channel } from "../session/channel.ts";
import { StreamKind } from "../session/stream.ts";
import { askRemote } from "./ask_remote.ts";

/**
 * Makes a remote symbolic link to `target`; an existing entry at `remotePath` is left as it is.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await makeRemoteLink(channel, "www/latest", "v2", false);
 * ```
 */
export async function makeRemoteLink(
  channel: Channel,
  remotePath: string,
  target: string,
  overwrite: boolean,
): Promise<void> {
  try {
    await askRemote(channel, StreamKind.symlink, { path: remotePath, target, overwrite });
  } catch (error) {
    if (error instanceof FileError && error.reason === "exists") return;
    throw error;
  }
}
