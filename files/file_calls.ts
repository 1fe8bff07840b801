/**
 * The file system calls on a server's upload path (resolving a path in the sandbox, creating,
 * checking and moving a partial file) and on a client's upload of a small file (opening,
 * checking and reading it), made one of two ways:
 *
 * - `"inline"`: synchronous calls on the event loop (`Deno.lstatSync` and the like). On a local
 *   disk each costs about 2 µs of CPU, against about 25–30 µs for an asynchronous call, which
 *   is a trip to a worker thread and back. A path that does not exist is answered without
 *   building a stack trace. The price: a file system that hangs (an unreachable network file
 *   system) freezes the whole process, every connection with it, for as long as the call hangs.
 * - `"threaded"`: the asynchronous calls (`Deno.lstat` and the like), each on a worker thread. A
 *   hanging call holds only its own transfer (and a worker thread).
 *
 * Syncing data to disk (`fdatasync`, a folder's `fsync`) is always threaded: it waits for the
 * disk, which takes milliseconds even when all is well. Writes larger than
 * {@linkcode maxInlineWriteBytes} are always threaded too, so that a large upload's writes
 * overlap its decryption.
 *
 * @module
 */

/** How the file system calls of an upload are made; see the module documentation. */
export type FileCallMode = "inline" | "threaded";

/**
 * The default {@linkcode FileCallMode}: `"inline"`, for a root on a local disk.
 *
 * @example The default
 * ```ts
 * import { defaultFileCallMode } from "./file_calls.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(defaultFileCallMode, "inline");
 * ```
 */
export const defaultFileCallMode: FileCallMode = "inline";

/**
 * Largest write made inline, in bytes (64 KiB): a small file's content in one call. Larger
 * writes go to a worker thread in either mode.
 *
 * @example A 1 KiB file is written inline
 * ```ts
 * import { maxInlineWriteBytes } from "./file_calls.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(1024 <= maxInlineWriteBytes);
 * ```
 */
export const maxInlineWriteBytes = 65536;

/**
 * Largest read made inline, in bytes (64 KiB): a small file's content in one call. Larger
 * reads go to a worker thread in either mode.
 *
 * @example A 1 KiB file is read inline
 * ```ts
 * import { maxInlineReadBytes } from "./file_calls.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(1024 <= maxInlineReadBytes);
 * ```
 */
export const maxInlineReadBytes = 65536;

/** The calls, each returning a promise whichever way it is made. */
export interface FileCalls {
  /** How the calls are made. */
  readonly mode: FileCallMode;
  /** `lstat()`. */
  lstat(path: string): Promise<Deno.FileInfo>;
  /** `lstat()`, or `null` if nothing is at `path` (`NotFound`); other errors are thrown. */
  lstatOrNull(path: string): Promise<Deno.FileInfo | null>;
  /** `realpath()`. */
  realPath(path: string): Promise<string>;
  /** `mkdir()` of one folder. */
  mkdir(path: string, mode: number): Promise<void>;
  /** `open()`. */
  open(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile>;
  /** One `read()` into `into`; returns the bytes read, `null` at the end of the file. */
  read(file: Deno.FsFile, into: Uint8Array): Promise<number | null>;
  /** One `write()`; returns the bytes written. */
  write(file: Deno.FsFile, bytes: Uint8Array): Promise<number>;
  /** `fstat()` of an open file. */
  stat(file: Deno.FsFile): Promise<Deno.FileInfo>;
  /** `futimens()` of an open file. */
  utime(file: Deno.FsFile, atime: Date, mtime: Date): Promise<void>;
  /** `chmod()` by path. */
  chmod(path: string, mode: number): Promise<void>;
  /** `rename()`. */
  rename(from: string, to: string): Promise<void>;
  /** `link()`: fails with `AlreadyExists` if `to` exists. */
  link(from: string, to: string): Promise<void>;
  /** `unlink()` of a file. */
  remove(path: string): Promise<void>;
}

/**
 * Returns the calls made the given way.
 *
 * @param mode `"inline"` (synchronous, on the event loop) or `"threaded"` (on worker threads).
 * @returns The calls.
 * @throws {RangeError} If `mode` is neither.
 *
 * @example A missing path answers `null`
 * ```ts
 * import { fileCalls } from "./file_calls.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   for (const mode of ["inline", "threaded"] as const) {
 *     const calls = fileCalls(mode);
 *     assert.equal(await calls.lstatOrNull(join(dir, "missing")), null);
 *     assert.ok((await calls.lstatOrNull(dir))?.isDirectory);
 *   }
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export function fileCalls(mode: FileCallMode): FileCalls {
  if (mode === "inline") return inlineCalls;
  if (mode === "threaded") return threadedCalls;
  throw new RangeError(`fileCalls: "${mode}" is neither "inline" nor "threaded"`);
}

/**
 * Runs a synchronous call that may throw `NotFound` without capturing a stack trace for the
 * error: nothing else runs meanwhile, so the limit is restored before any other code sees it.
 */
function withoutStackTraces<T>(call: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return call();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Wraps a synchronous call so that it answers like its asynchronous twin: never throwing. */
function settle<T>(call: () => T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

const inlineCalls: FileCalls = {
  mode: "inline",
  lstat: (path) => settle(() => Deno.lstatSync(path)),
  lstatOrNull: (path) =>
    settle(() =>
      withoutStackTraces(() => {
        try {
          return Deno.lstatSync(path);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) return null;
          throw error;
        }
      })
    ),
  realPath: (path) => settle(() => Deno.realPathSync(path)),
  mkdir: (path, mode) => settle(() => Deno.mkdirSync(path, { mode })),
  open: (path, options) => settle(() => Deno.openSync(path, options)),
  read: (file, into) =>
    into.length <= maxInlineReadBytes ? settle(() => file.readSync(into)) : file.read(into),
  write: (file, bytes) =>
    bytes.length <= maxInlineWriteBytes ? settle(() => file.writeSync(bytes)) : file.write(bytes),
  stat: (file) => settle(() => file.statSync()),
  utime: (file, atime, mtime) => settle(() => file.utimeSync(atime, mtime)),
  chmod: (path, mode) => settle(() => Deno.chmodSync(path, mode)),
  rename: (from, to) => settle(() => Deno.renameSync(from, to)),
  link: (from, to) => settle(() => Deno.linkSync(from, to)),
  remove: (path) => settle(() => Deno.removeSync(path)),
};

const threadedCalls: FileCalls = {
  mode: "threaded",
  lstat: (path) => Deno.lstat(path),
  lstatOrNull: async (path) => {
    try {
      return await Deno.lstat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  },
  realPath: (path) => Deno.realPath(path),
  mkdir: (path, mode) => Deno.mkdir(path, { mode }),
  open: (path, options) => Deno.open(path, options),
  read: (file, into) => file.read(into),
  write: (file, bytes) => file.write(bytes),
  stat: (file) => file.stat(),
  utime: (file, atime, mtime) => file.utime(atime, mtime),
  chmod: (path, mode) => Deno.chmod(path, mode),
  rename: (from, to) => Deno.rename(from, to),
  link: (from, to) => Deno.link(from, to),
  remove: (path) => Deno.remove(path),
};
