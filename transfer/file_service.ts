import { isAbsolute, join, normalize } from "node:path";
import { allowsRead, allowsWrite } from "../crypto/key_permissions.ts";
import { FileError, OvtpError, ProtocolError } from "../errors.ts";
import { fileChunkBytes, formatDigest, parseDigest } from "../files/chunk_tree.ts";
import {
  partialNames,
  readPartialState,
  removeStalePartials,
  resumableBytes,
} from "../files/partial_files.ts";
import { Sandbox } from "../files/sandbox.ts";
import { initialWindowBytes, type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { utf8Encoder } from "../wire/_bytes.ts";
import { hashPrefix, receiveFile, sendContent } from "./content_transfer.ts";
import {
  fileErrorCode,
  fileWindowBytes,
  headFlag,
  headInteger,
  headString,
  maxFileBytes,
  startOffsetBytes,
} from "./file_protocol.ts";
import { StreamReader } from "./stream_reader.ts";

/** Default age after which a partial upload is removed. */
export const defaultPartialMaxAgeMs = 24 * 60 * 60 * 1000;
/** A folder is swept for stale partial files at most this often. */
const staleSweepIntervalMs = 60 * 60 * 1000;
/** Largest number of entries one listing returns. */
export const maxListEntries = 1_000_000;
/** Listing entries are sent in writes of about this size. */
const listBatchBytes = 65536;

/** Options of {@linkcode FileService}. */
export interface FileServiceOptions {
  /** The served folder. */
  root: string;
  /** Remove partial uploads older than this. Default 24 hours. */
  partialMaxAgeMs?: number;
}

/** The authenticated peer a file operation runs for. */
export interface FilePeer {
  /** `SHA256:…` of the peer's key. */
  fingerprint: string;
  /** authorized_keys options: `read-only`, `write-only`, `restrict` (no writes), `root=…`. */
  options: ReadonlyMap<string, string | true>;
}

/** One entry of a folder listing (SPEC.md, "LIST"). */
export interface ListEntry {
  /** Path relative to the listed folder, with `/` separators. */
  path: string;
  /** What it is. */
  type: "file" | "directory" | "symlink";
  /** Size in bytes (files). */
  size: number;
  /** Modification time in ms since the epoch, or null. */
  mtimeMs: number | null;
  /** Permission bits, or null. */
  mode: number | null;
  /** The link's target (symlinks). */
  target?: string;
}

/**
 * The server side of the file operations: every path is resolved in the served folder (or the
 * narrower `root=` of the key), `read-only` and `write-only` keys are enforced, uploads land in
 * a partial file next to the destination and are renamed into place only after their digest
 * matched and the data was flushed.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * const files = new FileService({ root: "/srv/files" });
 * onStream: (stream) => files.handle(stream, { fingerprint, options });
 * ```
 */
export class FileService {
  #options: FileServiceOptions;
  #sandbox: Promise<Sandbox> | undefined;
  #narrowed = new Map<string, Promise<Sandbox>>();
  #swept = new Map<string, number>();

  /** @param options The served folder and the partial file policy. */
  constructor(options: FileServiceOptions) {
    this.#options = options;
  }

  /** True for the stream kinds this service answers. */
  static handles(kind: number): boolean {
    return kind >= StreamKind.put && kind <= StreamKind.symlink;
  }

  /**
   * Answers one file stream. Refusals and failures reset the stream with their file error code;
   * the returned promise rejects with the same error, for logging.
   */
  async handle(stream: Stream, peer: FilePeer): Promise<void> {
    try {
      switch (stream.kind) {
        case StreamKind.put:
          return await this.#put(stream, peer);
        case StreamKind.get:
          return await this.#get(stream, peer);
        case StreamKind.stat:
          return await this.#stat(stream, peer);
        case StreamKind.list:
          return await this.#list(stream, peer);
        case StreamKind.mkdir:
          return await this.#mkdir(stream, peer);
        case StreamKind.symlink:
          return await this.#symlink(stream, peer);
        default:
          stream.reset(StreamError.unsupported, `Unknown stream kind ${stream.kind}`);
      }
    } catch (error) {
      if (!stream.done) {
        if (error instanceof FileError) {
          stream.reset(fileErrorCode(error), error.message);
        } else if (error instanceof ProtocolError) {
          stream.reset(StreamError.protocol, error.message);
        } else if (!(error instanceof OvtpError)) {
          stream.reset(StreamError.internal, "The server failed; see its log");
        }
      }
      throw error;
    }
  }

  // ---- Operations ------------------------------------------------------------------------

  async #put(stream: Stream, peer: FilePeer): Promise<void> {
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
    const names = partialNames(target.dir, target.name, partialTag(peer.fingerprint));
    const resumable = size > fileChunkBytes;

    // Offer the verified prefix of an earlier partial upload of the same source.
    let offer = 0;
    let offerLeaves: Uint8Array[] = [];
    let offerRoot: Uint8Array | undefined;
    if (headFlag(head, "resume") && resumable) {
      const state = await readPartialState(names.state);
      if (state?.size === size && state.mtimeMs === (mtimeMs ?? null)) {
        const kept = Math.min(
          await resumableBytes(names.data),
          Math.floor(size / fileChunkBytes) * fileChunkBytes,
        );
        if (kept > 0) {
          const file = await Deno.open(names.data, { read: true });
          try {
            ({ leaves: offerLeaves, root: offerRoot } = await hashPrefix(file, kept, path));
            offer = kept;
          } finally {
            file.close();
          }
        }
      }
    }
    stream.reply({ offset: offer, ...(offerRoot ? { prefix: formatDigest(offerRoot) } : {}) });
    // Small files fit the initial window: no window update needed.
    if (size - offer > initialWindowBytes) stream.setWindow(fileWindowBytes);

    const reader = new StreamReader(stream);
    const startBytes = await reader.readExact(startOffsetBytes);
    const start = Number(new DataView(startBytes.buffer).getBigUint64(0));
    if (start !== 0 && start !== offer) {
      throw new ProtocolError(`Upload of ${path} starts at ${start}, but ${offer} was offered`);
    }
    const root = await receiveFile(reader, {
      partial: names,
      destination: target.path,
      size,
      start,
      prefixLeaves: start > 0 ? offerLeaves : [],
      mtimeMs,
      mode,
      overwrite,
      preserve,
      path,
      beforeCommit: () => sandbox.recheckDirectory(target.dir),
    });
    await stream.write(encodeJson({ size, digest: formatDigest(root) }), { end: true });
  }

  async #get(stream: Stream, peer: FilePeer): Promise<void> {
    const head = stream.head;
    const path = headString(head, "path");
    const offset = headInteger(head, "offset", maxFileBytes, true) ?? 0;
    const prefix = head.prefix === undefined ? undefined : parseDigest(headString(head, "prefix"));
    checkReadable(peer, path);
    const sandbox = await this.#sandboxFor(peer);
    const resolved = await sandbox.resolveForRead(path);
    const file = await openForRead(resolved.path, path);
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
      await sendContent(stream, file, { start, size, prefixLeaves: leaves, path });
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
      const file = await openForRead(resolved.path, path);
      try {
        const size = (await file.stat()).size;
        digest = formatDigest((await hashPrefix(file, size, path)).root);
      } finally {
        file.close();
      }
    }
    stream.reply({
      type: info.isDirectory ? "directory" : "file",
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? null,
      mode: info.mode === null ? null : info.mode & 0o7777,
      ...(digest === undefined ? {} : { digest }),
    }, { end: true });
  }

  async #list(stream: Stream, peer: FilePeer): Promise<void> {
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
      await stream.write(batch);
    };
    const folders = [""];
    while (folders.length > 0) {
      const relative = folders.pop()!;
      const real = relative === "" ? resolved.path : join(resolved.path, relative);
      for await (const item of Deno.readDir(real)) {
        const itemPath = relative === "" ? item.name : `${relative}/${item.name}`;
        const info = await Deno.lstat(join(real, item.name)).catch(() => undefined);
        if (info === undefined) continue;
        const entry = await listEntry(itemPath, join(real, item.name), info);
        if (entry === undefined) continue;
        if (++count > maxListEntries) {
          throw new FileError(
            `${path} has more than ${maxListEntries} entries; list a sub-folder`,
            {
              reason: "unsupported_type",
              path,
            },
          );
        }
        if (entry.type === "directory") folders.push(itemPath);
        const line = JSON.stringify(entry) + "\n";
        pending.push(line);
        pendingBytes += line.length;
        if (pendingBytes >= listBatchBytes) await flush();
      }
    }
    await flush();
    await stream.end();
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
    await mapFsError(path, () => Deno.mkdir(target.path, { mode: mode ?? 0o755 }));
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
    const resolvedTarget = normalize(join(target.dir, linkTarget));
    if (
      linkTarget === "" || linkTarget.includes("\0") || isAbsolute(linkTarget) ||
      !isInside(sandbox.root, resolvedTarget)
    ) {
      throw new FileError(
        `The link ${path} -> ${linkTarget} would point outside the served folder; links must be relative and stay inside`,
        { reason: "outside_root", path },
      );
    }
    if (target.existing !== null) {
      throw new FileError(`${path} exists on the server`, { reason: "exists", path });
    }
    await mapFsError(path, () => Deno.symlink(linkTarget, target.path));
    stream.reply({}, { end: true });
  }

  // ---- Helpers ---------------------------------------------------------------------------

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
    removeStalePartials(dir, this.#options.partialMaxAgeMs ?? defaultPartialMaxAgeMs).catch(
      () => {},
    );
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

/** A short tag of the peer's key for partial file names, so peers never share partial files. */
function partialTag(fingerprint: string): string {
  return fingerprint.replace(/^SHA256:/, "").replaceAll("+", "-").replaceAll("/", "_").slice(0, 12);
}

async function openForRead(realPath: string, path: string): Promise<Deno.FsFile> {
  return await mapFsError(path, async () => {
    const file = await Deno.open(realPath, { read: true });
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      throw new FileError(`${path} is not a regular file`, { reason: "unsupported_type", path });
    }
    return file;
  });
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

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

async function mapFsError<T>(path: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof OvtpError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new FileError(`${path} does not exist on the server`, { reason: "not_found", path });
    }
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new FileError(`${path} exists on the server`, { reason: "exists", path });
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new FileError(`The server may not access ${path}`, { reason: "permission", path });
    }
    throw new FileError(`The server could not access ${path}: ${(error as Error).message}`, {
      reason: "io",
      path,
      cause: error,
    });
  }
}

function encodeJson(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}

function encodeText(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}
