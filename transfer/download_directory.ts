/**
 * A folder download from the client's side: the remote tree is listed (`list_remote.ts`), its
 * folders (and, when kept, links) made locally inside a sandbox, then the files fetched many
 * at once (`download_file.ts`, through `async/pooled_each.ts`); with `sync`, a local file whose
 * size and digest already match the server's (STAT) is skipped.
 *
 * @module
 */

import { pooledEach } from "../async/pooled_each.ts";
import { FileError } from "../errors.ts";
import { formatDigest } from "../files/chunk_tree.ts";
import { hashFile } from "../files/hash_file.ts";
import { Sandbox } from "../files/sandbox.ts";
import type { Channel } from "../session/channel.ts";
import { downloadFile } from "./download_file.ts";
import {
  defaultFolderConcurrency,
  type FileTransferOptions,
  type TransferResult,
} from "./file_transfer_options.ts";
import { FolderTally } from "./folder_tally.ts";
import { listRemote } from "./list_remote.ts";
import { ProgressCounter } from "./progress_counter.ts";
import { statRemote } from "./stat_remote.ts";

/**
 * Downloads a folder tree: lists it, makes the folders, then fetches the files, many at once.
 * Every path the server lists is resolved inside `localDir` (a server cannot make the client
 * write elsewhere).
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await downloadDirectory(channel, "www", "./site-copy");
 * ```
 */
export async function downloadDirectory(
  channel: Channel,
  remoteDir: string,
  localDir: string,
  options: FileTransferOptions = {},
): Promise<TransferResult> {
  const entries = await listRemote(channel, remoteDir);
  await Deno.mkdir(localDir, { recursive: true });
  const sandbox = await Sandbox.open(localDir);
  const files = entries.filter((entry) =>
    entry.type === "file" || (entry.type === "symlink" && !options.keepSymlinks)
  );
  const progress = new ProgressCounter(
    options.onProgress,
    files.reduce((sum, entry) => sum + entry.size, 0),
    files.length,
  );
  for (const entry of entries.filter((entry) => entry.type === "directory")) {
    const target = await sandbox.resolveForWrite(entry.path, { createParents: true }).catch(
      (error) => {
        if (error instanceof FileError && error.reason === "unsupported_type") return undefined;
        throw error;
      },
    );
    if (target?.existing === null) await Deno.mkdir(target.path);
  }
  if (options.keepSymlinks) {
    for (const link of entries.filter((entry) => entry.type === "symlink")) {
      const target = await sandbox.resolveForWrite(link.path, { createParents: true });
      const pointsInside = !link.target!.startsWith("/") &&
        !link.target!.split("/").includes("..");
      if (!pointsInside || target.existing !== null) continue;
      await Deno.symlink(link.target!, target.path);
    }
  }
  const tally = new FolderTally(options);
  // "" names the served folder: its entries are asked for as they were listed, not as "/x".
  const remote = (relative: string) => remoteDir === "" ? relative : `${remoteDir}/${relative}`;
  await pooledEach(files, async (entry) => {
    const target = await sandbox.resolveForWrite(entry.path, { createParents: true });
    if (options.sync && target.existing?.isFile && target.existing.size === entry.size) {
      const [local, theirs] = await Promise.all([
        hashFile(target.path),
        statRemote(channel, remote(entry.path), true),
      ]);
      if (theirs.digest === formatDigest(local.root)) {
        tally.skipped();
        progress.add(target.path, entry.size);
        progress.fileDone(target.path);
        return;
      }
    }
    tally.moved(
      await downloadFile(channel, remote(entry.path), target.path, tally.fileOptions, progress),
    );
  }, { concurrency: options.concurrency ?? defaultFolderConcurrency, signal: options.signal });
  return tally.result;
}
