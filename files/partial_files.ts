/**
 * Bookkeeping for uploads in progress: the random name of each transfer's own partial file, the
 * state file through which an interrupted upload finds its partial file again, the names that
 * are reserved for both, how much of a partial file can be trusted, and removing the ones
 * nobody came back for.
 *
 * Why this file is over 450 lines: the names, the state file's format and the sweep must agree
 * on one naming scheme, so they live together; more than half of it is documentation and
 * runnable examples.
 *
 * @module
 */

import { join } from "node:path";
import { readFileUpTo } from "../crypto/_file.ts";
import { fileErrorFromOs } from "./_os_error.ts";
import { fileChunkBytes } from "./chunk_tree.ts";

/**
 * Suffix of partial data files; state files add `.json`.
 *
 * @example Spot a partial file
 * ```ts
 * import { partialSuffix } from "./partial_files.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(".report.csv.k3Yf1ngErpr1.ovtp-part".endsWith(partialSuffix));
 * ```
 */
export const partialSuffix = ".ovtp-part";

/** Suffix of state files. */
const stateSuffix = `${partialSuffix}.json`;

/** Largest state file read, in bytes. */
const maxStateFileBytes = 4096;

/** Longest owner recorded in a state file, in characters. */
const maxOwnerChars = 256;

/** Mode of state files. */
const stateFileMode = 0o600;

/** Longest file name most file systems accept, in UTF-8 bytes. */
const maxFileNameBytes = 255;

/** Owner tags: letters, digits, `_` and `-`, 1 to 32 characters. */
const tagPattern = /^[A-Za-z0-9_-]{1,32}$/;

/** Names that {@linkcode partialNames} produces (and `writePartialState`'s temporary files). */
const partialNamePattern = /^\..*\.ovtp-part(?:\.json(?:\.[0-9a-f]{16}\.tmp)?)?$/s;

/** Names reserved for partial files: any name that ends like one, with or without the dot. */
const reservedNamePattern = /\.ovtp-part(?:\.json(?:\.[0-9a-f]{16}\.tmp)?)?$/;

/** Names that {@linkcode randomPartialPath} produces: a dot, 32 hex digits, the suffix. */
const randomPartialNamePattern = /^\.[0-9a-f]{32}\.ovtp-part$/;

/** Random bytes in a partial file's name: 128 bits, not guessable. */
const randomNameBytes = 16;

/** What writePartialState() appends to a state file's name for its temporary file. */
const temporarySuffixExample = ".0123456789abcdef.tmp";

const encoder = new TextEncoder();

/** The two files of an upload in progress, from {@linkcode partialNames}. */
export interface PartialNames {
  /** The partial data file. */
  data: string;
  /** Its state file (JSON). */
  state: string;
}

/**
 * Names the partial data file and its state file for a destination and an owner:
 * `<dir>/.<name>.<tag>.ovtp-part` and `<dir>/.<name>.<tag>.ovtp-part.json`. The tag (for
 * example 12 characters derived from the peer's key fingerprint) keeps two peers uploading the
 * same name apart. If the result would be longer than 255 bytes, `name` is shortened and a hash
 * of it added, so the names stay distinct and valid.
 *
 * A server uses only the state file's name: the data of each upload goes to a file of its own
 * from {@linkcode randomPartialPath}, which the state file names. The predictable `data` name
 * suits a client's own downloads, in a folder no one else writes to.
 *
 * @param dir The destination's folder.
 * @param name The destination's file name (no `/`).
 * @param tag The owner tag, matching `/^[A-Za-z0-9_-]{1,32}$/`.
 * @returns The two paths.
 * @throws {RangeError} If `name` is empty or contains `/` or NUL, or `tag` does not match.
 *
 * @example Name the files of an upload
 * ```ts
 * import { partialNames } from "./partial_files.ts";
 * import assert from "node:assert/strict";
 *
 * const names = partialNames("/srv/in", "report.csv", "k3Yf1ngErpr1");
 * assert.equal(names.data, "/srv/in/.report.csv.k3Yf1ngErpr1.ovtp-part");
 * assert.equal(names.state, "/srv/in/.report.csv.k3Yf1ngErpr1.ovtp-part.json");
 * ```
 */
