/**
 * Moving a file's content over a stream, the same way in both directions (SPEC.md, "File
 * content"): the bytes from the start offset to the announced size, then the 32-byte chunk-tree
 * root of the whole content. The sender hashes what it reads while it sends; the receiver
 * hashes what it writes, and the root must match.
 *
 * @module
 */

import { basename } from "node:path";
import { FileError } from "../errors.ts";
import { ChunkTreeHasher, fileChunkBytes } from "../files/chunk_tree.ts";
import { AtomicFileWriter } from "../files/atomic_writer.ts";
import type { FileCalls } from "../files/file_calls.ts";
import { readPartialState, writePartialState } from "../files/partial_files.ts";
import { readFull } from "../files/read_full.ts";
import type { Stream } from "../session/stream.ts";
import { digestBytes, writeBufferBytes } from "./file_protocol.ts";
import type { StreamReader } from "../session/stream_reader.ts";
import { ProtocolError } from "../errors.ts";
import { recordHeaderBytes } from "../wire/record_codec.ts";

/** What the content functions report as they go. */
export type BytesCallback = (bytes: number) => void;

/**
 * Wraps every wait on the peer (a read of its data, a write waiting for its window): a server
 * uses it to reset a stream that makes no progress (see `FileService`'s `stallTimeoutMs`).
 */
export type PeerWait = <T>(waiting: Promise<T>) => Promise<T>;

const noWait: PeerWait = (waiting) => waiting;

/** The umask assumed when the process's cannot be read (Windows, or no permission). */
const fallbackUmask = 0o022;
/** Permission bits a received file may get: never set-user-ID, set-group-ID or sticky. */
const permissionBitsMask = 0o777;
/** Mode of a new file whose source mode is unknown, before the umask. */
const unknownSourceMode = 0o666;

let cachedUmask: number | undefined;

/**
 * The process's umask, read once: with `Deno.umask()` when the `sys` permission for it is
 * granted, else from `/proc/self/status` when readable, else {@linkcode fallbackUmask}. Never
 * asks for a permission (a prompt would stop a CLI transfer).
 */
function receiverUmask(): number {
  if (cachedUmask !== undefined) return cachedUmask;
  cachedUmask = fallbackUmask;
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "umask" }).state === "granted") {
      cachedUmask = Deno.umask();
    } else if (
      Deno.build.os === "linux" &&
      Deno.permissions.querySync({ name: "read", path: "/proc/self/status" }).state === "granted"
    ) {
      const line = /^Umask:\s*([0-7]+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
      if (line !== null) cachedUmask = parseInt(line[1], 8) & permissionBitsMask;
    }
  } catch {
    // Not available here: keep the fallback.
  }
  return cachedUmask;
}

/**
 * The mode a received file gets, as `scp` gives it: with `preserve`, the source's permission
 * bits; without, the source's bits (0666 when unknown) less the receiver's umask. Set-user-ID,
 * set-group-ID and sticky bits are never given, whatever the sender announced.
 *
 * @param sourceMode The mode the sender announced, if any.
 * @param preserve Whether the copy keeps the source's mode.
 * @returns Permission bits, at most `0o777`.
 *
 * @example Set-id bits are dropped
 * ```ts
 * import { receivedFileMode } from "./content_transfer.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(receivedFileMode(0o6755, true), 0o755);
 * assert.equal(receivedFileMode(0o4777, false) & 0o7000, 0);
 * ```
 */
export function receivedFileMode(sourceMode: number | undefined, preserve: boolean): number {
  if (preserve && sourceMode !== undefined) return sourceMode & permissionBitsMask;
  return (sourceMode ?? unknownSourceMode) & permissionBitsMask & ~receiverUmask();
}

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
  /** Wraps each write, which waits for the peer's window. Default: no wrapper. */
  waitForPeer?: PeerWait;
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
  const waitForPeer = options.waitForPeer ?? noWait;
  const hasher = options.prefixLeaves.length > 0
    ? ChunkTreeHasher.resume(options.prefixLeaves)
    : new ChunkTreeHasher();
  // A seek never waits for the disk: not worth a trip to a worker thread.
  file.seekSync(start, Deno.SeekMode.Start);
  let offset = start;
  const readNext = () => readChunk(file, Math.min(fileChunkBytes, size - offset), options.path);
  let next = offset < size ? readNext() : undefined;
  while (next !== undefined) {
    options.signal?.throwIfAborted();
    const chunk = await next;
    // Taken now: once written, the chunk's buffer may be freed (detached, length 0).
    const length = chunk.length;
    offset += length;
    next = offset < size ? readNext() : undefined;
    next?.catch(() => {});
    // The hasher has its copy once update() settles; then the stream may seal the chunk in
    // place and free it.
    await hasher.update(chunk);
    if (next === undefined) {
      // The last chunk and the root are queued together, so that they can share one sealed
      // record: a small file's content and digest then cost the two ends one seal, one open
      // and one socket write and read, instead of two of each.
      const root = await hasher.digest();
      const sent = stream.write(chunk, { headroom: true, transfer: true });
      const ended = stream.write(root, { end: true });
      ended.catch(() => {}); // Awaited below; never unhandled if the chunk's write fails.
      await waitForPeer(sent);
      options.onBytes?.(length);
      await waitForPeer(ended);
      return root;
    }
    await waitForPeer(stream.write(chunk, { headroom: true, transfer: true }));
    options.onBytes?.(length);
  }
  const root = await hasher.digest();
  await waitForPeer(stream.write(root, { end: true }));
  return root;
}

