/**
 * Resolves the paths a peer names inside one served root folder.
 *
 * Deno has no `openat()` nor `O_NOFOLLOW`, so each path is walked one component at a time with
 * `Deno.lstat`: a symlink is followed only if it resolves inside the root. A local user who can
 * swap folders for symlinks between the check and the use can still race it; peers cannot, as
 * they have no way to create symlinks. {@linkcode Sandbox.recheckDirectory} narrows that window
 * right before a file is moved into place.
 *
 * Why this file is over 450 lines: it is one class whose path walk, link checks and write-side
 * re-check share private state and must be read together to see that no path escapes; about
 * 40% of it is documentation and runnable examples.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { FileError, type FileErrorReason } from "../errors.ts";
import { type FileCalls, fileCalls } from "./file_calls.ts";
import { SharedRuns } from "./shared_runs.ts";
import { fileErrorFromOs, quotePath } from "./_os_error.ts";
import { isReservedName } from "./partial_files.ts";

/**
 * Longest remote path accepted, in UTF-8 bytes.
 *
 * @example Check a path's length before sending it
 * ```ts
 * import { maxRemotePathBytes } from "./sandbox.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(new TextEncoder().encode("in/report.csv").length <= maxRemotePathBytes);
 * ```
 */
export const maxRemotePathBytes = 4096;

/**
 * Longest component of a remote path accepted, in UTF-8 bytes.
 *
 * @example Check a file name's length
 * ```ts
 * import { maxRemoteNameBytes } from "./sandbox.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new TextEncoder().encode("é".repeat(128)).length > maxRemoteNameBytes, true);
 * ```
 */
export const maxRemoteNameBytes = 255;

/** Mode of the folders that {@linkcode Sandbox.resolveForWrite} creates. */
const createdDirectoryMode = 0o755;

/** Most symlinks {@linkcode Sandbox.checkLinkTarget} expands for one target (as Linux's ELOOP). */
const maxLinkHops = 40;

const encoder = new TextEncoder();

/** A path resolved for reading by {@linkcode Sandbox.resolveForRead}. */
export interface ResolvedRead {
  /** The real absolute path, free of symlinks, inside the root. */
  path: string;
  /** Its status (a regular file, or a folder when allowed). */
  info: Deno.FileInfo;
}

/** A path resolved for writing by {@linkcode Sandbox.resolveForWrite}. */
export interface ResolvedWrite {
  /** The real absolute path of the parent folder, inside the root. */
  dir: string;
  /** The file's name in `dir`. */
  name: string;
  /** `dir` and `name` joined. */
  path: string;
  /** The destination's `lstat` if it exists (always a regular file), else `null`. */
  existing: Deno.FileInfo | null;
}

/** Options for {@linkcode Sandbox.open}. */
export interface SandboxOptions {
  /**
   * How the calls that walk a path are made (`file_calls.ts`): `fileCalls("inline")` on a
   * server whose root is on a local disk. Default: `fileCalls("threaded")`.
   */
  calls?: FileCalls;
}

/** Options for {@linkcode Sandbox.resolveForRead}. */
export interface ResolveForReadOptions {
  /** Accept a folder too (for listings). Default: false. */
  allowDirectory?: boolean;
}

/** Options for {@linkcode Sandbox.resolveForWrite}. */
export interface ResolveForWriteOptions {
  /** Create missing parent folders (mode 0755), one at a time. Default: false. */
  createParents?: boolean;
}

/** A path resolved by {@linkcode Sandbox.resolveEntry}: its folder followed, itself not. */
export interface ResolvedEntry {
  /** The real absolute path of the parent folder, inside the root. */
  dir: string;
  /** The entry's name in `dir`. */
  name: string;
  /** `dir` and `name` joined: the entry itself, never followed if it is a symlink. */
  path: string;
  /** The entry's `lstat` if it exists (of any type, a symlink's own), else `null`. */
  info: Deno.FileInfo | null;
}

type Action = "read" | "write" | "use" | "remove" | "rename";

