/**
 * Writes a file so that it appears whole or not at all: the bytes go to a partial file in the
 * destination's folder, and only once they are verified and synced is the partial file moved
 * into place; and only the very file that was written (checked by inode right before the move),
 * never whatever someone put at the partial file's path meanwhile.
 *
 * Why this file is over 450 lines: it is one class with one explicit state (open, committing,
 * committed, failed, aborted) that every method checks, so it reads best whole; about a third
 * of it is documentation and runnable examples.
 *
 * @module
 */

import { dirname } from "node:path";
import { FileError } from "../errors.ts";
import { fileErrorFromOs, quotePath } from "./_os_error.ts";
import { type FileCallMode, type FileCalls, fileCalls } from "./file_calls.ts";
import { SharedRuns } from "./shared_runs.ts";

/**
 * Default size of the write buffer, in bytes (1 MiB): every file write is a trip to a worker
 * thread, so small writes are gathered.
 *
 * @example The default
 * ```ts
 * import { defaultWriteBufferBytes } from "./atomic_writer.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(defaultWriteBufferBytes, 1048576);
 * ```
 */
export const defaultWriteBufferBytes = 1048576;

/** Largest write buffer accepted, in bytes. */
const maxWriteBufferBytes = 64 * 1048576;

/** Mode of a partial file when it is created; it keeps it until the commit. */
const partialFileMode = 0o600;

/** The permission bits a commit applies: never set-user-ID, set-group-ID or sticky. */
const permissionBitsMask = 0o777;

/** Options for {@linkcode AtomicFileWriter.open}. */
export interface AtomicWriterOptions {
  /**
   * The partial file, in the destination's folder (see `partialNames()`). Starting fresh, any
   * file there is removed and a new one is created (mode 0600), so nothing is written through a
   * symlink or into another file's hard link.
   */
  partialPath: string;
  /**
   * Keep this many bytes of the existing partial file (resume): it must be a regular file of
   * at least this size, with no other hard link; it is truncated to this length. Default 0:
   * start fresh.
   */
  keepBytes?: number;
  /** Size of the write buffer, in bytes. Default {@linkcode defaultWriteBufferBytes}. */
  bufferBytes?: number;
  /**
   * The path to name in error messages, e.g. the path a peer gave: the partial file's and the
   * destination's real paths never appear in them. Default: `partialPath`.
   */
  displayPath?: string;
  /**
   * How the calls that create, check and move the partial file are made (`file_calls.ts`);
   * syncing to disk is always on a worker thread. Default: `fileCalls("threaded")`.
   */
  calls?: FileCalls;
}

/** Options for {@linkcode AtomicFileWriter.commit}. */
export interface CommitOptions {
  /** Replace an existing destination (rename); otherwise fail with `exists` (hard link). */
  overwrite: boolean;
  /**
   * Permission bits to give the file, e.g. `0o644`. Only `mode & 0o777` is applied: the
   * set-user-ID, set-group-ID and sticky bits never are. Ignored on Windows. Without it the file
   * keeps mode 0600.
   */
  mode?: number;
  /** Modification time to give the file. */
  mtime?: Date;
  /** Called right before the move, e.g. to run `Sandbox.recheckDirectory()`; may throw. */
  beforeCommit?: () => Promise<void>;
}

/** Options for {@linkcode AtomicFileWriter.abort}. */
export interface AbortOptions {
  /** Keep the partial file (with the buffered bytes written) to resume later. Default: false. */
  keepPartial?: boolean;
}

type WriterState = "open" | "committing" | "committed" | "failed" | "aborted";

