/**
 * A folder upload, like `scp -r`, from the client's side: the local tree is walked
 * (`walk_local.ts`), the remote folders made (MKDIR), links sent as links when kept (SYMLINK),
 * then the files sent many at once (`upload_file.ts`, through `async/pooled_each.ts`); with
 * `sync`, a file whose size and digest already match on the server (STAT) is skipped.
 *
 * @module
 */

import { pooledEach } from "../async/pooled_each.ts";
import { FileError } from "../errors.ts";
import { formatDigest } from "../files/chunk_tree.ts";
import { fileCalls } from "../files/file_calls.ts";
import { hashFile } from "../files/hash_file.ts";
import type { Channel } from "../session/channel.ts";
import {
  defaultFolderConcurrency,
  type FileTransferOptions,
  type TransferResult,
} from "./file_transfer_options.ts";
import { FolderTally } from "./folder_tally.ts";
import { makeRemoteDirectory } from "./make_remote_directory.ts";
import { makeRemoteLink } from "./make_remote_link.ts";
import { ProgressCounter } from "./progress_counter.ts";
import { type RemoteFileInfo, statRemote } from "./stat_remote.ts";
import { uploadFile } from "./upload_file.ts";
import { walkLocal } from "./walk_local.ts";

/**
 * Uploads a folder tree, like `scp -r`: folders first, then files, many at once; with `sync`,
 * files whose size and digest already match are skipped. Symbolic links are followed unless
 * `keepSymlinks`; a link cycle is skipped.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await uploadDirectory(channel, "./site", "www", { sync: true });
 * ```
 */
export async function uploadDirectory(
  channel: Channel,
  localDir: string,
  remoteDir: string,
  options: FileTransferOptions = {},
): Promise<TransferResult> {
  const tree = await walkLocal(
    localDir,
    options.keepSymlinks === true,
    fileCalls(options.fileCalls ?? "inline"),
  );
  const progress = new ProgressCounter(
    options.onProgress,
    tree.files.reduce((sum, file) => sum + file.size, 0),
    tree.files.length,
  );
  const remote = (relative: string) => relative === "" ? remoteDir : `${remoteDir}/${relative}`;
  await makeRemoteDirectory(channel, remoteDir);
  for (const folder of tree.folders) await makeRemoteDirectory(channel, remote(folder));
  const pool = {
    concurrency: options.concurrency ?? defaultFolderConcurrency,
    signal: options.signal,
  };
  const tally = new FolderTally(options);
  await pooledEach(tree.links, async (link) => {
    await makeRemoteLink(channel, remote(link.path), link.target, options.overwrite === true);
  }, pool);
  await pooledEach(tree.files, async (file) => {
    if (
      options.sync && await remoteMatches(channel, file.localPath, remote(file.path), file.size)
    ) {
      tally.skipped();
      progress.add(file.localPath, file.size);
      progress.fileDone(file.localPath);
      return;
    }
    tally.moved(
      await uploadFile(channel, file.localPath, remote(file.path), tally.fileOptions, progress),
    );
  }, pool);
  return tally.result;
}

/** True when the server has a file at `remotePath` of `size` bytes and the same digest. */
async function remoteMatches(
  channel: Channel,
  localPath: string,
  remotePath: string,
  size: number,
): Promise<boolean> {
  let theirs: RemoteFileInfo;
  try {
    theirs = await statRemote(channel, remotePath, false);
  } catch (error) {
    if (error instanceof FileError && error.reason === "not_found") return false;
    throw error;
  }
  if (theirs.type !== "file" || theirs.size !== size) return false;
  const [local, withDigest] = await Promise.all([
    hashFile(localPath),
    statRemote(channel, remotePath, true),
  ]);
  return withDigest.digest === formatDigest(local.root);
}
