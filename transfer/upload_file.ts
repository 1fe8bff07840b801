/**
 * PUT from the client's side (SPEC.md section 11): one local file to the server. The request
 * head announces the file, the content follows at once (with `resume`, after the server's offer
 * of a kept prefix was checked), and the server's confirmation must name the digest that was
 * sent. The content itself moves through `content_transfer.ts`; the server's side is
 * `serve_put.ts`.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { fileChunkBytes, formatDigest, parseDigest } from "../files/chunk_tree.ts";
import { hashPrefix } from "../files/hash_prefix.ts";
import { openRegularFile } from "../files/open_regular_file.ts";
import type { Channel } from "../session/channel.ts";
import { type Head, StreamKind } from "../session/stream.ts";
import { withStreamDeadline } from "../session/stream_deadline.ts";
import { utf8Decoder } from "../wire/_bytes.ts";
import { sendContent } from "./content_transfer.ts";
import {
  type FileTransferOptions,
  movedFile,
  type TransferResult,
} from "./file_transfer_options.ts";
import { encodeStartOffset, headInteger, headString } from "../wire/head_codec.ts";
import { overwriteHint, remoteFileError, wireMtimeMs } from "./file_protocol.ts";
import { makeRemoteLink } from "./make_remote_link.ts";
import { ProgressCounter } from "./progress_counter.ts";

/** Largest upload confirmation accepted from the server, in bytes. */
const maxConfirmationBytes = 65536;

/**
 * Uploads one file. Without `resume`, the content follows the request at once (no round trip
 * before the data); with it, the client first checks the server's kept prefix against its own.
 *
 * @param channel The connection.
 * @param localPath The file to send.
 * @param remotePath Where it goes on the server.
 * @param options Overwrite, preserve, resume, links, progress and abort.
 * @param progress The counter of a folder transfer this file is part of. Default: its own.
 * @returns One file moved, with its digest.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * await uploadFile(channel, "report.csv", "reports/report.csv", { overwrite: true });
 * ```
 */
export async function uploadFile(
  channel: Channel,
  localPath: string,
  remotePath: string,
  options: FileTransferOptions = {},
  progress?: ProgressCounter,
): Promise<TransferResult> {
  if (options.keepSymlinks && (await Deno.lstat(localPath).catch(() => undefined))?.isSymlink) {
    await makeRemoteLink(channel, remotePath, await Deno.readLink(localPath), false);
    return { files: 1, skipped: 0, bytes: 0, resumedBytes: 0 };
  }
  const file = await openRegularFile(localPath, localPath);
  try {
    const info = await file.stat();
    const size = info.size;
    const counter = progress ?? new ProgressCounter(options.onProgress, size);
    const resume = options.resume === true && size > fileChunkBytes;
    const stream = await channel.openStream(StreamKind.put, {
      path: remotePath,
      size,
      mtimeMs: wireMtimeMs(info.mtime),
      mode: info.mode === null ? null : info.mode & 0o7777,
      overwrite: options.overwrite === true,
      preserve: options.preserve === true,
      resume,
      parents: false, // a folder upload makes the folders first (MKDIR)
    });
    return await withStreamDeadline(stream, { signal: options.signal }, async () => {
      let start = 0;
      let leaves: Uint8Array[] = [];
      if (resume) {
        const reply = await stream.replyHead();
        const offered = headInteger(reply, "offset", size);
        if (offered > 0) {
          const theirs = parseDigest(headString(reply, "prefix"));
          const ours = await hashPrefix(file, offered, localPath);
          if (ours.root.every((byte, i) => byte === theirs[i])) {
            start = offered;
            leaves = ours.leaves;
          }
        }
      }
      if (start > 0) counter.skipKept(start);
      await stream.write(encodeStartOffset(start));
      const root = await sendContent(stream, file, {
        start,
        size,
        prefixLeaves: leaves,
        path: localPath,
        onBytes: (bytes) => counter.add(localPath, bytes),
        signal: options.signal,
      });
      if (!resume) await stream.replyHead();
      const confirmation = parseConfirmation(await stream.readAll(maxConfirmationBytes));
      if (confirmation.digest !== formatDigest(root)) {
        throw new ProtocolError(`The server confirmed a different digest for ${remotePath}`);
      }
      counter.fileDone(localPath);
      return movedFile(size, start, root);
    });
  } catch (error) {
    throw remoteFileError(error, remotePath, {
      exists: `it already exists there; ${overwriteHint}`,
    });
  } finally {
    file.close();
  }
}

function parseConfirmation(bytes: Uint8Array): Head {
  try {
    const value = JSON.parse(utf8Decoder.decode(bytes));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // Reported below.
  }
  throw new ProtocolError("The server's upload confirmation is not a JSON object");
}