/**
 * Writes a file through a partial file next to it, then moves it into place with
 * {@linkcode AtomicFileWriter.commit}: a hard link when the destination must not be replaced
 * (which fails atomically if it exists), a rename when it may.
 *
 * Writes are buffered ({@linkcode defaultWriteBufferBytes}) and taken in call order; a failed
 * write makes every later call fail the same way.
 *
 * @example Write a file atomically
 * ```ts
 * import { AtomicFileWriter } from "./atomic_writer.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.txt.part") });
 *   try {
 *     await writer.write(new TextEncoder().encode("hello "));
 *     await writer.write(new TextEncoder().encode("world"));
 *     await writer.commit(join(dir, "a.txt"), { overwrite: false });
 *   } finally {
 *     await writer.abort();
 *   }
 *   assert.equal(await Deno.readTextFile(join(dir, "a.txt")), "hello world");
 *   assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["a.txt"]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class AtomicFileWriter {
  readonly #partialPath: string;
  readonly #displayPath: string;
  readonly #calls: FileCalls;
  #file: Deno.FsFile | undefined;
  readonly #bufferBytes: number;
  #buffer: Uint8Array | undefined;
  #buffered = 0;
  #bytesWritten: number;
  #state: WriterState = "open";
  #tail: Promise<void> = Promise.resolve();

  private constructor(
    partialPath: string,
    displayPath: string,
    file: Deno.FsFile,
    keepBytes: number,
    bufferBytes: number,
    calls: FileCalls,
  ) {
    this.#calls = calls;
    this.#partialPath = partialPath;
    this.#displayPath = displayPath;
    this.#file = file;
    this.#bytesWritten = keepBytes;
    this.#bufferBytes = bufferBytes;
  }

  /**
   * Opens the partial file: creates it afresh, or keeps its first `keepBytes` bytes to resume.
   *
   * @param options The partial file, the bytes to keep and the buffer size.
   * @returns A writer positioned at `keepBytes`.
   * @throws {RangeError} If `keepBytes` or `bufferBytes` is out of range.
   * @throws {FileError} `changed` if a partial file to resume is missing, shorter than
   * `keepBytes`, or shared with another hard link; `unsupported_type` if something other than
   * a regular file is in the way; `permission` or `io` from the file system.
   *
   * @example Resume a partial file
   * ```ts
   * import { AtomicFileWriter } from "./atomic_writer.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const partialPath = join(dir, ".a.part");
   *   await Deno.writeTextFile(partialPath, "hello, garbage");
   *   const writer = await AtomicFileWriter.open({ partialPath, keepBytes: 5 });
   *   await writer.write(new TextEncoder().encode(" world"));
   *   assert.equal(writer.bytesWritten, 11);
   *   await writer.commit(join(dir, "a.txt"), { overwrite: false });
   *   assert.equal(await Deno.readTextFile(join(dir, "a.txt")), "hello world");
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  static async open(options: AtomicWriterOptions): Promise<AtomicFileWriter> {
    const { partialPath, keepBytes = 0, bufferBytes = defaultWriteBufferBytes } = options;
    const displayPath = options.displayPath ?? partialPath;
    if (typeof partialPath !== "string" || partialPath === "") {
      throw new TypeError("AtomicFileWriter.open() needs a partialPath");
    }
    if (!Number.isSafeInteger(keepBytes) || keepBytes < 0) {
      throw new RangeError(`AtomicFileWriter.open(): keepBytes ${keepBytes} is out of range`);
    }
    if (
      !Number.isSafeInteger(bufferBytes) || bufferBytes < 1 || bufferBytes > maxWriteBufferBytes
    ) {
      throw new RangeError(
        `AtomicFileWriter.open(): bufferBytes ${bufferBytes} is not between 1 and ` +
          `${maxWriteBufferBytes}`,
      );
    }
    const calls = options.calls ?? fileCalls("threaded");
    const file = keepBytes === 0
      ? await createFresh(partialPath, displayPath, calls)
      : await openToResume(partialPath, keepBytes, displayPath, calls);
    return new AtomicFileWriter(partialPath, displayPath, file, keepBytes, bufferBytes, calls);
  }

  /**
   * Bytes in the partial file once the buffer is written: the kept bytes plus every byte
   * given to {@linkcode AtomicFileWriter.write}.
   *
   * @returns The count, in bytes.
   */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /**
   * Appends bytes. Small pieces are copied into the buffer, which is written when full; a piece
   * at least as large as the buffer is written directly. Do not change `bytes` until the
   * returned promise settles.
   *
   * @param bytes The next bytes of the file.
   * @returns A promise that settles once the bytes are buffered or written.
   * @throws {FileError} (rejected) `io` or `permission` if the file system refuses the write.
   * @throws {TypeError} (rejected) After {@linkcode AtomicFileWriter.commit} or
   * {@linkcode AtomicFileWriter.abort}.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#state !== "open") return Promise.reject(this.#closedError("write"));
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError("AtomicFileWriter.write() takes a Uint8Array"));
    }
    this.#bytesWritten += bytes.length;
    return this.#enqueue(() => this.#append(bytes));
  }

  /**
   * Writes the buffer and syncs the file's data to disk, so that a crash after this keeps it.
   *
   * @returns A promise that settles once the data is on disk.
   * @throws {FileError} (rejected) `io` or `permission` if the file system refuses.
   */
  flush(): Promise<void> {
    if (this.#state !== "open") return Promise.reject(this.#closedError("flush"));
    return this.#enqueue(() => this.#flush());
  }

  /**
   * Flushes, calls `beforeCommit()`, applies `mtime` and `mode & 0o777` to the partial file,
   * checks that the partial file's path still names the file this writer wrote (the open
   * handle's inode and device against an `lstat` of the path), then moves it to `destination`:
   * with `overwrite: false` a hard link (which fails if the destination exists) and the partial
   * file's removal, with `overwrite: true` a rename. The file is closed after the move (so its
   * inode cannot be reused before the check), and the folder synced where the platform allows.
   *
   * On a file system without hard links, a check that the destination does not exist followed
   * by a rename is used instead (not atomic against a local process creating it meanwhile).
   *
   * @param destination The final path, in the partial file's folder.
   * @param options Whether to replace, the mode, the mtime and the last-moment check.
   * @returns A promise that settles once the file is in place.
   * @throws {FileError} (rejected) `exists` if the destination exists without `overwrite` (it
   * is left unchanged), `unsupported_type` if it is a folder, `changed` if something else now
   * sits at the partial file's path (nothing is moved), whatever `beforeCommit` throws,
   * `permission` or `io`. The partial file is kept: call {@linkcode AtomicFileWriter.abort}.
   *
   * @example Replace an existing file
   * ```ts
   * import { AtomicFileWriter } from "./atomic_writer.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   await Deno.writeTextFile(join(dir, "a.txt"), "old");
   *   const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
   *   await writer.write(new TextEncoder().encode("new"));
   *   await writer.commit(join(dir, "a.txt"), { overwrite: true, mtime: new Date(0) });
   *   assert.equal(await Deno.readTextFile(join(dir, "a.txt")), "new");
   *   assert.equal((await Deno.stat(join(dir, "a.txt"))).mtime?.getTime(), 0);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  commit(destination: string, options: CommitOptions): Promise<void> {
    if (this.#state !== "open") return Promise.reject(this.#closedError("commit"));
    const { overwrite, mode, mtime, beforeCommit } = options;
    if (typeof destination !== "string" || destination === "") {
      return Promise.reject(new TypeError("AtomicFileWriter.commit() needs a destination"));
    }
    if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
      return Promise.reject(new RangeError(`AtomicFileWriter.commit(): mode ${mode} is invalid`));
    }
    if (mtime !== undefined && !(mtime instanceof Date && Number.isFinite(mtime.getTime()))) {
      return Promise.reject(new RangeError("AtomicFileWriter.commit(): mtime is not a valid Date"));
    }
    this.#state = "committing";
    return this.#enqueue(async () => {
      try {
        await this.#flush();
        await beforeCommit?.();
        await this.#applyAttributes(mode, mtime);
        await this.#checkIdentity();
        await (overwrite ? this.#rename(destination) : this.#link(destination));
        this.#state = "committed";
        this.#closeFile();
      } catch (error) {
        this.#state = "failed";
        throw error;
      }
      await folderSyncs[this.#calls.mode].run(dirname(destination));
    });
  }

  /**
   * Closes the partial file and removes it, unless `keepPartial` (then the buffered bytes are
   * written first, as far as possible). Does nothing after a successful commit or a previous
   * abort, and never throws: a partial file that cannot be removed is left for
   * `removeStalePartials()`.
   *
   * @param options Whether to keep the partial file to resume later.
   * @returns A promise that settles once the file is closed (and removed).
   *
   * @example Keep a partial file to resume
   * ```ts
   * import { AtomicFileWriter } from "./atomic_writer.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const partialPath = join(dir, ".a.part");
   *   const writer = await AtomicFileWriter.open({ partialPath });
   *   await writer.write(new Uint8Array(10));
   *   await writer.abort({ keepPartial: true });
   *   assert.equal((await Deno.stat(partialPath)).size, 10);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  abort(options: AbortOptions = {}): Promise<void> {
    const keepPartial = options.keepPartial ?? false;
    const run = this.#tail.catch(() => {}).then(async () => {
      if (this.#state === "committed" || this.#state === "aborted") return;
      this.#state = "aborted";
      if (keepPartial && this.#file !== undefined) {
        try {
          await this.#flush();
        } catch {
          // The bytes that could not be written are simply not resumed.
        }
      }
      this.#closeFile();
      if (!keepPartial) {
        try {
          await this.#calls.remove(this.#partialPath);
        } catch {
          // Missing already, or left for removeStalePartials().
        }
      }
    });
    this.#tail = run;
    return run;
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#tail = this.#tail.then(task);
    return this.#tail;
  }

  async #append(bytes: Uint8Array): Promise<void> {
    const size = this.#bufferBytes;
    let offset = 0;
    if (this.#buffered > 0) {
      offset = Math.min(size - this.#buffered, bytes.length);
      this.#buffer!.set(bytes.subarray(0, offset), this.#buffered);
      this.#buffered += offset;
      if (this.#buffered < size) return;
      await this.#writeAll(this.#buffer!);
      this.#buffered = 0;
    }
    const rest = bytes.length - offset;
    if (rest >= size) {
      await this.#writeAll(bytes.subarray(offset));
    } else if (rest > 0) {
      this.#buffer ??= new Uint8Array(size);
      this.#buffer.set(bytes.subarray(offset), 0);
      this.#buffered = rest;
    }
  }

  async #flush(): Promise<void> {
    if (this.#buffered > 0) {
      await this.#writeAll(this.#buffer!.subarray(0, this.#buffered));
      this.#buffered = 0;
    }
    try {
      await this.#file!.syncData();
    } catch (error) {
      throw fileErrorFromOs(error, this.#displayPath, "Cannot write");
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    const file = this.#file!;
    try {
      let written = 0;
      while (written < bytes.length) {
        written += await this.#calls.write(file, bytes.subarray(written));
      }
    } catch (error) {
      throw fileErrorFromOs(error, this.#displayPath, "Cannot write");
    }
  }

  async #applyAttributes(mode: number | undefined, mtime: Date | undefined): Promise<void> {
    try {
      if (mtime !== undefined) await this.#calls.utime(this.#file!, new Date(), mtime);
      // Deno has no fchmod(): by path, and checkIdentity() follows before the move.
      if (mode !== undefined && Deno.build.os !== "windows") {
        await this.#calls.chmod(this.#partialPath, mode & permissionBitsMask);
      }
    } catch (error) {
      throw fileErrorFromOs(error, this.#displayPath, "Cannot set the mode or time of");
    }
  }

  /** Refuses to move anything but the file this writer wrote (same inode and device). */
  async #checkIdentity(): Promise<void> {
    let written: Deno.FileInfo;
    let atPath: Deno.FileInfo;
    try {
      [written, atPath] = await Promise.all([
        this.#calls.stat(this.#file!),
        this.#calls.lstat(this.#partialPath),
      ]);
    } catch (error) {
      throw new FileError(
        `Cannot save ${quotePath(this.#displayPath)}: its partial file is gone; send it again`,
        { reason: "changed", path: this.#displayPath, cause: error },
      );
    }
    if (written.ino === null || written.dev === null) return; // Windows: nothing to compare.
    if (!atPath.isFile || atPath.ino !== written.ino || atPath.dev !== written.dev) {
      throw new FileError(
        `Cannot save ${quotePath(this.#displayPath)}: its partial file was replaced while it ` +
          "was written; nothing was saved, send it again",
        { reason: "changed", path: this.#displayPath },
      );
    }
  }

  async #rename(destination: string): Promise<void> {
    try {
      await this.#calls.rename(this.#partialPath, destination);
    } catch (error) {
      throw fileErrorFromOs(error, this.#displayPath, "Cannot save");
    }
  }

  async #link(destination: string): Promise<void> {
    try {
      await this.#calls.link(this.#partialPath, destination);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) throw existsError(this.#displayPath, error);
      if (error instanceof Deno.errors.NotFound) {
        throw fileErrorFromOs(error, this.#displayPath, "Cannot save");
      }
      // Perhaps no hard links here (FAT, some network file systems): check, then rename.
      if (await pathExists(destination, this.#calls)) throw existsError(this.#displayPath, error);
      await this.#rename(destination);
      return;
    }
    try {
      await this.#calls.remove(this.#partialPath);
    } catch {
      // The file is saved. The extra link is harmless: open() never reuses a file with two
      // links, and removeStalePartials() removes it later.
    }
  }

  #closeFile(): void {
    const file = this.#file;
    this.#file = undefined;
    try {
      file?.close();
    } catch {
      // Already closed.
    }
  }

  #closedError(method: string): TypeError {
    return new TypeError(
      `AtomicFileWriter.${method}() called after commit() or abort(); open a new writer`,
    );
  }
}

async function createFresh(
  partialPath: string,
  displayPath: string,
  calls: FileCalls,
): Promise<Deno.FsFile> {
  const create = () =>
    calls.open(partialPath, { write: true, createNew: true, mode: partialFileMode });
  try {
    // Usually the name is new: one system call. Otherwise remove what is there (never write
    // through it: it may be a link) and create again.
    return await create();
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw fileErrorFromOs(error, displayPath, "Cannot create the partial file of");
    }
  }
  try {
    const info = await calls.lstatOrNull(partialPath);
    if (info?.isDirectory) throw inTheWay(displayPath, "a folder");
    if (info !== null) await calls.remove(partialPath);
    return await create();
  } catch (error) {
    throw fileErrorFromOs(error, displayPath, "Cannot create the partial file of");
  }
}

