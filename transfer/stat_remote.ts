/**
 * STAT from the client's side (SPEC.md section 11): a remote path's type, size, time and mode,
 * and its chunk-tree digest when asked. `OvtpClient.stat()` and `.hash()` call it, and so do
 * folder syncs, to skip files that already match.
 *
 * @module
 */

import { formatDigest, parseDigest } from "../files/chunk_tree.ts";
import type { Channel } from "../session/channel.ts";
import { StreamKind } from "../session/stream.ts";
import { askRemote } from "./ask_remote.ts";
import { maxFileBytes, remoteFileError } from "./file_protocol.ts";
import { headInteger } from "../wire/head_codec.ts";

/** What {@linkcode statRemote} returns. */
export interface RemoteFileInfo {
  /** `file` or `directory`. */
  type: "file" | "directory";
  /** Size in bytes. */
  size: number;
  /** Modification time, when the server knows it. */
  mtime: Date | null;
  /** Permission bits, when the server knows them. */
  mode: number | null;
  /** Chunk-tree digest (lowercase hex), when asked for. */
  digest?: string;
}

/**
 * Asks for a remote path's type, size, time and mode, and with `digest` its chunk-tree digest.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * const info = await statRemote(channel, "reports/report.csv", true);
 * ```
 */
export async function statRemote(
  channel: Channel,
  remotePath: string,
  digest = false,
): Promise<RemoteFileInfo> {
  // "" names the served folder, which the protocol spells "." (SPEC.md 11.1).
  const path = remotePath === "" ? "." : remotePath;
  const reply = await askRemote(channel, StreamKind.stat, { path, hash: digest });
  try {
    const mtimeMs = headInteger(reply, "mtimeMs", maxFileBytes, true);
    return {
      type: reply.type === "directory" ? "directory" : "file",
      size: headInteger(reply, "size", maxFileBytes),
      mtime: mtimeMs === undefined ? null : new Date(mtimeMs),
      mode: headInteger(reply, "mode", 0o7777, true) ?? null,
      ...(reply.digest === undefined
        ? {}
        : { digest: formatDigest(parseDigest(String(reply.digest))) }),
    };
  } catch (error) {
    throw remoteFileError(error, remotePath);
  }
}