export function partialNames(dir: string, name: string, tag: string): PartialNames {
  if (typeof name !== "string" || name === "" || /[/\0]/.test(name)) {
    throw new RangeError("partialNames(): name must be a file name without '/' or NUL");
  }
  if (typeof tag !== "string" || !tagPattern.test(tag)) {
    throw new RangeError("partialNames(): tag must match /^[A-Za-z0-9_-]{1,32}$/");
  }
  // "." name "." tag ".ovtp-part.json" and writePartialState()'s ".<16 hex>.tmp", all ASCII.
  const fixedBytes = `..${tag}${stateSuffix}${temporarySuffixExample}`.length;
  let shown = name;
  if (encoder.encode(name).length + fixedBytes > maxFileNameBytes) {
    const hash = fnv1a32(name);
    shown = `${truncateUtf8(name, maxFileNameBytes - fixedBytes - hash.length - 1)}~${hash}`;
  }
  const data = join(dir, `.${shown}.${tag}${partialSuffix}`);
  return { data, state: `${data}.json` };
}

/**
 * Whether a file name is one that {@linkcode partialNames} (or
 * {@linkcode writePartialState}'s temporary file) could produce: a server may refuse to let
 * peers read, write or list such names.
 *
 * @param name A file name, without folder.
 * @returns True for partial data, state and temporary state file names.
 *
 * @example Recognise partial files
 * ```ts
 * import { isPartialName } from "./partial_files.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isPartialName(".a.csv.abc.ovtp-part"), true);
 * assert.equal(isPartialName(".a.csv.abc.ovtp-part.json"), true);
 * assert.equal(isPartialName("a.csv"), false);
 * ```
 */
export function isPartialName(name: string): boolean {
  return partialNamePattern.test(name);
}

/**
 * Whether a file name is reserved for partial files: it ends in `.ovtp-part`,
 * `.ovtp-part.json` or `.ovtp-part.json.<16 hex>.tmp`, with or without a leading dot. A server
 * hides such names from listings and refuses them in every path a peer names, so no peer can
 * read, write, replace or block another transfer's partial file.
 *
 * @param name A file name, without folder.
 * @returns True if the name is reserved.
 *
 * @example Reserved names
 * ```ts
 * import { isReservedName } from "./partial_files.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isReservedName(".0123456789abcdef0123456789abcdef.ovtp-part"), true);
 * assert.equal(isReservedName("notes.ovtp-part"), true);
 * assert.equal(isReservedName("notes.ovtp-part.txt"), false);
 * ```
 */
export function isReservedName(name: string): boolean {
  return reservedNamePattern.test(name);
}

/**
 * A fresh, unguessable partial file path in `dir`: `<dir>/.<32 hex digits>.ovtp-part`, 128
 * random bits. Each transfer writes its own partial file (create it with `createNew`), so two
 * transfers never share one and nobody can predict where a transfer writes.
 *
 * @param dir The destination's folder.
 * @returns The path.
 *
 * @example Two calls never collide
 * ```ts
 * import { isRandomPartialName, randomPartialPath } from "./partial_files.ts";
 * import { basename } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const path = randomPartialPath("/srv/in");
 * assert.ok(path.startsWith("/srv/in/."));
 * assert.ok(isRandomPartialName(basename(path)));
 * assert.notEqual(path, randomPartialPath("/srv/in"));
 * ```
 */
export function randomPartialPath(dir: string): string {
  const random = crypto.getRandomValues(new Uint8Array(randomNameBytes)).toHex();
  return join(dir, `.${random}${partialSuffix}`);
}

/**
 * Whether a file name is one that {@linkcode randomPartialPath} produces: what a state file
 * may point at.
 *
 * @param name A file name, without folder.
 * @returns True for `.<32 hex digits>.ovtp-part`.
 *
 * @example Check a name read from a state file
 * ```ts
 * import { isRandomPartialName } from "./partial_files.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isRandomPartialName(".0123456789abcdef0123456789abcdef.ovtp-part"), true);
 * assert.equal(isRandomPartialName("../x.ovtp-part"), false);
 * ```
 */