async function openToResume(
  partialPath: string,
  keepBytes: number,
  displayPath: string,
  calls: FileCalls,
): Promise<Deno.FsFile> {
  let file: Deno.FsFile | undefined;
  try {
    const before = await calls.lstatOrNull(partialPath);
    if (before === null) throw changed(displayPath, "it is gone");
    if (!before.isFile) throw inTheWay(displayPath, "not a regular file");
    file = await calls.open(partialPath, { write: true });
    const info = await calls.stat(file);
    if (info.ino !== before.ino || info.dev !== before.dev) {
      throw changed(displayPath, "it was replaced while being opened");
    }
    if ((info.nlink ?? 1) > 1) throw changed(displayPath, "it has another hard link");
    if (info.size < keepBytes) {
      throw changed(displayPath, `it has ${info.size} bytes, fewer than the ${keepBytes} to keep`);
    }
    await file.truncate(keepBytes);
    await file.seek(keepBytes, Deno.SeekMode.Start);
    return file;
  } catch (error) {
    file?.close();
    throw fileErrorFromOs(error, displayPath, "Cannot resume");
  }
}

async function pathExists(path: string, calls: FileCalls): Promise<boolean> {
  try {
    return (await calls.lstatOrNull(path)) !== null;
  } catch {
    return true; // Cannot tell: do not risk replacing it.
  }
}