/**
 * Reads the next `length` bytes of the content into a buffer that leaves room for the record
 * header before them, so the stream seals the record without a copy.
 */
async function readChunk(file: Deno.FsFile, length: number, path: string): Promise<Uint8Array> {
  const buffer = new Uint8Array(recordHeaderBytes + length).subarray(recordHeaderBytes);
  if (await readFull(file, buffer, path, "Cannot send") < length) {
    throw new FileError(
      `${path} became shorter while it was being sent; send it again once it is stable`,
      { reason: "changed", path },
    );
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
  /** Wraps each read, which waits for the peer's data. Default: no wrapper. */
  waitForPeer?: PeerWait;
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
  const waitForPeer = options.waitForPeer ?? noWait;
  while (remaining > 0) {
    const chunk = await waitForPeer(reader.read(Math.min(remaining, fileChunkBytes)));
    if (chunk === null) {
      throw new ProtocolError(
        `The content of ${options.path} ended ${remaining} bytes early; the transfer was cut`,
      );
    }
    await Promise.all([writer.write(chunk), options.hasher.update(chunk)]);
    remaining -= chunk.length;
    options.onBytes?.(chunk.length);
  }
  const claimed = await waitForPeer(reader.readExact(digestBytes));
  await waitForPeer(reader.expectEnd());
  const root = await options.hasher.digest();
  if (!root.every((byte, i) => byte === claimed[i])) {
    throw new FileError(
      `${options.path} arrived damaged (its digest does not match); nothing was written, send it again`,
      { reason: "digest_mismatch", path: options.path },
    );
  }
  return root;
}

/** Options of {@linkcode receiveFile}. */
export interface ReceiveFileOptions {
  /**
   * The partial data file and its state file beside the destination. A server gives each
   * upload its own data file (`randomPartialPath()`); the state file records it for a resume.
   */
  partial: { data: string; state: string };
  /** Who the partial file belongs to, recorded in its state file. Default `""`. */
  owner?: string;
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
  /** The source's mode, if known (only `mode & 0o777` is ever applied). */
  mode?: number;
  /** Replace an existing destination. */
  overwrite: boolean;
  /**
   * Give the copy the source's permission bits and `mtimeMs`; without it, the copy gets the
   * source's bits less the receiver's umask (see {@linkcode receivedFileMode}).
   */
  preserve: boolean;
  /** Path for the messages of the content's own errors (digest, cut transfer). */
  path: string;
  /**
   * Path for the messages of file system errors: a server gives the path the peer named, so
   * that its own paths never reach the peer. Default `destination`.
   */
  displayPath?: string;
  /** Wraps each wait on the peer. Default: no wrapper. */
  waitForPeer?: PeerWait;
  /** Called with each amount of bytes written. */
  onBytes?: BytesCallback;
  /** Called right before the rename (the sandbox's re-check). */
  beforeCommit?: () => Promise<void>;
  /** How the partial file's calls are made. Default: `fileCalls("threaded")`. */
  calls?: FileCalls;
}

/**
 * Receives a file's content into its partial file, checks the digest, flushes and renames it
 * into place (the file written, checked by inode, with {@linkcode receivedFileMode}). A
 * transfer that is cut keeps its partial file and state for a resume (files of more than one
 * chunk); damaged content is deleted.
 *
 * @returns The root of the content.
 */
export async function receiveFile(
  reader: StreamReader,
  options: ReceiveFileOptions,
): Promise<Uint8Array> {
  const { partial, size, start } = options;
  const displayPath = options.displayPath ?? options.destination;
  const writer = await AtomicFileWriter.open({
    partialPath: partial.data,
    keepBytes: start,
    bufferBytes: writeBufferBytes(size - start),
    displayPath,
    calls: options.calls,
  });
  const resumable = size > fileChunkBytes;
  const dataName = basename(partial.data);
  let keepPartial = resumable;
  try {
    if (resumable) {
      const earlier = await readPartialState(partial.state);
      await writePartialState(partial.state, {
        version: 2,
        data: dataName,
        owner: options.owner ?? "",
        name: basename(options.destination),
        size,
        mtimeMs: options.mtimeMs ?? null,
        createdMs: earlier?.data === dataName ? earlier.createdMs : Date.now(),
      }, displayPath);
    }
    const hasher = start > 0 ? ChunkTreeHasher.resume(options.prefixLeaves) : new ChunkTreeHasher();
    const root = await receiveContent(reader, writer, {
      remaining: size - start,
      hasher,
      path: options.path,
      onBytes: options.onBytes,
      waitForPeer: options.waitForPeer,
    }).catch((error) => {
      // Damaged data is worthless; a cut transfer keeps its partial file for a resume.
      if (error instanceof FileError) keepPartial = false;
      throw error;
    });
    keepPartial = false;
    await writer.commit(options.destination, {
      overwrite: options.overwrite,
      mode: receivedFileMode(options.mode, options.preserve),
      mtime: options.preserve && options.mtimeMs !== undefined
        ? new Date(options.mtimeMs)
        : undefined,
      beforeCommit: options.beforeCommit,
    });
    return root;
  } finally {
    await writer.abort({ keepPartial });
    // Remove the state file only while it still names this transfer's partial file: another
    // upload of the same name may have written it since.
    if (!keepPartial && resumable && (await readPartialState(partial.state))?.data === dataName) {
      await Deno.remove(partial.state).catch(() => {});
    }
  }
}
