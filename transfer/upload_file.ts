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
import { FileError } from "../errors.ts";
import { chunkTreeRoot, fileChunkBytes, formatDigest, parseDigest } from "../files/chunk_tree.ts";
import { fileErrorFromOs } from "../files/_os_error.ts";
import { type FileCalls, fileCalls } from "../files/file_calls.ts";
import { hashPrefix } from "../files/hash_prefix.ts";
import { openRegularFile } from "../files/open_regular_file.ts";
import { sha256 } from "../crypto/sha256.ts";
import { recordHeaderBytes } from "../wire/record_codec.ts";
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
import {
  encodeStartOffset,
  headInteger,
  headString,
  startOffsetBytes,
} from "../wire/head_codec.ts";
import { overwriteHint, remoteFileError, wireMtimeMs } from "./file_protocol.ts";
import { makeRemoteLink } from "./make_remote_link.ts";
import { ProgressCounter } from "./progress_counter.ts";

/** Largest upload confirmation accepted from the server, in bytes. */
const maxConfirmationBytes = 65536;

/** Length of the chunk-tree root that ends the content, in bytes. */
const rootBytes = 32;

/**
 * Uploads one file. Without `resume`, the content follows the request at once (no round trip
 * before the data); with it, the client first checks the server's kept prefix against its own.
 * A file of at most one chunk is read and hashed before the request is opened, so that the
 * request, the start offset, the content and its root are queued together (one write, one
 * sealed record when the channel's batch has room).
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
  const calls = fileCalls(options.fileCalls ?? "inline");
  if (options.keepSymlinks && (await calls.lstatOrNull(localPath))?.isSymlink) {
    await makeRemoteLink(channel, remotePath, await Deno.readLink(localPath), false);
    return { files: 1, skipped: 0, bytes: 0, resumedBytes: 0 };
  }
  const { file, info } = await openRegularFile(localPath, localPath, calls);
  try {
    const size = info.size;
    const counter = progress ?? new ProgressCounter(options.onProgress, size);
    const resume = options.resume === true && size > fileChunkBytes;
    // A small file is read and hashed before the request goes out: see readSmall().
    const small = size <= fileChunkBytes
      ? await readSmall(file, size, localPath, calls, options.signal)
      : undefined;
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
      let root: Uint8Array;
      let start = 0;
      if (small !== undefined) {
        // Start offset 0, content and root: the same bytes as sendContent() sends, in one write.
        await stream.write(small.bytes, { end: true, headroom: true, transfer: true });
        if (size > 0) counter.add(localPath, size);
        root = small.root;
      } else {
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
        root = await sendContent(stream, file, {
          start,
          size,
          prefixLeaves: leaves,
          path: localPath,
          onBytes: (bytes) => counter.add(localPath, bytes),
          signal: options.signal,
        });
      }
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

/**
 * Reads a file of at most one chunk whole and computes its chunk-tree root, before the request
 * is opened: the upload then queues its request and all of its content in one turn, and the
 * channel can pack them into one sealed record. The bytes are what `sendContent()` would send
 * from offset 0: the 8-byte start offset (0), the content, the 32-byte root, with the record
 * header's room before them so that the record is sealed without a copy.
 *
 * @throws {FileError} `changed` when the file is shorter than its `fstat()` said.
 */
async function readSmall(
  file: Deno.FsFile,
  size: number,
  path: string,
  calls: FileCalls,
  signal: AbortSignal | undefined,
): Promise<{ bytes: Uint8Array; root: Uint8Array }> {
  signal?.throwIfAborted();
  const buffer = new Uint8Array(recordHeaderBytes + startOffsetBytes + size + rootBytes);
  const bytes = buffer.subarray(recordHeaderBytes);
  const content = bytes.subarray(startOffsetBytes, startOffsetBytes + size);
  let filled = 0;
  try {
    while (filled < size) {
      const count = await calls.read(file, content.subarray(filled));
      if (count === null) break;
      filled += count;
    }
  } catch (error) {
    throw fileErrorFromOs(error, path, "Cannot send");
  }
  if (filled < size) {
    throw new FileError(
      `${path} became shorter while it was being sent; send it again once it is stable`,
      { reason: "changed", path },
    );
  }
  const root = await chunkTreeRoot(size === 0 ? [] : [await sha256(content)], size);
  bytes.set(root, startOffsetBytes + size);
  return { bytes, root };
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