/**
 * Folder syncs shared between commits into the same folder: a commit waits for a sync that
 * starts after its rename, so many files renamed at once into one folder cost one or two syncs
 * instead of one each.
 */
const folderSyncs: Record<FileCallMode, SharedRuns<void>> = {
  inline: new SharedRuns<void>((dir) => syncFolder(dir, fileCalls("inline"))),
  threaded: new SharedRuns<void>((dir) => syncFolder(dir, fileCalls("threaded"))),
};

/**
 * Syncs a folder so a rename in it survives a crash; not every platform can. The sync itself
 * always runs on a worker thread.
 */
async function syncFolder(dir: string, calls: FileCalls): Promise<void> {
  try {
    const folder = await calls.open(dir, { read: true });
    try {
      await folder.sync();
    } finally {
      folder.close();
    }
  } catch {
    // Windows cannot open a folder as a file; some file systems refuse to sync one.
  }
}

function existsError(destination: string, cause: unknown): FileError {
  return new FileError(
    `Cannot save ${
      quotePath(destination)
    }: it already exists; pass { overwrite: true } to replace it`,
    { reason: "exists", path: destination, cause },
  );
}

function changed(displayPath: string, why: string): FileError {
  return new FileError(
    `Cannot resume ${quotePath(displayPath)}: its partial file changed (${why}); start the ` +
      "transfer afresh",
    { reason: "changed", path: displayPath },
  );
}

function inTheWay(displayPath: string, what: string): FileError {
  return new FileError(
    `Cannot write ${quotePath(displayPath)}: its partial file is ${what}; remove it`,
    { reason: "unsupported_type", path: displayPath },
  );
}
