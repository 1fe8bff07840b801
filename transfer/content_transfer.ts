/**
 * Moving a file's content over a stream, the same way in both directions (SPEC.md, "File
 * content"): the bytes from the start offset to the announced size, then the 32-byte chunk-tree
 * root of the whole content. The sender hashes what it reads while it sends; the receiver
 * hashes what it writes, and the root must match.
 *
 * @module
 */

import { FileError } from "../errors.ts";
import { ChunkTreeHasher, fileChunkBytes } from "../files/chunk_tree.ts";
import { AtomicFileWriter } from "../files/atomic_writer.ts";
import { readPartialState, writePartialState } from "../files/partial_files.ts";
import type { Stream } from "../session/stream.ts";
import { digestBytes, writeBufferBytes } from "./file_protocol.ts";
import type { StreamReader } from "./stream_reader.ts";
import { ProtocolError } from "../errors.ts";
import { recordHeaderBytes } from "../wire/record_codec.ts";

/** Progress of a transfer, as given to progress callbacks. */
export interface TransferProgress {
  /** The file being moved (for folders: the current file). */
  path: string;
  /** Bytes moved so far (for folders: of all files). */
  bytesDone: number;
  /** Bytes to move in all. */
  totalBytes: number;
  /** Average rate since the start, in bytes per second. */
  bytesPerSecond: number;
}

/** What the content functions report as they go. */
export type BytesCallback = (bytes: number) => void;

/** Options of {@linkcode sendContent}. */
export interface SendContentOptions {
  /** First byte to send. */
  start: number;
  /** Size announced to the peer; exactly this many bytes are read. */
  size: number;
  /** Leaves of the first `start` bytes, already verified by both sides. */
  prefixLeaves: Uint8Array[];
  /** Path for error messages. */
  path: string;
  /** Called with each amount of bytes handed to the stream. */
  onBytes?: BytesCallback;
  /** Stops between chunks when aborted. */
  signal?: AbortSignal;
}

/**
 * Sends bytes `[start, size)` of `file` then the chunk-tree root, and ends the stream. Reads 1 MiB
 * at a time, one chunk ahead, while the previous chunk is hashed and sealed.
 *
 * @throws {FileError} `changed` when the file is shorter than announced.
 */
export async function sendContent(
  stream: Stream,
  file: Deno.FsFile,
  options: SendContentOptions,
): Promise<Uint8Array> {
  const { start, size } = options;
  const hasher = options.prefixLeaves.length > 0
    ? ChunkTreeHasher.resume(options.prefixLeaves)
    : new ChunkTreeHasher();
  await file.seek(start, Deno.SeekMode.Start);
  let offset = start;
  const readNext = () => readFull(file, Math.min(fileChunkBytes, size - offset), options.path);
  let next = offset < size ? readNext() : undefined;
  while (next !== undefined) {
    options.signal?.throwIfAborted();
    const chunk = await next;
    offset += chunk.length;
    next = offset < size ? readNext() : undefined;
    next?.catch(() => {});
    // The hasher has its copy once update() settles; then the stream may seal the chunk in
    // place and free it.
    await hasher.update(chunk);
    await stream.write(chunk, { headroom: true, transfer: true });
    options.onBytes?.(chunk.length);
  }
  const root = await hasher.digest();
  await stream.write(root, { end: true });
  return root;
}

async function readFull(file: Deno.FsFile, length: number, path: string): Promise<Uint8Array> {
  // Room for the record header before the data: the record is sealed without a copy.
  const buffer = new Uint8Array(recordHeaderBytes + length).subarray(recordHeaderBytes);
  let filled = 0;
  while (filled < length) {
    const count = await file.read(buffer.subarray(filled));
    if (count === null) {
      throw new FileError(
        `${path} became shorter while it was being sent; send it again once it is stable`,
        { reason: "changed", path },
      );
    }
    filled += count;
  }
  return buffer;
}

/** Options of {@linkcode receiveContent}. */
export interface ReceiveContentOptions {
  /** Bytes of content still to come (size minus start offset). */
  remaining: number;
  /** Hashes what is written (resumed from the kept prefix, if any). */
  hasher: ChunkTreeHasher;
  /** Path for error messages. */
  path: string;
  /** Called with each amount of bytes written. */
  onBytes?: BytesCallback;
}

/**
 * Receives `remaining` bytes of content into `writer`, then the root, and checks it against what
 * was written. Does not commit: the caller does, once this resolves.
 *
 * @throws {FileError} `digest_mismatch` when the root differs.
 * @throws {ProtocolError} When the stream ends early or carries more than announced.
 */