export function isRandomPartialName(name: string): boolean {
  return randomPartialNamePattern.test(name);
}

/**
 * What a state file records about an upload in progress, so that the same owner resuming the
 * same source finds its partial file again (and nobody else does).
 */
export interface PartialState {
  /** Format version. */
  version: 2;
  /** The partial data file's name, in the state file's folder (a partial name). */
  data: string;
  /** Who is uploading: the peer's key fingerprint (`""` for a local download). */
  owner: string;
  /** The destination's file name. */
  name: string;
  /** The source's size, in bytes. */
  size: number;
  /** The source's modification time, in ms since the epoch, if known. */
  mtimeMs: number | null;
  /** When the partial file was started, in ms since the epoch. */
  createdMs: number;
}

/**
 * Reads a state file. Never throws on bad content: a missing, oversized (over 4 KiB), not
 * regular or malformed file gives `undefined`, as does one that cannot be read.
 *
 * @param statePath The state file.
 * @returns The state, or `undefined`.
 *
 * @example Missing state
 * ```ts
 * import { readPartialState } from "./partial_files.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   assert.equal(await readPartialState(join(dir, "nothing.json")), undefined);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function readPartialState(statePath: string): Promise<PartialState | undefined> {
  let bytes: Uint8Array | undefined;
  try {
    // Check first: opening a FIFO would wait for a writer.
    if (!(await Deno.lstat(statePath)).isFile) return undefined;
    bytes = (await readFileUpTo(statePath, maxStateFileBytes)).bytes;
  } catch {
    return undefined;
  }
  if (bytes === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  return toPartialState(value);
}

function toPartialState(value: unknown): PartialState | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { version, data, owner, name, size, mtimeMs, createdMs } = value as Record<
    string,
    unknown
  >;
  if (version !== 2) return undefined;
  if (typeof data !== "string" || /[/\\\0]/.test(data) || !isPartialName(data)) return undefined;
  if (typeof owner !== "string" || owner.length > maxOwnerChars) return undefined;
  if (typeof name !== "string" || name === "" || /[/\0]/.test(name)) return undefined;
  if (!isCount(size)) return undefined;
  if (mtimeMs !== null && !isFiniteNumber(mtimeMs)) return undefined;
  if (!isFiniteNumber(createdMs)) return undefined;
  return { version, data, owner, name, size, mtimeMs, createdMs };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * Writes a state file (mode 0600): to a temporary file in the same folder, synced, then
 * renamed over `statePath`, so a reader sees the old state or the new one.
 *
 * @param statePath The state file.
 * @param state The state to save.
 * @param displayPath The path to name in errors (for a peer: the path it gave). Default
 * `statePath`.
 * @throws {RangeError} If `state` is malformed.
 * @throws {FileError} `permission` or `io` if the file system refuses.
 *
 * @example Write and read back
 * ```ts
 * import { readPartialState, writePartialState } from "./partial_files.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const state = {
 *     version: 2,
 *     data: ".0123456789abcdef0123456789abcdef.ovtp-part",
 *     owner: "SHA256:abc",
 *     name: "a.txt",
 *     size: 10,
 *     mtimeMs: null,
 *     createdMs: Date.now(),
 *   } as const;
 *   await writePartialState(join(dir, ".a.x.ovtp-part.json"), state);
 *   assert.deepEqual(await readPartialState(join(dir, ".a.x.ovtp-part.json")), state);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function writePartialState(
  statePath: string,
  state: PartialState,
  displayPath: string = statePath,
): Promise<void> {
  const checked = toPartialState(state);
  if (checked === undefined) {
    throw new RangeError(
      "writePartialState(): state needs version 2, a partial data name, an owner, a name, a size, " +
        "an mtimeMs (or null) and a createdMs",
    );
  }
  const bytes = encoder.encode(JSON.stringify(checked));
  const random = crypto.getRandomValues(new Uint8Array(8)).toHex();
  const temporary = `${statePath}.${random}.tmp`;
  try {
    const file = await Deno.open(temporary, { write: true, createNew: true, mode: stateFileMode });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, statePath);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw fileErrorFromOs(error, displayPath, "Cannot save the transfer state of");
  }
}

/**
 * Removes the partial data, state and temporary state files in `dir` (not below it) whose
 * modification time is more than `maxAgeMs` ago. Only regular files whose names
 * {@linkcode isPartialName} recognises are touched; errors on single files are ignored.
 *
 * @param dir The folder to clean.
 * @param maxAgeMs The age above which a file is stale, in ms.
 * @param inUse Files for which this returns true (given the full path) are kept: partial files
 * of transfers still running.
 * @returns How many files were removed.
 * @throws {RangeError} If `maxAgeMs` is negative or not finite.
 * @throws {FileError} `not_found`, `permission` or `io` if the folder cannot be listed.
 *
 * @example Remove an old partial file
 * ```ts
 * import { partialNames, removeStalePartials } from "./partial_files.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const { data } = partialNames(dir, "a.txt", "tag");
 *   await Deno.writeTextFile(data, "partial");
 *   await Deno.utime(data, new Date(0), new Date(0));
 *   assert.equal(await removeStalePartials(dir, 60_000), 1);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function removeStalePartials(
  dir: string,
  maxAgeMs: number,
  inUse: (path: string) => boolean = () => false,
): Promise<number> {
  if (typeof maxAgeMs !== "number" || !(maxAgeMs >= 0) || !Number.isFinite(maxAgeMs)) {
    throw new RangeError(`removeStalePartials(): maxAgeMs ${maxAgeMs} is out of range`);
  }
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isSymlink && !entry.isDirectory && isPartialName(entry.name)) {
        names.push(entry.name);
      }
    }
  } catch (error) {
    throw fileErrorFromOs(error, dir, "Cannot clean up partial files in");
  }
  const oldestKeptMs = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of names) {
    const path = join(dir, name);
    try {
      const info = await Deno.lstat(path);
      if (!info.isFile || info.mtime === null || info.mtime.getTime() >= oldestKeptMs) continue;
      if (inUse(path)) continue;
      await Deno.remove(path);
      removed++;
    } catch {
      // Gone meanwhile, or not ours to remove: leave it.
    }
  }
  return removed;
}

/**
 * How much of a partial data file may be offered for resuming: the largest multiple of
 * {@linkcode fileChunkBytes} not above its size (0 when it is missing or not a regular file).
 * The bytes must still be verified (see `hashFile()` with `length`) before they are trusted.
 *
 * @param dataPath The partial data file.
 * @param displayPath The path to name in errors. Default `dataPath`.
 * @returns The resumable length, in bytes.
 * @throws {FileError} `permission` or `io` if the file cannot be inspected.
 *
 * @example A partial file of 1.5 chunks
 * ```ts
 * import { resumableBytes } from "./partial_files.ts";
 * import { fileChunkBytes } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, ".a.t.ovtp-part");
 *   await Deno.writeFile(path, new Uint8Array(fileChunkBytes * 1.5));
 *   assert.equal(await resumableBytes(path), fileChunkBytes);
 *   assert.equal(await resumableBytes(join(dir, "missing")), 0);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function resumableBytes(
  dataPath: string,
  displayPath: string = dataPath,
): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(dataPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw fileErrorFromOs(error, displayPath, "Cannot inspect the partial file of");
  }
  if (!info.isFile) return 0;
  return info.size - (info.size % fileChunkBytes);
}

/** FNV-1a, 32 bits, over the UTF-8 bytes, as 8 hex digits: to tell shortened names apart. */
function fnv1a32(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, cut between code points. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const length = encoder.encode(char).length;
    if (bytes + length > maxBytes) break;
    bytes += length;
    end += char.length;
  }
  return text.slice(0, end);
}
