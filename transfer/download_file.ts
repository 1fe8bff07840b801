/**
 * GET from the client's side (SPEC.md section 11): one remote file into a local partial file
 * that is checked, flushed and renamed into place (with `resume`, after the kept prefix of an
 * earlier attempt). The content itself moves through `content_transfer.ts`; the server's side
 * is `serve_get.ts`.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { FileError, ProtocolError } from "../errors.ts";
import { formatDigest } from "../files/chunk_tree.ts";
import { hashFile } from "../files/hash_file.ts";
import { partialNames, resumableBytes } from "../files/partial_files.ts";
import { quotePath } from "../files/_os_error.ts";
import type { Channel } from "../session/channel.ts";
import { type Head, StreamKind } from "../session/stream.ts";
import { withStreamDeadline } from "../session/stream_deadline.ts";
import { receiveFile } from "./content_transfer.ts";
import {
  type FileTransferOptions,
  movedFile,
  type TransferResult,
} from "./file_transfer_options.ts";
import { fileWindowBytes, maxFileBytes, overwriteHint, remoteFileError } from "./file_protocol.ts";
import { headInteger } from "../wire/head_codec.ts";
import { ProgressCounter } from "./progress_counter.ts";
import { StreamReader } from "../session/stream_reader.ts";

/**
 * Downloads one file into a partial file next to `localPath`, checks its digest, flushes it and
 * renames it into place. An existing folder as `localPath` receives the file under its remote
 * name.
 *
 * @param channel The connection.
 * @param remotePath The file on the server.
 * @param localPath Where it goes (or the folder it goes into).
 * @param options Overwrite, preserve, resume, progress and abort.
 * @param progress The counter of a folder transfer this file is part of. Default: its own.
 * @returns One file moved, with its digest.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await downloadFile(channel, "reports/report.csv", "./report.csv", { resume: true });
 * ```
 */
export async function downloadFile(
  channel: Channel,
  remotePath: string,
  localPath: string,
  options: FileTransferOptions = {},
  progress?: ProgressCounter,
): Promise<TransferResult> {
  let destination = localPath;
  const existing = await Deno.stat(destination).catch(() => undefined);
  if (existing?.isDirectory) destination = join(destination, basename(remotePath));
  const current = await Deno.lstat(destination).catch(() => undefined);
  if (current !== undefined && !options.overwrite) {
    throw new FileError(
      `Cannot save ${quotePath(destination)}: it already exists; ${overwriteHint}`,
      {
        reason: "exists",
        path: destination,
      },
    );
  }
  if (current !== undefined && !current.isFile) {
    throw new FileError(`${destination} exists and is not a regular file`, {
      reason: "unsupported_type",
      path: destination,
    });
  }
  const names = partialNames(dirname(destination), basename(destination), "get");
  let offset = 0;
  let leaves: Uint8Array[] = [];
  const head: Head = { path: remotePath };
  if (options.resume) {
    const kept = await resumableBytes(names.data);
    if (kept > 0) {
      const prefix = await hashFile(names.data, { length: kept });
      offset = kept;
      leaves = prefix.leaves;
      head.offset = kept;
      head.prefix = formatDigest(prefix.root);
    }
  }
  try {
    const stream = await channel.openStream(StreamKind.get, head, { end: true });
    stream.setWindow(fileWindowBytes);
    return await withStreamDeadline(stream, { signal: options.signal }, async () => {
      const reply = await stream.replyHead();
      const size = headInteger(reply, "size", maxFileBytes);
      const start = headInteger(reply, "offset", size);
      if (start !== 0 && start !== offset) {
        throw new ProtocolError(`The server resumes ${remotePath} at ${start}, not ${offset}`);
      }
      const mtimeMs = headInteger(reply, "mtimeMs", maxFileBytes, true);
      const mode = headInteger(reply, "mode", 0o7777, true);
      const counter = progress ?? new ProgressCounter(options.onProgress, size);
      if (start > 0) counter.skipKept(start);
      const root = await receiveFile(new StreamReader(stream), {
        partial: names,
        destination,
        size,
        start,
        prefixLeaves: start > 0 ? leaves : [],
        mtimeMs,
        mode,
        overwrite: options.overwrite === true,
        preserve: options.preserve === true,
        path: remotePath,
        onBytes: (bytes) => counter.add(remotePath, bytes),
      });
      counter.fileDone(remotePath);
      return movedFile(size, start, root);
    });
  } catch (error) {
    throw remoteFileError(error, remotePath);
  }
}