export async function receiveContent(
  reader: StreamReader,
  writer: AtomicFileWriter,
  options: ReceiveContentOptions,
): Promise<Uint8Array> {
  let remaining = options.remaining;
  while (remaining > 0) {
    const chunk = await reader.read(Math.min(remaining, fileChunkBytes));
    if (chunk === null) {
      throw new ProtocolError(
        `The content of ${options.path} ended ${remaining} bytes early; the transfer was cut`,
      );
    }
    await Promise.all([writer.write(chunk), options.hasher.update(chunk)]);
    remaining -= chunk.length;
    options.onBytes?.(chunk.length);
  }
  const claimed = await reader.readExact(digestBytes);
  await reader.expectEnd();
  const root = await options.hasher.digest();
  if (!root.every((byte, i) => byte === claimed[i])) {
    throw new FileError(
      `${options.path} arrived damaged (its digest does not match); nothing was written, send it again`,
      { reason: "digest_mismatch", path: options.path },
    );
  }
  return root;
}

/**
 * Hashes the first `length` bytes of an open file (a whole number of chunks, or the whole
 * file), reading from its start. Used to check a kept prefix before resuming.
 *
 * @throws {FileError} `changed` when the file is shorter than `length`.
 */
export async function hashPrefix(
  file: Deno.FsFile,
  length: number,
  path: string,
): Promise<{ leaves: Uint8Array[]; root: Uint8Array }> {
  await file.seek(0, Deno.SeekMode.Start);
  const hasher = new ChunkTreeHasher();
  for (let offset = 0; offset < length;) {
    const chunk = await readFull(file, Math.min(fileChunkBytes, length - offset), path);
    await hasher.update(chunk);
    offset += chunk.length;
  }
  const root = await hasher.digest();
  return { leaves: [...hasher.leaves], root };
}

/** Options of {@linkcode receiveFile}. */
export interface ReceiveFileOptions {
  /** The partial data file and its state file beside the destination. */
  partial: { data: string; state: string };
  /** Where the file goes once verified. */
  destination: string;
  /** Announced size of the whole content. */
  size: number;
  /** First byte that comes over the stream (the kept prefix is `[0, start)`). */
  start: number;
  /** Leaves of the kept prefix. */
  prefixLeaves: Uint8Array[];
  /** The source's modification time, if known. */
  mtimeMs?: number;
  /** The source's permission bits, if known. */
  mode?: number;
  /** Replace an existing destination. */
  overwrite: boolean;
  /** Apply `mode` and `mtimeMs` to the copy. */
  preserve: boolean;
  /** Path for error messages. */
  path: string;
  /** Called with each amount of bytes written. */
  onBytes?: BytesCallback;
  /** Called right before the rename (the sandbox's re-check). */
  beforeCommit?: () => Promise<void>;
}

/**
 * Receives a file's content into its partial file, checks the digest, flushes and renames it
 * into place. A transfer that is cut keeps its partial file and state for a resume (files of
 * more than one chunk); damaged content is deleted.
 *
 * @returns The root of the content.
 */
export async function receiveFile(
  reader: StreamReader,
  options: ReceiveFileOptions,
): Promise<Uint8Array> {
  const { partial, size, start } = options;
  const writer = await AtomicFileWriter.open({
    partialPath: partial.data,
    keepBytes: start,
    bufferBytes: writeBufferBytes(size - start),
  });
  const resumable = size > fileChunkBytes;
  let keepPartial = resumable;
  try {
    if (resumable) {
      await writePartialState(partial.state, {
        version: 1,
        size,
        mtimeMs: options.mtimeMs ?? null,
        createdMs: (await readPartialState(partial.state))?.createdMs ?? Date.now(),
      });
    }
    const hasher = start > 0 ? ChunkTreeHasher.resume(options.prefixLeaves) : new ChunkTreeHasher();
    const root = await receiveContent(reader, writer, {
      remaining: size - start,
      hasher,
      path: options.path,
      onBytes: options.onBytes,
    }).catch((error) => {
      // Damaged data is worthless; a cut transfer keeps its partial file for a resume.
      if (error instanceof FileError) keepPartial = false;
      throw error;
    });
    keepPartial = false;
    await writer.commit(options.destination, {
      overwrite: options.overwrite,
      mode: options.preserve ? options.mode : undefined,
      mtime: options.preserve && options.mtimeMs !== undefined
        ? new Date(options.mtimeMs)
        : undefined,
      beforeCommit: options.beforeCommit,
    });
    return root;
  } finally {
    await writer.abort({ keepPartial });
    if (!keepPartial && resumable) await Deno.remove(partial.state).catch(() => {});
  }
}