/**
 * One served root folder. Every remote path is resolved inside it: `..` components are
 * refused, absolute paths must name something under the root, and symlinks are followed only
 * while they stay inside.
 *
 * Path rules: the empty path, a NUL byte, more than {@linkcode maxRemotePathBytes} bytes, a
 * component over {@linkcode maxRemoteNameBytes} bytes or a component reserved for partial files
 * (`isReservedName()`: ending in `.ovtp-part` and the like) are `bad_path`; any `..` component
 * is `outside_root`; `.` components and repeated slashes are ignored; relative paths start at
 * the root.
 *
 * @example Resolve a file for reading
 * ```ts
 * import { Sandbox } from "./sandbox.ts";
 * import { FileError } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(join(dir, "a.txt"), "hello");
 *   const sandbox = await Sandbox.open(dir);
 *   const { path, info } = await sandbox.resolveForRead("./a.txt");
 *   assert.equal(path, join(sandbox.root, "a.txt"));
 *   assert.equal(info.size, 5);
 *   await assert.rejects(
 *     sandbox.resolveForRead("../etc/passwd"),
 *     (error) => error instanceof FileError && error.reason === "outside_root",
 *   );
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class Sandbox {
  /** The real absolute path of the root folder. */
  readonly root: string;
  /** Absolute spellings of the root an absolute remote path may start with. */
  readonly #prefixes: readonly string[][];
  /** How the path walk's calls are made. */
  readonly #calls: FileCalls;
  /** The folder re-checks running now, shared by the commits waiting on them. */
  readonly #rechecks = new SharedRuns<RecheckOutcome>((dir) => this.#recheckOnce(dir));

  private constructor(root: string, alias: string, calls: FileCalls) {
    this.root = root;
    this.#calls = calls;
    const spellings = [splitAbsolute(root), splitAbsolute(alias)];
    this.#prefixes = spellings[1].join("/") === spellings[0].join("/") ? [spellings[0]] : spellings;
  }

  /**
   * Opens a sandbox on `root`, which must exist and be a folder. It is stored as its real path.
   *
   * @param root The folder to serve.
   * @param options How its calls are made.
   * @returns The sandbox.
   * @throws {FileError} `not_found` if it does not exist, `unsupported_type` if it is not a
   * folder, `permission` or `io` if it cannot be inspected.
   *
   * @example Open a temporary folder
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const sandbox = await Sandbox.open(dir);
   *   assert.equal(sandbox.root, await Deno.realPath(dir));
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  static async open(root: string, options: SandboxOptions = {}): Promise<Sandbox> {
    if (typeof root !== "string" || root === "" || root.includes("\0")) {
      throw new FileError("Cannot serve an empty path or one with a NUL byte; name a folder", {
        reason: "bad_path",
        path: String(root),
      });
    }
    let real: string;
    try {
      real = await Deno.realPath(root);
      const info = await Deno.stat(real);
      if (!info.isDirectory) {
        throw new FileError(`Cannot serve ${quotePath(root)}: it is not a folder; name a folder`, {
          reason: "unsupported_type",
          path: root,
        });
      }
    } catch (error) {
      throw fileErrorFromOs(error, root, "Cannot serve");
    }
    return new Sandbox(real, resolve(root), options.calls ?? fileCalls("threaded"));
  }

  /**
   * Opens a narrower sandbox on a folder inside this one (for example one root per key).
   *
   * @param subRoot The folder, absolute or relative to this root; resolved like a remote path.
   * @returns The narrower sandbox.
   * @throws {FileError} As {@linkcode Sandbox.resolveForRead} does, and `unsupported_type` if it
   * is not a folder.
   *
   * @example Narrow to a sub-folder
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   await Deno.mkdir(join(dir, "alice"));
   *   const sandbox = await Sandbox.open(dir);
   *   const alice = await sandbox.narrow("alice");
   *   assert.equal(alice.root, join(sandbox.root, "alice"));
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async narrow(subRoot: string): Promise<Sandbox> {
    const { path, info } = await this.#resolveExisting(subRoot, "use", true);
    if (!info.isDirectory) {
      throw new FileError(`Cannot serve ${quotePath(subRoot)}: it is not a folder; name a folder`, {
        reason: "unsupported_type",
        path: subRoot,
      });
    }
    return new Sandbox(path, path, this.#calls);
  }

  /**
   * Resolves a remote path for reading a file (or listing a folder when `allowDirectory`). It
   * must exist; symlinks along the way are followed only if they resolve inside the root.
   *
   * @param remotePath The path the peer named.
   * @param options Whether a folder is acceptable.
   * @returns The real path and its status.
   * @throws {FileError} `bad_path`, `outside_root` (also for a dangling symlink), `not_found`,
   * `unsupported_type` (a device, FIFO, socket, or a folder when not allowed), `permission`,
   * `io`.
   *
   * @example Refuse a folder unless allowed
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import { FileError } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const sandbox = await Sandbox.open(dir);
   *   assert.equal((await sandbox.resolveForRead(".", { allowDirectory: true })).path, sandbox.root);
   *   await assert.rejects(
   *     sandbox.resolveForRead("."),
   *     (error) => error instanceof FileError && error.reason === "unsupported_type",
   *   );
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async resolveForRead(
    remotePath: string,
    options: ResolveForReadOptions = {},
  ): Promise<ResolvedRead> {
    const allowDirectory = options.allowDirectory ?? false;
    const resolved = await this.#resolveExisting(remotePath, "read", allowDirectory);
    const { info } = resolved;
    if (info.isFile || (allowDirectory && info.isDirectory)) return resolved;
    throw new FileError(
      `Cannot read ${quotePath(remotePath)}: it is ${describeType(info)}; ` +
        (info.isDirectory ? "name a file" : "only regular files can be transferred"),
      { reason: "unsupported_type", path: remotePath },
    );
  }

  /**
   * Resolves a remote path for writing a file. The parent folder must resolve inside the root
   * (missing parents are created one at a time, mode 0755, only with `createParents`); the
   * destination, if it exists, must be a regular file. Nothing else is created.
   *
   * @param remotePath The path the peer named.
   * @param options Whether to create missing parent folders.
   * @returns The real parent folder, the name, the joined path and the existing destination's
   * status.
   * @throws {FileError} `bad_path`, `outside_root`, `not_found` (a missing parent without
   * `createParents`), `unsupported_type` (the destination is a folder, a symlink, a device, or
   * the root itself), `permission`, `io`.
   *
   * @example Create the parent folders of an upload
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const sandbox = await Sandbox.open(dir);
   *   const target = await sandbox.resolveForWrite("in/2024/report.csv", { createParents: true });
   *   assert.equal(target.dir, join(sandbox.root, "in", "2024"));
   *   assert.equal(target.name, "report.csv");
   *   assert.equal(target.existing, null);
   *   assert.ok((await Deno.stat(target.dir)).isDirectory);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async resolveForWrite(
    remotePath: string,
    options: ResolveForWriteOptions = {},
  ): Promise<ResolvedWrite> {
    const components = this.#components(remotePath, "write");
    const name = components.pop();
    if (name === undefined) {
      throw new FileError(
        `Cannot write ${quotePath(remotePath)}: it names the served folder itself; ` +
          "add a file name",
        { reason: "unsupported_type", path: remotePath },
      );
    }
    let dir = this.root;
    for (const component of components) {
      dir = await this.#step(dir, component, remotePath, "write", options.createParents ?? false);
    }
    const path = join(dir, name);
    let existing: Deno.FileInfo | null;
    try {
      // Usually missing: answered without building an error (inline calls).
      existing = await this.#calls.lstatOrNull(path);
    } catch (error) {
      throw fileErrorFromOs(error, remotePath, "Cannot write");
    }
    if (existing !== null && !existing.isFile) {
      throw new FileError(
        `Cannot write ${quotePath(remotePath)}: it exists and is ${describeType(existing)}; ` +
          "only regular files can be replaced",
        { reason: "unsupported_type", path: remotePath },
      );
    }
    return { dir, name, path, existing };
  }

  /**
   * Resolves a remote path for removing or renaming the entry itself: the folders on the way
   * are walked as for a write (symlinks followed only while they stay inside, nothing created),
   * and the last component is never followed, so a symlink there names the link itself.
   *
   * @param remotePath The path the peer named.
   * @param action What is done, for error messages: `"remove"` or `"rename"`.
   * @returns The real parent folder, the name, the joined path and the entry's `lstat` (or
   * `null` when it does not exist).
   * @throws {FileError} `bad_path`, `outside_root`, `not_found` (a missing folder on the way),
   * `unsupported_type` (the path names the root itself), `permission`, `io`.
   *
   * @example A symlink is named, not followed
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   await Deno.symlink("/etc", join(dir, "link"));
   *   const sandbox = await Sandbox.open(dir);
   *   const entry = await sandbox.resolveEntry("link", "remove");
   *   assert.equal(entry.path, join(sandbox.root, "link"));
   *   assert.equal(entry.info?.isSymlink, true);
   *   assert.equal((await sandbox.resolveEntry("gone", "remove")).info, null);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async resolveEntry(remotePath: string, action: "remove" | "rename"): Promise<ResolvedEntry> {
    const components = this.#components(remotePath, action);
    const name = components.pop();
    if (name === undefined) {
      throw new FileError(
        `Cannot ${action} ${quotePath(remotePath)}: it names the served folder itself; ` +
          "name something inside it",
        { reason: "unsupported_type", path: remotePath },
      );
    }
    let dir = this.root;
    for (const component of components) {
      dir = await this.#step(dir, component, remotePath, action, false);
    }
    const path = join(dir, name);
    let info: Deno.FileInfo | null;
    try {
      info = await Deno.lstat(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw fileErrorFromOs(error, remotePath, `Cannot ${action}`);
      }
      info = null;
    }
    return { dir, name, path, info };
  }

  /**
   * Checks again, right before a file is moved into `dir`, that `dir` still resolves to itself
   * (no component was swapped for a symlink) and lies inside the root.
   *
   * Callers checking the same folder at the same time share one check, but never one that
   * started before they called: a call waits for the check running now to end, then for the next
   * one, which starts after it. So many files committed at once into one folder cost one or two
   * checks, each run after the caller's last write and before its rename.
   *
   * @param dir A real folder path, as {@linkcode Sandbox.resolveForWrite} returned it.
   * @param displayPath The path to name in errors (the path the peer gave). Default `dir`.
   * @throws {FileError} `outside_root` if it no longer resolves to itself inside the root,
   * `not_found` if it is gone, `permission` or `io` if it cannot be inspected.
   *
   * @example Check a folder
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const sandbox = await Sandbox.open(dir);
   *   await sandbox.recheckDirectory(sandbox.root);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async recheckDirectory(dir: string, displayPath: string = dir): Promise<void> {
    const outcome = await this.#rechecks.run(dir);
    if (outcome.error !== undefined) {
      throw fileErrorFromOs(outcome.error, displayPath, "Cannot write");
    }
    if (!outcome.resolvesToItself) {
      throw new FileError(
        `Cannot write ${quotePath(displayPath)}: its folder no longer resolves to itself inside ` +
          "the served folder (a component was replaced); try again",
        { reason: "outside_root", path: displayPath },
      );
    }
  }

  /**
   * Checks where a symbolic link would lead before it is made: its `target` is resolved from
   * `dir` (the real folder the link will live in) through the real file system, the way reads
   * resolve paths: one component at a time, expanding every existing symlink on the way (up to
   * 40), and `..` taken from the folder reached so far. It is refused if it would leave the
   * root at any point, if it is absolute, or if a `..` follows a component that does not exist
   * (yet) or is not a folder (such a component could later become a link that changes where
   * `..` leads). A target that ends in a missing file is fine (a dangling link inside).
   *
   * @param dir The real path of the link's folder, as {@linkcode Sandbox.resolveForWrite}
   * returned it.
   * @param target The link's target text.
   * @param displayPath The link's path as the peer gave it, for errors.
   * @throws {FileError} `outside_root` if the target leaves the root (or loops, or is
   * absolute), `bad_path` if it is empty or has a NUL byte, `permission` or `io` if a component
   * cannot be inspected.
   *
   * @example Refuse a target that leaves through a link
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import { FileError } from "../mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const sandbox = await Sandbox.open(dir);
   *   await Deno.mkdir(join(dir, "sub"));
   *   await Deno.symlink("..", join(dir, "sub", "up")); // sub/up is the root itself: inside
   *   await sandbox.checkLinkTarget(sandbox.root, "sub/up/sub", "x");
   *   await assert.rejects(
   *     sandbox.checkLinkTarget(sandbox.root, "sub/up/..", "x"),
   *     (error) => error instanceof FileError && error.reason === "outside_root",
   *   );
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async checkLinkTarget(dir: string, target: string, displayPath: string): Promise<void> {
    const refuse = (why: string) =>
      new FileError(
        `Cannot link ${quotePath(displayPath)} to ${quotePath(target)}: ${why}; links must be ` +
          "relative and stay inside the served folder",
        { reason: "outside_root", path: displayPath },
      );
    if (typeof target !== "string" || target === "" || target.includes("\0")) {
      throw badPath(displayPath, "use", "the link target is empty or has a NUL byte");
    }
    if (isAbsolute(target)) throw refuse("the target is absolute");
    if (!this.#contains(dir)) throw refuse("its folder is outside the served folder");
    // Components still to walk, the next one last.
    const pending = target.split("/").reverse();
    let path = dir;
    let missing = false;
    let hops = 0;
    while (pending.length > 0) {
      const component = pending.pop()!;
      if (component === "" || component === ".") continue;
      if (component === "..") {
        if (missing) throw refuse('a ".." follows a component that is not an existing folder');
        if (path === this.root) throw refuse("it leads above the served folder");
        path = dirname(path);
        continue;
      }
      if (isReservedName(component)) {
        throw badPath(
          displayPath,
          "use",
          "the link target names a partial upload, which is reserved",
        );
      }
      const candidate = join(path, component);
      if (missing) {
        path = candidate;
        continue;
      }
      let info: Deno.FileInfo | undefined;
      try {
        info = await Deno.lstat(candidate);
      } catch (error) {
        if (
          !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)
        ) {
          throw fileErrorFromOs(error, displayPath, "Cannot link");
        }
      }
      if (info?.isSymlink) {
        if (++hops > maxLinkHops) throw refuse("it passes through too many links (a loop?)");
        let text: string;
        try {
          text = await Deno.readLink(candidate);
        } catch (error) {
          throw fileErrorFromOs(error, displayPath, "Cannot link");
        }
        if (isAbsolute(text)) {
          // Only a local user makes absolute links: follow it only where it really leads.
          let real: string;
          try {
            real = await Deno.realPath(candidate);
          } catch {
            throw refuse("a link on the way leads nowhere");
          }
          if (!this.#contains(real)) throw refuse("a link on the way leads outside");
          path = real;
        } else {
          // Expand the link in place: its components come next, from its own folder.
          pending.push(...text.split("/").reverse());
        }
        continue;
      }
      path = candidate;
      if (info === undefined || !info.isDirectory) missing = true;
    }
    if (!this.#contains(path)) throw refuse("it leads outside");
  }

  /**
   * The path of a real path relative to the root, with `/` separators, for listings.
   *
   * @param realPath A real absolute path inside the root.
   * @returns The relative path, `""` for the root itself.
   * @throws {FileError} `outside_root` if `realPath` is not inside the root.
   *
   * @example Relative paths
   * ```ts
   * import { Sandbox } from "./sandbox.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const sandbox = await Sandbox.open(dir);
   *   assert.equal(sandbox.relative(sandbox.root), "");
   *   assert.equal(sandbox.relative(join(sandbox.root, "a", "b.txt")), "a/b.txt");
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  relative(realPath: string): string {
    if (realPath === this.root) return "";
    if (!this.#contains(realPath)) {
      throw new FileError(
        `Cannot list ${quotePath(realPath)}: it is outside the served folder; ` +
          "give a path inside it",
        { reason: "outside_root", path: realPath },
      );
    }
    return realPath.slice(withSeparator(this.root).length).split(sep).join("/");
  }

  /** One re-check of a folder, as {@linkcode Sandbox.recheckDirectory} shares it. */
  async #recheckOnce(dir: string): Promise<RecheckOutcome> {
    try {
      const real = await this.#calls.realPath(dir);
      const info = await this.#calls.lstat(real);
      return { resolvesToItself: real === dir && this.#contains(real) && info.isDirectory };
    } catch (error) {
      return { resolvesToItself: false, error };
    }
  }

  /** Resolves an existing path (the root itself included), following inside symlinks. */
  async #resolveExisting(
    remotePath: string,
    action: Action,
    allowRoot: boolean,
  ): Promise<ResolvedRead> {
    const components = this.#components(remotePath, action);
    if (components.length === 0 && !allowRoot) {
      throw new FileError(
        `Cannot ${action} ${quotePath(remotePath)}: it names the served folder itself; ` +
          "name a file",
        { reason: "unsupported_type", path: remotePath },
      );
    }
    let path = this.root;
    for (const component of components.slice(0, -1)) {
      path = await this.#step(path, component, remotePath, action, false);
    }
    const last = components.at(-1);
    let info: Deno.FileInfo | undefined;
    if (last !== undefined) {
      ({ path, info } = await this.#follow(join(path, last), remotePath, action));
    }
    try {
      return { path, info: info ?? await this.#calls.lstat(path) };
    } catch (error) {
      throw fileErrorFromOs(error, remotePath, `Cannot ${action}`);
    }
  }

  /**
   * Steps from folder `dir` into its child folder `component`: follows an inside symlink,
   * creates it if missing and `create`, refuses anything that is not a folder.
   */
  async #step(
    dir: string,
    component: string,
    remotePath: string,
    action: Action,
    create: boolean,
  ): Promise<string> {
    const candidate = join(dir, component);
    let path: string;
    let info: Deno.FileInfo | undefined;
    try {
      ({ path, info } = await this.#follow(candidate, remotePath, action));
    } catch (error) {
      if (!(create && error instanceof FileError && error.reason === "not_found")) throw error;
      try {
        await this.#calls.mkdir(candidate, createdDirectoryMode);
      } catch (mkdirError) {
        if (!(mkdirError instanceof Deno.errors.AlreadyExists)) {
          throw fileErrorFromOs(mkdirError, remotePath, `Cannot ${action}`);
        }
      }
      // Whatever is there now (ours, or made by someone else meanwhile) is checked as usual.
      ({ path, info } = await this.#follow(candidate, remotePath, action));
    }
    try {
      // Not a symlink: #follow's lstat is this path's. A symlink's target needs its own.
      info ??= await this.#calls.lstat(path);
    } catch (error) {
      throw fileErrorFromOs(error, remotePath, `Cannot ${action}`);
    }
    if (!info.isDirectory) {
      throw new FileError(
        `Cannot ${action} ${quotePath(remotePath)}: ${quotePath(component)} is not a folder; ` +
          "check the path",
        { reason: "not_found", path: remotePath },
      );
    }
    return path;
  }

  /**
   * Returns `candidate` and its `lstat` if it exists and is not a symlink, else the real path of
   * the symlink's target if that exists inside the root (without status: the caller takes it).
   */
  async #follow(
    candidate: string,
    remotePath: string,
    action: Action,
  ): Promise<{ path: string; info?: Deno.FileInfo }> {
    let info: Deno.FileInfo;
    try {
      info = await this.#calls.lstat(candidate);
    } catch (error) {
      throw fileErrorFromOs(error, remotePath, `Cannot ${action}`);
    }
    if (!info.isSymlink) return { path: candidate, info };
    let real: string;
    try {
      real = await this.#calls.realPath(candidate);
    } catch (error) {
      const reason: FileErrorReason = error instanceof Deno.errors.PermissionDenied
        ? "permission"
        : "outside_root";
      throw new FileError(
        `Cannot ${action} ${quotePath(remotePath)}: a symlink on the way leads nowhere ` +
          "(dangling or a loop); fix or remove the symlink",
        { reason, path: remotePath, cause: error },
      );
    }
    if (!this.#contains(real)) {
      throw new FileError(
        `Cannot ${action} ${quotePath(remotePath)}: a symlink on the way leads outside the ` +
          "served folder; give a path inside it",
        { reason: "outside_root", path: remotePath },
      );
    }
    if (real !== this.root && this.relative(real).split("/").some(isReservedName)) {
      throw badPath(
        remotePath,
        action,
        "a symlink on the way leads to a partial upload, which is reserved; choose another path",
      );
    }
    return { path: real };
  }

  /** True if `path` (a real absolute path) is the root or below it. */
  #contains(path: string): boolean {
    return path === this.root || path.startsWith(withSeparator(this.root));
  }

  /** Checks a remote path and returns its components below the root. */
  #components(remotePath: string, action: Action): string[] {
    if (typeof remotePath !== "string" || remotePath === "") {
      throw badPath(String(remotePath ?? ""), action, "it is empty; name a file");
    }
    if (remotePath.includes("\0")) {
      throw badPath(remotePath, action, "it contains a NUL byte; remove it");
    }
    if (encoder.encode(remotePath).length > maxRemotePathBytes) {
      throw badPath(
        remotePath,
        action,
        `it is longer than ${maxRemotePathBytes} bytes; shorten it`,
      );
    }
    const components = remotePath.split("/").filter((part) => part !== "" && part !== ".");
    for (const component of components) {
      if (component === "..") {
        throw new FileError(
          `Cannot ${action} ${quotePath(remotePath)}: ".." is not allowed; ` +
            "give a path inside the served folder",
          { reason: "outside_root", path: remotePath },
        );
      }
      if (encoder.encode(component).length > maxRemoteNameBytes) {
        throw badPath(
          remotePath,
          action,
          `a component is longer than ${maxRemoteNameBytes} bytes; shorten it`,
        );
      }
      if (isReservedName(component)) {
        throw badPath(
          remotePath,
          action,
          'names ending in ".ovtp-part" are reserved for partial uploads; choose another name',
        );
      }
      if (Deno.build.os === "windows" && /[\\:]/.test(component)) {
        throw badPath(remotePath, action, 'it contains "\\" or ":"; use "/" between folders');
      }
    }
    if (!remotePath.startsWith("/")) return components;
    for (const prefix of this.#prefixes) {
      if (prefix.every((part, index) => components[index] === part)) {
        return components.slice(prefix.length);
      }
    }
    throw new FileError(
      `Cannot ${action} ${quotePath(remotePath)}: it is an absolute path outside the served ` +
        "folder; give a path relative to it",
      { reason: "outside_root", path: remotePath },
    );
  }
}

/** What one folder re-check found; `error` when the folder could not be inspected. */
interface RecheckOutcome {
  resolvesToItself: boolean;
  error?: unknown;
}

function badPath(path: string, action: Action, why: string): FileError {
  return new FileError(`Cannot ${action} ${quotePath(path)}: ${why}`, { reason: "bad_path", path });
}

function withSeparator(path: string): string {
  return path.endsWith(sep) ? path : `${path}${sep}`;
}

/** The components of an absolute local path, for comparing against remote paths. */
function splitAbsolute(path: string): string[] {
  if (!isAbsolute(path)) throw new RangeError(`Expected an absolute path, got ${path}`);
  return path.split(sep).filter((part) => part !== "" && part !== ".");
}

function describeType(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isSymlink) return "a symlink";
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  return "not a regular file";
}
