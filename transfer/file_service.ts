/** The stream kinds of file operations, PUT to SYMLINK, REMOVE and RENAME. */
export const fileStreamKinds: readonly number[] = [
  StreamKind.put,
  StreamKind.get,
  StreamKind.stat,
  StreamKind.list,
  StreamKind.mkdir,
  StreamKind.symlink,
  StreamKind.remove,
  StreamKind.rename,
];

/**
 * The server side of the file operations (SPEC.md section 11): every path resolved inside the
 * served folder, key options enforced, uploads written to a partial file of their own and
 * committed whole or not at all, streams that stop making progress reset, and every error a
 * peer sees naming only the path it gave (the rule is in `files/_os_error.ts`).
 *
 * `FileService` is the entry point: the server hands it every file stream, and it gives each
 * to the handler of its kind with a {@linkcode FileRequest} (`serve_put.ts`, `serve_get.ts`,
 * `serve_stat.ts`, `serve_list.ts`, `serve_mkdir.ts`, `serve_symlink.ts`, `serve_remove.ts`,
 * `serve_rename.ts`), counting open files
 * per connection and watching for stalls (`stall_watch.ts`). The content of PUT and GET moves
 * through `content_transfer.ts`; the client's side is `upload_file.ts` and its neighbours.
 *
 * @module
 */

import { resolve } from "node:path";
import { FileError, OvtpError, ProtocolError } from "../errors.ts";
import { messageForPeer } from "../files/_os_error.ts";
import { removeStalePartials } from "../files/partial_files.ts";
import {
  defaultFileCallMode,
  type FileCallMode,
  type FileCalls,
  fileCalls,
} from "../files/file_calls.ts";
import { Sandbox } from "../files/sandbox.ts";
import { type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { fileErrorCode } from "./file_protocol.ts";
import type { FilePeer, FileRequest } from "./file_request.ts";
import { serveGet } from "./serve_get.ts";
import { serveList } from "./serve_list.ts";
import { serveMkdir } from "./serve_mkdir.ts";
import { type PartialUploads, servePut } from "./serve_put.ts";
import { serveRemove } from "./serve_remove.ts";
import { serveRename } from "./serve_rename.ts";
import { serveStat } from "./serve_stat.ts";
import { serveSymlink } from "./serve_symlink.ts";
import { StallWatch } from "./stall_watch.ts";

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
  /**
   * How the file system calls of path checks and uploads are made (`files/file_calls.ts`):
   * `"inline"` (synchronous, about 2 µs each on a local disk, but a hung file system freezes
   * the process) or `"threaded"` (on worker threads, about 25–30 µs each). Syncs to disk are
   * always threaded. Default {@linkcode defaultFileCallMode} (`"inline"`); choose `"threaded"`
   * when the root is on a network file system.
   */
  fileCalls?: FileCallMode;
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
  #calls: FileCalls;
  #sandbox: Promise<Sandbox> | undefined;
  #narrowed = new Map<string, Promise<Sandbox>>();
  #swept = new Map<string, number>();
  /** Partial files in use by a transfer of this process: never offered to another. */
  #claimed = new Set<string>();
  #uploads: PartialUploads = {
    claimed: this.#claimed,
    sweep: (dir) => this.#sweep(dir),
  };
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
    this.#calls = fileCalls(options.fileCalls ?? defaultFileCallMode);
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

  /** The file stream kinds (SPEC.md section 11): PUT to SYMLINK, REMOVE and RENAME. */
  readonly kinds: readonly number[] = fileStreamKinds;

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
    const request: FileRequest = {
      stream,
      peer,
      sandbox: () => this.#sandboxFor(peer),
      calls: this.#calls,
      wait: watch.wait,
      withOpenFile: (work) => this.#withOpenFile(stream, peer, work),
    };
    try {
      switch (stream.kind) {
        case StreamKind.put:
          return await request.withOpenFile(() => servePut(request, this.#uploads));
        case StreamKind.get:
          return await request.withOpenFile(() => serveGet(request));
        case StreamKind.stat:
          return await serveStat(request);
        case StreamKind.list:
          return await request.withOpenFile(() => serveList(request));
        case StreamKind.mkdir:
          return await serveMkdir(request);
        case StreamKind.symlink:
          return await serveSymlink(request);
        case StreamKind.remove:
          return await serveRemove(request);
        case StreamKind.rename:
          return await serveRename(request);
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
   * The message a peer sees for a file error: see the rule in `files/_os_error.ts` (the log
   * keeps the full error).
   */
  async #peerMessage(error: FileError, stream: Stream): Promise<string> {
    const roots = [resolve(this.#options.root)];
    const sandbox = await this.#sandbox?.catch(() => undefined);
    if (sandbox !== undefined) roots.push(sandbox.root);
    const path = typeof stream.head.path === "string" ? stream.head.path : "";
    return messageForPeer(error, path, roots);
  }

  #sandboxFor(peer: FilePeer): Promise<Sandbox> {
    this.#sandbox ??= Sandbox.open(this.#options.root, { calls: this.#calls });
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
