/**
 * The server side of the file operations (SPEC.md section 11): every path resolved inside the
 * served folder, key options enforced, uploads written to a partial file of their own and
 * committed whole or not at all, streams that stop making progress reset, and every error a
 * peer sees naming only the path it gave.
 *
 * @module
 */

import type { Allowance } from "../session/budget.ts";
import { join, resolve } from "node:path";
import { allowsRead, allowsWrite } from "../crypto/key_permissions.ts";
import { FileError, OvtpError, ProtocolError, TimeoutError } from "../errors.ts";
import { fileErrorFromOs, quotePath } from "../files/_os_error.ts";
import { fileChunkBytes, formatDigest, parseDigest } from "../files/chunk_tree.ts";
import {
  isRandomPartialName,
  isReservedName,
  partialNames,
  randomPartialPath,
  readPartialState,
  removeStalePartials,
  resumableBytes,
} from "../files/partial_files.ts";
import { hashPrefix } from "../files/hash_prefix.ts";
import { openRegularFile } from "../files/open_regular_file.ts";
import { Sandbox } from "../files/sandbox.ts";
import { initialWindowBytes, type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { utf8Encoder } from "../wire/_bytes.ts";
import { type PeerWait, receiveFile, sendContent } from "./content_transfer.ts";
import {
  digestBytes,
  fileErrorCode,
  fileWindowBytes,
  headFlag,
  headInteger,
  headString,
  maxFileBytes,
  maxListEntries,
  startOffsetBytes,
} from "./file_protocol.ts";
import { StreamReader } from "./stream_reader.ts";
import type { ListEntry } from "./file_protocol.ts";

/** Default age after which a partial upload is removed. */
export const defaultPartialMaxAgeMs = 24 * 60 * 60 * 1000;
/**
 * Default time a file stream may wait on its peer (for data of an upload, for window of a
 * download or listing) before it is reset: 60 s.
 */
export const defaultStallTimeoutMs = 60_000;
/** Default number of files and folders one connection may hold open at once. */
export const defaultMaxOpenFilesPerConnection = 64;
/** A folder is swept for stale partial files at most this often. */
const staleSweepIntervalMs = 60 * 60 * 1000;
/** Listing entries are sent in writes of about this size. */
const listBatchBytes = 65536;
/** Permission bits a folder made for a peer may get: never set-group-ID or sticky. */
const permissionBitsMask = 0o777;
/** Mode of a folder made without one, before the umask. */
const defaultFolderMode = 0o755;
/** The stall watch looks this many times per timeout. */
const stallChecksPerTimeout = 4;

/** Options of {@linkcode FileService}. */
export interface FileServiceOptions {
  /** The served folder. */
  root: string;
  /** Remove partial uploads older than this. Default 24 hours. */
  partialMaxAgeMs?: number;
  /**
   * Reset a file stream that has waited this long on its peer: an upload whose sender stopped
   * sending, a download or listing whose reader stopped granting window. Its file is closed.
   * Default {@linkcode defaultStallTimeoutMs}.
   */
  stallTimeoutMs?: number;
  /**
   * Files (and listed folders) one connection may hold open at once; a file stream over it is
   * refused with RESET code 3. Default {@linkcode defaultMaxOpenFilesPerConnection}.
   */
  maxOpenFilesPerConnection?: number;
}

/** The authenticated peer a file operation runs for (one object per connection). */
export interface FilePeer {
  /** `SHA256:…` of the peer's key. */
  fingerprint: string;
  /** authorized_keys options: `read-only`, `write-only`, `restrict` (no writes), `root=…`. */
  options: ReadonlyMap<string, string | true>;
  /**
   * The connection's share of the server's budgets: when present, each open file is taken from
   * its `fileHandles` (per connection, per key and per process) as well.
   */
  readonly allowance?: Allowance;
}

/**
 * The server side of the file operations: every path is resolved in the served folder (or the
 * narrower `root=` of the key), `read-only` and `write-only` keys are enforced, names reserved
 * for partial files are refused and never listed, each upload lands in a partial file of its
 * own (random name, mode 0600) and only that file is moved into place, after its digest
 * matched and the data was flushed. A stream that waits on its peer longer than
 * `stallTimeoutMs` is reset, and a connection holds at most `maxOpenFilesPerConnection` files
 * open.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * const files = new FileService({ root: "/srv/files", stallTimeoutMs: 30_000 });
 * onStream: (stream) => files.handle(stream, peer); // peer: one object per connection
 * ```
 */
export class FileService {
  #options: FileServiceOptions;
  #stallTimeoutMs: number;
  #maxOpenFiles: number;
  #sandbox: Promise<Sandbox> | undefined;
  #narrowed = new Map<string, Promise<Sandbox>>();
  #swept = new Map<string, number>();
  /** Partial files in use by a transfer of this process: never offered to another. */
  #claimed = new Set<string>();
  /** Files open per connection. */
  #openFiles = new WeakMap<FilePeer, number>();

  /**
   * @param options The served folder, the partial file policy, the stall timeout and the cap
   * on open files.
   * @throws {RangeError} If `stallTimeoutMs` or `maxOpenFilesPerConnection` is not a positive
   * integer.
   */
  constructor(options: FileServiceOptions) {
    this.#options = options;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? defaultStallTimeoutMs;
    this.#maxOpenFiles = options.maxOpenFilesPerConnection ?? defaultMaxOpenFilesPerConnection;
    if (!Number.isSafeInteger(this.#stallTimeoutMs) || this.#stallTimeoutMs < 1) {
      throw new RangeError(`FileService: stallTimeoutMs ${this.#stallTimeoutMs} is not >= 1`);
    }
    if (!Number.isSafeInteger(this.#maxOpenFiles) || this.#maxOpenFiles < 1) {
      throw new RangeError(
        `FileService: maxOpenFilesPerConnection ${this.#maxOpenFiles} is not >= 1`,
      );
    }
  }

  /** True for the stream kinds this service answers. */
  static handles(kind: number): boolean {
    return kind >= StreamKind.put && kind <= StreamKind.symlink;
  }

  /**
   * Answers one file stream. Refusals and failures reset the stream with their file error code
   * and a message that names only the path the peer gave; the returned promise rejects with
   * the full error (its `cause` holds the system's), for logging.
   *
   * @param stream The stream the peer opened.
   * @param peer Who it is; the same object for every stream of one connection (open files are
   * counted per object).
   */
  async handle(stream: Stream, peer: FilePeer): Promise<void> {
    const watch = new StallWatch(stream, this.#stallTimeoutMs);
    try {
      switch (stream.kind) {
        case StreamKind.put:
          return await this.#withOpenFile(stream, peer, () => this.#put(stream, peer, watch));
        case StreamKind.get:
          return await this.#withOpenFile(stream, peer, () => this.#get(stream, peer, watch));
        case StreamKind.stat:
          return await this.#stat(stream, peer);
        case StreamKind.list:
          return await this.#withOpenFile(stream, peer, () => this.#list(stream, peer, watch));
        case StreamKind.mkdir:
          return await this.#mkdir(stream, peer);
        case StreamKind.symlink:
          return await this.#symlink(stream, peer);
        default:
          stream.reset(StreamError.unsupported, `Unknown stream kind ${stream.kind}`);
      }
    } catch (error) {
      if (watch.timedOut !== undefined) throw watch.timedOut;
      if (!stream.done) {
        if (error instanceof FileError) {
          stream.reset(fileErrorCode(error), await this.#peerMessage(error, stream));
        } else if (error instanceof ProtocolError) {
          stream.reset(StreamError.protocol, error.message);
        } else if (!(error instanceof OvtpError)) {
          stream.reset(StreamError.internal, "The server failed; see its log");
        }
      }
      throw error;
    } finally {
      watch.stop();
    }
  }

  // ---- Operations ------------------------------------------------------------------------

  async #put(stream: Stream, peer: FilePeer, watch: StallWatch): Promise<void> {
    const head = stream.head;
    const path = headString(head, "path");
    const size = headInteger(head, "size", maxFileBytes);
    const mtimeMs = headInteger(head, "mtimeMs", maxFileBytes, true);
    const mode = headInteger(head, "mode", 0o7777, true);
    const overwrite = headFlag(head, "overwrite");
    const preserve = headFlag(head, "preserve");
    checkWritable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const target = await sandbox.resolveForWrite(path, {
      createParents: headFlag(head, "parents"),
    });
    if (target.existing !== null && !overwrite) {
      throw new FileError(`${path} exists on the server; ask to overwrite it to replace it`, {
        reason: "exists",
        path,
      });
    }
    this.#sweep(target.dir);
    // The state file's name is per key and destination; the data file's is random, per upload.
    const { state: statePath } = partialNames(
      target.dir,
      target.name,
      partialTag(peer.fingerprint),
    );
    let dataPath: string | undefined;
    try {
      // Offer the verified prefix of an earlier partial upload of the same source by this key,
      // unless another transfer of this process is using it right now.
      let offer = 0;
      let offerLeaves: Uint8Array[] = [];
      let offerRoot: Uint8Array | undefined;
      if (headFlag(head, "resume") && size > fileChunkBytes) {
        const state = await readPartialState(statePath);
        const candidate = state === undefined ? undefined : join(target.dir, state.data);
        if (
          state !== undefined && candidate !== undefined && isRandomPartialName(state.data) &&
          state.owner === peer.fingerprint && state.name === target.name &&
          state.size === size && state.mtimeMs === (mtimeMs ?? null) &&
          !this.#claimed.has(candidate)
        ) {
          this.#claimed.add(candidate);
          dataPath = candidate;
          const kept = Math.min(
            await resumableBytes(candidate, path),
            Math.floor(size / fileChunkBytes) * fileChunkBytes,
          );
          if (kept > 0) {
            const file = await openRegularFile(candidate, path);
            try {
              ({ leaves: offerLeaves, root: offerRoot } = await hashPrefix(file, kept, path));
              offer = kept;
            } finally {
              file.close();
            }
          }
        }
      }
      if (dataPath === undefined) {
        dataPath = randomPartialPath(target.dir);
        this.#claimed.add(dataPath);
      }
      stream.reply({ offset: offer, ...(offerRoot ? { prefix: formatDigest(offerRoot) } : {}) });
      // Small files fit the initial window: no window update needed. A larger one gets a window
      // no larger than what is left to come (content and digest), which is memory we hold.
      const left = size - offer + digestBytes;
      if (left > initialWindowBytes) stream.setWindow(Math.min(fileWindowBytes, left));

      const reader = new StreamReader(stream);
      const startBytes = await watch.wait(reader.readExact(startOffsetBytes));
      const start = Number(new DataView(startBytes.buffer).getBigUint64(0));
      if (start !== 0 && start !== offer) {
        throw new ProtocolError(`Upload of ${path} starts at ${start}, but ${offer} was offered`);
      }
      const root = await receiveFile(reader, {
        partial: { data: dataPath, state: statePath },
        owner: peer.fingerprint,
        destination: target.path,
        size,
        start,
        prefixLeaves: start > 0 ? offerLeaves : [],
        mtimeMs,
        mode,
        overwrite,
        preserve,
        path,
        displayPath: path,
        waitForPeer: watch.wait,
        beforeCommit: () => sandbox.recheckDirectory(target.dir, path),
      });
      await watch.wait(
        stream.write(encodeJson({ size, digest: formatDigest(root) }), { end: true }),
      );
    } finally {
      if (dataPath !== undefined) this.#claimed.delete(dataPath);
    }
  }

  async #get(stream: Stream, peer: FilePeer, watch: StallWatch): Promise<void> {
    const head = stream.head;
    const path = headString(head, "path");
    const offset = headInteger(head, "offset", maxFileBytes, true) ?? 0;
    const prefix = head.prefix === undefined ? undefined : parseDigest(headString(head, "prefix"));
    checkReadable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const resolved = await sandbox.resolveForRead(path);
    const file = await openRegularFile(resolved.path, path);
    try {
      const info = await file.stat();
      const size = info.size;
      let start = 0;
      let leaves: Uint8Array[] = [];
      if (offset > 0 && offset <= size && offset % fileChunkBytes === 0 && prefix !== undefined) {
        const kept = await hashPrefix(file, offset, path);
        if (kept.root.every((byte, i) => byte === prefix[i])) {
          start = offset;
          leaves = kept.leaves;
        }
      }
      stream.reply({
        size,
        mtimeMs: info.mtime?.getTime() ?? null,
        mode: info.mode === null ? null : info.mode & 0o7777,
        offset: start,
      });
      await sendContent(stream, file, {
        start,
        size,
        prefixLeaves: leaves,
        path,
        waitForPeer: watch.wait,
      });
    } finally {
      file.close();
    }
  }

  async #stat(stream: Stream, peer: FilePeer): Promise<void> {
    const path = headString(stream.head, "path");
    const withDigest = headFlag(stream.head, "hash");
    checkReadable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const resolved = await sandbox.resolveForRead(path, { allowDirectory: true });
    const info = resolved.info;
    let digest: string | undefined;
    if (withDigest && info.isFile) {
      digest = await this.#withOpenFile(stream, peer, async () => {
        const file = await openRegularFile(resolved.path, path);
        try {
          const size = (await file.stat()).size;
          return formatDigest((await hashPrefix(file, size, path)).root);
        } finally {
          file.close();
        }
      });
      if (digest === undefined) return; // refused: too many open files
    }
    stream.reply({
      type: info.isDirectory ? "directory" : "file",
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? null,
      mode: info.mode === null ? null : info.mode & 0o7777,
      ...(digest === undefined ? {} : { digest }),
    }, { end: true });
  }

  async #list(stream: Stream, peer: FilePeer, watch: StallWatch): Promise<void> {
    const path = headString(stream.head, "path");
    checkReadable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const resolved = await sandbox.resolveForRead(path, { allowDirectory: true });
    if (!resolved.info.isDirectory) {
      throw new FileError(`${path} is not a folder; use get for a single file`, {
        reason: "unsupported_type",
        path,
      });
    }
    stream.reply({});
    const pending: string[] = [];
    let pendingBytes = 0;
    let count = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const batch = encodeText(pending.join(""));
      pending.length = 0;
      pendingBytes = 0;
      await watch.wait(stream.write(batch));
    };
    const folders = [""];
    while (folders.length > 0) {
      const relative = folders.pop()!;
      const real = relative === "" ? resolved.path : join(resolved.path, relative);
      try {
        for await (const item of Deno.readDir(real)) {
          // Partial files and their state are no one's business but the server's.
          if (isReservedName(item.name)) continue;
          const itemPath = relative === "" ? item.name : `${relative}/${item.name}`;
          const info = await Deno.lstat(join(real, item.name)).catch(() => undefined);
          if (info === undefined) continue;
          const entry = await listEntry(itemPath, join(real, item.name), info);
          if (entry === undefined) continue;
          if (++count > maxListEntries) {
            throw new FileError(
              `${path} has more than ${maxListEntries} entries; list a sub-folder`,
              { reason: "unsupported_type", path },
            );
          }
          if (entry.type === "directory") folders.push(itemPath);
          const line = JSON.stringify(entry) + "\n";
          pending.push(line);
          pendingBytes += line.length;
          if (pendingBytes >= listBatchBytes) await flush();
        }
      } catch (error) {
        if (error instanceof OvtpError) throw error;
        throw fileErrorFromOs(error, relative === "" ? path : `${path}/${relative}`, "Cannot list");
      }
    }
    await flush();
    await watch.wait(stream.end());
  }

  async #mkdir(stream: Stream, peer: FilePeer): Promise<void> {
    const path = headString(stream.head, "path");
    const mode = headInteger(stream.head, "mode", 0o7777, true);
    checkWritable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const existing = await sandbox.resolveForRead(path, { allowDirectory: true }).catch(() =>
      undefined
    );
    if (existing?.info.isDirectory) {
      stream.reply({ created: false }, { end: true });
      return;
    }
    const target = await sandbox.resolveForWrite(path, { createParents: true });
    if (target.existing !== null) {
      throw new FileError(`${path} exists and is not a folder`, { reason: "exists", path });
    }
    try {
      await Deno.mkdir(target.path, { mode: (mode ?? defaultFolderMode) & permissionBitsMask });
    } catch (error) {
      throw fileErrorFromOs(error, path, "Cannot make the folder");
    }
    stream.reply({ created: true }, { end: true });
  }

  async #symlink(stream: Stream, peer: FilePeer): Promise<void> {
    const path = headString(stream.head, "path");
    const linkTarget = headString(stream.head, "target");
    checkWritable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const target = await sandbox.resolveForWrite(path, {
      createParents: headFlag(stream.head, "parents"),
    });
    if (target.existing !== null) {
      throw new FileError(`${path} exists on the server`, { reason: "exists", path });
    }
    // Resolved through the real file system, the way reads will follow it.
    await sandbox.checkLinkTarget(target.dir, linkTarget, path);
    try {
      await Deno.symlink(linkTarget, target.path);
    } catch (error) {
      throw fileErrorFromOs(error, path, "Cannot make the link");
    }
    stream.reply({}, { end: true });
  }

  // ---- Helpers ---------------------------------------------------------------------------

  /**
   * Runs `work` counting one open file for the connection, or refuses the stream with RESET
   * code 3 (and gives `undefined`) when the connection is at its cap.
   */
  async #withOpenFile<T>(
    stream: Stream,
    peer: FilePeer,
    work: () => Promise<T>,
  ): Promise<T | undefined> {
    const open = this.#openFiles.get(peer) ?? 0;
    if (open >= this.#maxOpenFiles) {
      stream.reset(
        StreamError.refused,
        `This connection already has ${open} files open, the server's limit; wait for some ` +
          "transfers to finish, or move fewer files at once",
      );
      return undefined;
    }
    const overBudget = peer.allowance?.take("fileHandles", 1);
    if (overBudget !== undefined) {
      stream.reset(StreamError.refused, overBudget.message);
      return undefined;
    }
    this.#openFiles.set(peer, open + 1);
    try {
      return await work();
    } finally {
      this.#openFiles.set(peer, (this.#openFiles.get(peer) ?? 1) - 1);
      peer.allowance?.give("fileHandles", 1);
    }
  }

  /**
   * The message a peer sees for a file error. Every error is built to name only the peer's
   * path (`fileErrorFromOs()`); should one still mention the served folder's real path, the
   * peer gets a plain message instead (the log keeps the full error).
   */
  async #peerMessage(error: FileError, stream: Stream): Promise<string> {
    const roots = [resolve(this.#options.root)];
    const sandbox = await this.#sandbox?.catch(() => undefined);
    if (sandbox !== undefined) roots.push(sandbox.root);
    if (!roots.some((root) => error.message.includes(root))) return error.message;
    const path = typeof stream.head.path === "string" ? stream.head.path : "";
    return `The server could not handle ${quotePath(path)} (${error.reason}); see its log`;
  }

  #sandboxFor(peer: FilePeer): Promise<Sandbox> {
    this.#sandbox ??= Sandbox.open(this.#options.root);
    const keyRoot = peer.options.get("root");
    if (typeof keyRoot !== "string") return this.#sandbox;
    let narrowed = this.#narrowed.get(keyRoot);
    if (narrowed === undefined) {
      narrowed = this.#sandbox.then((sandbox) => sandbox.narrow(keyRoot));
      narrowed.catch(() => this.#narrowed.delete(keyRoot));
      this.#narrowed.set(keyRoot, narrowed);
    }
    return narrowed;
  }

  /** Removes stale partial uploads in `dir`, at most once an hour per folder, in the background. */
  #sweep(dir: string): void {
    const now = Date.now();
    if ((this.#swept.get(dir) ?? 0) > now - staleSweepIntervalMs) return;
    this.#swept.set(dir, now);
    removeStalePartials(
      dir,
      this.#options.partialMaxAgeMs ?? defaultPartialMaxAgeMs,
      (path) => this.#claimed.has(path),
    ).catch(() => {});
  }
}

/**
 * Resets a stream that waits on its peer for longer than a timeout. Only the time spent in
 * {@linkcode StallWatch.wait} counts: hashing or writing on the server's side never does.
 */
class StallWatch {
  #stream: Stream;
  #timeoutMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #waiting = 0;
  #since = 0;
  /** The error for the log, once the stream was reset for stalling. */
  timedOut: TimeoutError | undefined;

  constructor(stream: Stream, timeoutMs: number) {
    this.#stream = stream;
    this.#timeoutMs = timeoutMs;
  }

  /** Waits for `waiting`, resetting the stream if that takes longer than the timeout. */
  wait: PeerWait = async (waiting) => {
    if (this.#waiting++ === 0) this.#since = performance.now();
    this.#timer ??= setInterval(
      () => this.#check(),
      Math.max(1, Math.floor(this.#timeoutMs / stallChecksPerTimeout)),
    );
    try {
      return await waiting;
    } finally {
      this.#waiting--;
    }
  };

  stop(): void {
    clearInterval(this.#timer);
  }

  #check(): void {
    if (this.#waiting === 0 || performance.now() - this.#since < this.#timeoutMs) return;
    this.stop();
    const message = `no progress for ${this.#timeoutMs} ms: the peer stopped sending or ` +
      "reading, so the transfer was stopped; try again";
    this.timedOut = new TimeoutError(`File stream ${this.#stream.id}: ${message}`);
    this.#stream.reset(StreamError.cancel, message);
  }
}

function checkWritable(peer: FilePeer, path: string): void {
  if (!allowsWrite(peer.options)) {
    const option = peer.options.has("read-only") ? "read-only" : "restrict";
    throw new FileError(`This key is ${option}: it may not write ${path}`, {
      reason: "permission",
      path,
    });
  }
}

function checkReadable(peer: FilePeer, path: string): void {
  if (!allowsRead(peer.options)) {
    throw new FileError(`This key is write-only: it may not read ${path}`, {
      reason: "permission",
      path,
    });
  }
}

/** A short tag of the peer's key for state file names, so peers never share state files. */
function partialTag(fingerprint: string): string {
  return fingerprint.replace(/^SHA256:/, "").replaceAll("+", "-").replaceAll("/", "_").slice(0, 12);
}

async function listEntry(
  path: string,
  realPath: string,
  info: Deno.FileInfo,
): Promise<ListEntry | undefined> {
  const common = {
    path,
    size: info.isFile ? info.size : 0,
    mtimeMs: info.mtime?.getTime() ?? null,
    mode: info.mode === null ? null : info.mode & 0o7777,
  };
  if (info.isFile) return { ...common, type: "file" };
  if (info.isDirectory) return { ...common, type: "directory" };
  if (info.isSymlink) {
    const target = await Deno.readLink(realPath).catch(() => undefined);
    return target === undefined ? undefined : { ...common, type: "symlink", target };
  }
  return undefined; // devices, FIFOs and sockets are not listed
}

function encodeJson(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}

function encodeText(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
