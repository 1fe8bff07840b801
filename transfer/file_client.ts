import { basename, dirname, join } from "node:path";
import { FileError, ProtocolError } from "../errors.ts";
import { fileChunkBytes, formatDigest, hashFile, parseDigest } from "../files/chunk_tree.ts";
import { partialNames, resumableBytes } from "../files/partial_files.ts";
import { Sandbox } from "../files/sandbox.ts";
import type { Channel } from "../session/channel.ts";
import { type Head, type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { utf8Decoder } from "../wire/_bytes.ts";
import { hashPrefix, receiveFile, sendContent, type TransferProgress } from "./content_transfer.ts";
import {
  fileWindowBytes,
  headInteger,
  headString,
  maxFileBytes,
  remoteFileError,
  startOffsetBytes,
} from "./file_protocol.ts";
import type { ListEntry } from "./file_service.ts";
import { ListParser } from "./list_parser.ts";
import { StreamReader } from "./stream_reader.ts";

/** Options of the file operations. */
export interface FileTransferOptions {
  /** Replace an existing destination. Default false: an existing one is an error. */
  overwrite?: boolean;
  /** Give the copy the source's permission bits and modification time. Default false. */
  preserve?: boolean;
  /** Continue an interrupted transfer from its last verified chunk. Default false. */
  resume?: boolean;
  /** Send symbolic links as links instead of the files they point to. Default false. */
  keepSymlinks?: boolean;
  /** Folders only: skip files whose size and digest already match. Never deletes. */
  sync?: boolean;
  /** Folders only: files moved at once. Default 16. */
  concurrency?: number;
  /** Called as bytes move. */
  onProgress?: (progress: TransferProgress) => void;
  /** Stops the transfer; the destination stays as it was. */
  signal?: AbortSignal;
}

/** What a file operation did. */
export interface TransferResult {
  /** Files moved. */
  files: number;
  /** Files skipped because they already matched (sync). */
  skipped: number;
  /** Content bytes moved over the connection. */
  bytes: number;
  /** Content bytes not moved because a partial copy was resumed. */
  resumedBytes: number;
  /** Chunk-tree digest of the file (single files only), as lowercase hex. */
  digest?: string;
}

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

const defaultConcurrency = 16;
const maxResultBytes = 65536;

/** Counts bytes for progress callbacks across one or many files. */
class Progress {
  #options: FileTransferOptions;
  #started = performance.now();
  bytesDone = 0;
  totalBytes: number;

  constructor(options: FileTransferOptions, totalBytes: number) {
    this.#options = options;
    this.totalBytes = totalBytes;
  }

  add(path: string, bytes: number): void {
    this.bytesDone += bytes;
    const onProgress = this.#options.onProgress;
    if (onProgress === undefined) return;
    const seconds = (performance.now() - this.#started) / 1000;
    onProgress({
      path,
      bytesDone: this.bytesDone,
      totalBytes: this.totalBytes,
      bytesPerSecond: seconds > 0 ? this.bytesDone / seconds : 0,
    });
  }
}

/**
 * Uploads one file. Without `resume`, the content follows the request at once (no round trip
 * before the data); with it, the client first checks the server's kept prefix against its own.
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
  progress?: Progress,
  parents = false,
): Promise<TransferResult> {
  if (options.keepSymlinks && (await Deno.lstat(localPath).catch(() => undefined))?.isSymlink) {
    await makeRemoteLink(channel, remotePath, await Deno.readLink(localPath), false);
    return { files: 1, skipped: 0, bytes: 0, resumedBytes: 0 };
  }
  const file = await openLocal(localPath);
  let stream: Stream | undefined;
  try {
    const info = await file.stat();
    const size = info.size;
    const tracker = progress ?? new Progress(options, size);
    const resume = options.resume === true && size > fileChunkBytes;
    stream = await channel.openStream(StreamKind.put, {
      path: remotePath,
      size,
      mtimeMs: info.mtime?.getTime() ?? null,
      mode: info.mode === null ? null : info.mode & 0o7777,
      overwrite: options.overwrite === true,
      preserve: options.preserve === true,
      resume,
      parents,
    });
    const active = stream;
    return await withAbort(active, options.signal, async () => {
      let start = 0;
      let leaves: Uint8Array[] = [];
      if (resume) {
        const reply = await active.replyHead();
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
      const startBytes = new Uint8Array(startOffsetBytes);
      new DataView(startBytes.buffer).setBigUint64(0, BigInt(start));
      await active.write(startBytes);
      const root = await sendContent(active, file, {
        start,
        size,
        prefixLeaves: leaves,
        path: localPath,
        onBytes: (bytes) => tracker.add(localPath, bytes),
        signal: options.signal,
      });
      if (!resume) await active.replyHead();
      const result = parseJson(await active.readAll(maxResultBytes));
      if (result.digest !== formatDigest(root)) {
        throw new ProtocolError(`The server confirmed a different digest for ${remotePath}`);
      }
      return {
        files: 1,
        skipped: 0,
        bytes: size - start,
        resumedBytes: start,
        digest: formatDigest(root),
      };
    });
  } catch (error) {
    throw remoteFileError(error, remotePath);
  } finally {
    file.close();
  }
}

/**
 * Downloads one file into a partial file next to `localPath`, checks its digest, flushes it and
 * renames it into place. An existing folder as `localPath` receives the file under its remote
 * name.
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
  progress?: Progress,
): Promise<TransferResult> {
  let destination = localPath;
  const existing = await Deno.stat(destination).catch(() => undefined);
  if (existing?.isDirectory) destination = join(destination, basename(remotePath));
  const current = await Deno.lstat(destination).catch(() => undefined);
  if (current !== undefined && !options.overwrite) {
    throw new FileError(`${destination} exists; ask to overwrite it to replace it`, {
      reason: "exists",
      path: destination,
    });
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
  let stream: Stream | undefined;
  try {
    stream = await channel.openStream(StreamKind.get, head, { end: true });
    stream.setWindow(fileWindowBytes);
    const active = stream;
    return await withAbort(active, options.signal, async () => {
      const reply = await active.replyHead();
      const size = headInteger(reply, "size", maxFileBytes);
      const start = headInteger(reply, "offset", size);
      if (start !== 0 && start !== offset) {
        throw new ProtocolError(`The server resumes ${remotePath} at ${start}, not ${offset}`);
      }
      const mtimeMs = headInteger(reply, "mtimeMs", maxFileBytes, true);
      const mode = headInteger(reply, "mode", 0o7777, true);
      const tracker = progress ?? new Progress(options, size);
      if (start > 0) tracker.totalBytes -= start;
      const root = await receiveFile(new StreamReader(active), {
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
        onBytes: (bytes) => tracker.add(remotePath, bytes),
      });
      return {
        files: 1,
        skipped: 0,
        bytes: size - start,
        resumedBytes: start,
        digest: formatDigest(root),
      };
    });
  } catch (error) {
    throw remoteFileError(error, remotePath);
  }
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
  const reply = await ask(channel, StreamKind.stat, { path: remotePath, hash: digest });
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

/** A file operation that is one request head and one reply head: opens it, returns the reply. */
async function ask(channel: Channel, kind: number, head: Head): Promise<Head> {
  const path = String(head.path);
  try {
    const stream = await channel.openStream(kind, head, { end: true });
    const reply = await stream.replyHead();
    await stream.readAll(0);
    return reply;
  } catch (error) {
    throw remoteFileError(error, path);
  }
}

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
  const tree = await walkLocal(localDir, options.keepSymlinks === true);
  const progress = new Progress(
    options,
    tree.files.reduce((sum, file) => sum + file.size, 0),
  );
  const remote = (relative: string) => relative === "" ? remoteDir : `${remoteDir}/${relative}`;
  await makeRemoteDirectory(channel, remoteDir);
  for (const folder of tree.folders) await makeRemoteDirectory(channel, remote(folder));
  const result: TransferResult = { files: 0, skipped: 0, bytes: 0, resumedBytes: 0 };
  await runPool(tree.links, options.concurrency ?? defaultConcurrency, async (link) => {
    options.signal?.throwIfAborted();
    await makeRemoteLink(channel, remote(link.path), link.target, options.overwrite === true);
  });
  await runPool(tree.files, options.concurrency ?? defaultConcurrency, async (file) => {
    options.signal?.throwIfAborted();
    if (
      options.sync && await remoteMatches(channel, file.localPath, remote(file.path), file.size)
    ) {
      result.skipped++;
      progress.add(file.localPath, file.size);
      return;
    }
    const one = await uploadFile(channel, file.localPath, remote(file.path), {
      ...options,
      overwrite: options.overwrite === true || options.sync === true,
    }, progress);
    result.files++;
    result.bytes += one.bytes;
    result.resumedBytes += one.resumedBytes;
  });
  return result;
}

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
  const progress = new Progress(
    options,
    files.reduce((sum, entry) => sum + entry.size, 0),
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
  const result: TransferResult = { files: 0, skipped: 0, bytes: 0, resumedBytes: 0 };
  const remote = (relative: string) => `${remoteDir}/${relative}`;
  await runPool(files, options.concurrency ?? defaultConcurrency, async (entry) => {
    options.signal?.throwIfAborted();
    const target = await sandbox.resolveForWrite(entry.path, { createParents: true });
    if (options.sync && target.existing?.isFile && target.existing.size === entry.size) {
      const [local, theirs] = await Promise.all([
        hashFile(target.path),
        statRemote(channel, remote(entry.path), true),
      ]);
      if (theirs.digest === formatDigest(local.root)) {
        result.skipped++;
        progress.add(target.path, entry.size);
        return;
      }
    }
    const one = await downloadFile(channel, remote(entry.path), target.path, {
      ...options,
      overwrite: options.overwrite === true || options.sync === true,
    }, progress);
    result.files++;
    result.bytes += one.bytes;
    result.resumedBytes += one.resumedBytes;
  });
  return result;
}

/**
 * Lists a remote folder recursively. The listing is checked as it arrives
 * ({@linkcode ListParser}): a line over 64 KiB, more than 1,000,000 entries or an invalid entry
 * resets the stream and throws a {@linkcode ProtocolError}.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * const entries = await listRemote(channel, "www");
 * ```
 */
export async function listRemote(channel: Channel, remoteDir: string): Promise<ListEntry[]> {
  let stream: Stream | undefined;
  try {
    stream = await channel.openStream(StreamKind.list, { path: remoteDir }, { end: true });
    await stream.replyHead();
    const parser = new ListParser();
    for (let chunk = await stream.read(); chunk !== null; chunk = await stream.read()) {
      parser.push(chunk);
      stream.release(chunk); // the parser keeps copies of what it still needs
    }
    return parser.finish();
  } catch (error) {
    // A listing we refuse stops here: the server need not send the rest.
    if (stream !== undefined && !stream.done) {
      stream.reset(StreamError.protocol, "the listing was refused");
    }
    throw remoteFileError(error, remoteDir);
  }
}

async function makeRemoteDirectory(channel: Channel, remotePath: string): Promise<void> {
  await ask(channel, StreamKind.mkdir, { path: remotePath });
}

async function makeRemoteLink(
  channel: Channel,
  remotePath: string,
  target: string,
  overwrite: boolean,
): Promise<void> {
  try {
    await ask(channel, StreamKind.symlink, { path: remotePath, target, overwrite });
  } catch (error) {
    if (error instanceof FileError && error.reason === "exists") return;
    throw error;
  }
}

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

interface LocalTree {
  folders: string[];
  files: { path: string; localPath: string; size: number }[];
  links: { path: string; target: string }[];
}

/** Walks a local folder: relative paths with `/`, folders before their contents. */
async function walkLocal(root: string, keepSymlinks: boolean): Promise<LocalTree> {
  const tree: LocalTree = { folders: [], files: [], links: [] };
  const seen = new Set<string>([await Deno.realPath(root)]);
  const pending = [""];
  while (pending.length > 0) {
    const relative = pending.shift()!;
    const folder = relative === "" ? root : join(root, relative);
    const names: string[] = [];
    for await (const entry of Deno.readDir(folder)) names.push(entry.name);
    names.sort();
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const localPath = join(folder, name);
      const linkInfo = await Deno.lstat(localPath);
      if (linkInfo.isSymlink && keepSymlinks) {
        tree.links.push({ path, target: await Deno.readLink(localPath) });
        continue;
      }
      const info = linkInfo.isSymlink
        ? await Deno.stat(localPath).catch(() => undefined)
        : linkInfo;
      if (info?.isFile) {
        tree.files.push({ path, localPath, size: info.size });
      } else if (info?.isDirectory) {
        const real = await Deno.realPath(localPath);
        if (seen.has(real)) continue; // a link back up the tree
        seen.add(real);
        tree.folders.push(path);
        pending.push(path);
      }
    }
  }
  return tree;
}

async function openLocal(path: string): Promise<Deno.FsFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "not_found"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission"
      : "io";
    throw new FileError(`Cannot read ${path}: ${(error as Error).message}`, {
      reason,
      path,
      cause: error,
    });
  }
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    throw new FileError(`${path} is not a regular file; use a folder transfer for folders`, {
      reason: "unsupported_type",
      path,
    });
  }
  return file;
}

/** Resets the stream when `signal` aborts, so writes and reads stop at once. */
async function withAbort<T>(
  stream: Stream,
  signal: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  const onAbort = () => {
    if (!stream.done) stream.reset(StreamError.cancel, "the transfer was aborted");
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await work();
  } catch (error) {
    if (!stream.done) stream.reset(StreamError.cancel, "the transfer failed");
    if (signal?.aborted) throw signal.reason ?? error;
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Runs `work` on every item with at most `concurrency` at once; fails with the first error. */
async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
  if (failure !== undefined) throw failure;
}

function parseJson(bytes: Uint8Array): Head {
  try {
    const value = JSON.parse(utf8Decoder.decode(bytes));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // Reported below.
  }
  throw new ProtocolError("The server's upload confirmation is not a JSON object");
}
