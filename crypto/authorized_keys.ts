/**
 * `AuthorizedKeys`: the client keys a server lets in, read from an ssh-style `authorized_keys`
 * file (re-read when it changes) or given in memory, each with its options (`key_permissions.ts`).
 * The server's handshake looks the client's key up here before it accepts it. Over 450 lines,
 * nearly half of them docs: parsing lines, following the file and the StrictModes checks.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { KeyFileError } from "../errors.ts";
import {
  appendLine,
  assertNotWritableByOthers,
  describeFileError,
  type FileContents,
  readFileUpTo,
} from "./_file.ts";
import { KeyProblem } from "./_key_problem.ts";
import { checkKeyOptions } from "./key_permissions.ts";
import { formatPublicKey, parsePublicKey, type PublicKey, publicKeyType } from "./public_key.ts";

/** An `authorized_keys` file larger than this authorizes no key at all. */
const maxAuthorizedKeysBytes = 1_048_576;
/** Keys after this many are ignored. */
const maxAuthorizedKeys = 10_000;
/** Keys imported into Web Crypto at the same time. */
const importBatchSize = 256;
/**
 * File times are coarse (a few milliseconds on Linux, a second for Deno's `ctime`, two on FAT):
 * a file changed this recently before it was read may change again without its status showing
 * it, so it is read again next time.
 */
const racyModificationMs = 2_000;
const authorizedKeysFileMode = 0o600;
const authorizedKeysDirectoryMode = 0o700;

/** Options of {@linkcode AuthorizedKeys.fromFile}. */
export interface AuthorizedKeysOptions {
  /**
   * Called with each problem of a read of the file that the read before did not have (a line
   * skipped, a file too large or writable by others), one line each, without key material; the
   * same problems are in {@linkcode AuthorizedKeys.warnings}. A server passes them to its log.
   */
  onWarning?: (warning: string) => void;
}

/** One key allowed to log in, with the options written before it. */
export interface AuthorizedKey {
  /** The key. */
  readonly publicKey: PublicKey;
  /**
   * The ssh-style options before the key type, by lower-cased name: `read-only` gives `true`,
   * `from="10.0.0.1"` gives `"10.0.0.1"`. Empty when there are none. Only options ovtp knows
   * (see {@linkcode checkKeyOptions}): a line with any other is skipped.
   */
  readonly options: ReadonlyMap<string, string | true>;
  /** The 1-based line in the file; 0 for keys given to {@linkcode AuthorizedKeys.fromKeys}. */
  readonly lineNumber: number;
}

/**
 * The set of client keys a server accepts, looked up by fingerprint.
 *
 * {@linkcode AuthorizedKeys.fromFile} follows an `authorized_keys` file: every
 * {@linkcode AuthorizedKeys.find} checks the file's status and reads it again if it changed, so
 * removing a line revokes the key for the next handshake. Like sshd's StrictModes, it accepts no
 * key from a file that the group or others may write, or that sits in a folder they may write.
 *
 * @example Look up keys in a file
 * ```ts
 * import { AuthorizedKeys } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const authorized = AuthorizedKeys.fromFile(join(dir, "authorized_keys"));
 *   assert.equal(await authorized.find("SHA256:unknown"), undefined);
 *
 *   await Deno.writeTextFile(join(dir, "authorized_keys"), "ssh-rsa AAAA old@key\n");
 *   assert.equal(await authorized.find("SHA256:unknown"), undefined);
 *   assert.deepEqual(authorized.warnings, ["authorized_keys line 1: not an ovtp-rsa key; skipped"]);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class AuthorizedKeys {
  readonly #path: string | undefined;
  readonly #onWarning: ((warning: string) => void) | undefined;
  #keys: Map<string, AuthorizedKey>;
  #warnings: readonly string[] = [];
  /** Status of the file whose keys are held; `undefined` before the first read. */
  #signature: string | undefined;
  /** Whether the file was read so soon after a change that its status may not show the next. */
  #racy = false;
  #refreshing: Promise<void> | undefined;

  private constructor(
    path: string | undefined,
    keys: Map<string, AuthorizedKey>,
    onWarning?: (warning: string) => void,
  ) {
    this.#path = path;
    this.#keys = keys;
    this.#onWarning = onWarning;
  }

  /**
   * Follows an `authorized_keys` file. Nothing is read until the first
   * {@linkcode AuthorizedKeys.find}; from then on, each `find` checks the file's status (time,
   * size, inode) and reads it again when it changed. A missing file authorizes no key, and so
   * does a file that fails {@linkcode AuthorizedKeys.checkPermissions} (checked on every `find`,
   * so a file made writable later stops admitting at once): its problem is reported as a warning.
   *
   * @param path The file.
   * @param options Where to report warnings.
   * @returns The set.
   *
   * @example A missing file authorizes nobody
   * ```ts
   * import { AuthorizedKeys } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * const authorized = AuthorizedKeys.fromFile("/nonexistent/authorized_keys");
   * assert.equal(await authorized.find("SHA256:anything"), undefined);
   * ```
   */
  static fromFile(path: string, options: AuthorizedKeysOptions = {}): AuthorizedKeys {
    return new AuthorizedKeys(path, new Map(), options.onWarning);
  }

  /**
   * Checks that neither the group nor others may write an `authorized_keys` file or the folder
   * holding it (the folder of the path given and, if the file is a symbolic link, the folder of
   * the file it leads to), as sshd's StrictModes does. A missing file passes. Not checked on
   * Windows.
   *
   * @param path The file.
   * @throws {KeyFileError} If one of them is writable by group or others (the message names it
   * and the `chmod go-w` that fixes it), or cannot be checked.
   *
   * @example Refuse a world-writable file
   * ```ts
   * import { AuthorizedKeys } from "../mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const path = join(dir, "authorized_keys");
   *   await Deno.writeTextFile(path, "");
   *   await AuthorizedKeys.checkPermissions(path);
   *   await Deno.chmod(path, 0o666);
   *   await assert.rejects(AuthorizedKeys.checkPermissions(path), /run: chmod go-w /);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  static async checkPermissions(path: string): Promise<void> {
    if (Deno.build.os === "windows") return;
    await assertNotWritableByOthers(path, `Authorized keys file "${path}"`);
    const folders = new Set([dirname(resolve(path))]);
    try {
      folders.add(dirname(await Deno.realPath(path)));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw readError(path, error);
    }
    for (const folder of folders) {
      await assertNotWritableByOthers(
        folder,
        `The folder "${folder}" holding authorized keys file "${path}"`,
      );
    }
  }

  /**
   * A fixed, in-memory set of keys. A {@linkcode PublicKey} given alone has no options and line
   * number 0. If a fingerprint comes twice, the first wins.
   *
   * @param keys The keys.
   * @returns The set.
   * @throws {TypeError} If a key's options are not ones ovtp knows (see
   * {@linkcode checkKeyOptions}), as a file line with them would be skipped.
   *
   * @example Authorize one key
   * ```ts
   * import { AuthorizedKeys, importPublicKey } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * const { publicKey } = await crypto.subtle.generateKey(
   *   {
   *     name: "RSA-PSS",
   *     modulusLength: 2048,
   *     publicExponent: new Uint8Array([1, 0, 1]),
   *     hash: "SHA-256",
   *   },
   *   true,
   *   ["sign", "verify"],
   * );
   * const key = await importPublicKey(new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)));
   * const authorized = AuthorizedKeys.fromKeys([key]);
   * assert.equal((await authorized.find(key.fingerprint))?.publicKey, key);
   * assert.equal(await authorized.find("SHA256:someone-else"), undefined);
   * ```
   */
  static fromKeys(keys: Iterable<PublicKey | AuthorizedKey>): AuthorizedKeys {
    const byFingerprint = new Map<string, AuthorizedKey>();
    for (const key of keys) {
      const entry: AuthorizedKey = "publicKey" in key
        ? key
        : { publicKey: key, options: new Map(), lineNumber: 0 };
      checkKeyOptions(entry.options);
      const fingerprint = entry.publicKey.fingerprint;
      if (!byFingerprint.has(fingerprint)) byFingerprint.set(fingerprint, entry);
    }
    return new AuthorizedKeys(undefined, byFingerprint);
  }

  /**
   * Problems met the last time the file was read (lines skipped, file too large or writable by
   * others), one line each, without key material. Empty for {@linkcode AuthorizedKeys.fromKeys}.
   *
   * @returns The warnings.
   *
   * @example No warnings before the first read
   * ```ts
   * import { AuthorizedKeys } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * assert.deepEqual(AuthorizedKeys.fromFile("authorized_keys").warnings, []);
   * ```
   */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /**
   * How many keys the set holds (for a file, as of its last read).
   *
   * @returns The number of keys.
   *
   * @example Count keys
   * ```ts
   * import { AuthorizedKeys } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(AuthorizedKeys.fromKeys([]).size, 0);
   * ```
   */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Reads the file now if it changed, as {@linkcode AuthorizedKeys.find} does, so that
   * {@linkcode AuthorizedKeys.warnings} and {@linkcode AuthorizedKeys.size} are current: a server
   * calls it at start to report problems before the first client comes.
   *
   * @throws {KeyFileError} If the file exists but cannot be read.
   *
   * @example Read a file at start
   * ```ts
   * import { AuthorizedKeys } from "../mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   await Deno.writeTextFile(join(dir, "authorized_keys"), "readonly ovtp-rsa AAAA\n");
   *   const reported: string[] = [];
   *   const authorized = AuthorizedKeys.fromFile(join(dir, "authorized_keys"), {
   *     onWarning: (warning) => reported.push(warning),
   *   });
   *   await authorized.refresh();
   *   assert.equal(authorized.size, 0);
   *   assert.equal(reported.length, 1);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async refresh(): Promise<void> {
    if (this.#path !== undefined) await this.#refresh(this.#path);
  }

  /**
   * Looks up a key by fingerprint, reading the file again first if it changed.
   *
   * @param fingerprint The fingerprint of the key a client presented (`SHA256:...`).
   * @returns The key and its options, or `undefined` if it is not authorized.
   * @throws {KeyFileError} If the file exists but cannot be read, or its permissions cannot be
   * checked.
   *
   * @example Find nothing in an empty set
   * ```ts
   * import { AuthorizedKeys } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(await AuthorizedKeys.fromKeys([]).find("SHA256:x"), undefined);
   * ```
   */
  async find(fingerprint: string): Promise<AuthorizedKey | undefined> {
    if (this.#path !== undefined) await this.#refresh(this.#path);
    return this.#keys.get(fingerprint);
  }

  /** Runs one refresh at a time; a call made during a refresh checks the file again after it. */
  async #refresh(path: string): Promise<void> {
    while (this.#refreshing !== undefined) await this.#refreshing.catch(() => {});
    const refreshing = this.#reload(path).finally(() => {
      this.#refreshing = undefined;
    });
    this.#refreshing = refreshing;
    await refreshing;
  }

  async #reload(path: string): Promise<void> {
    try {
      await AuthorizedKeys.checkPermissions(path);
    } catch (error) {
      if (!(error instanceof KeyFileError)) throw error;
      // No key from a file others may change (or whose permissions cannot be checked); read it
      // again once that is fixed.
      return this.#replace("unsafe", false, [], [`authorized_keys: ${error.message}`]);
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return this.#replace("missing", false, [], []);
      throw readError(path, error);
    }
    if (signatureOf(info) === this.#signature && !this.#racy) return;

    const readStartedMs = Date.now();
    let contents: FileContents;
    try {
      contents = await readFileUpTo(path, maxAuthorizedKeysBytes);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return this.#replace("missing", false, [], []);
      throw readError(path, error);
    }
    const signature = signatureOf(contents.info);
    // The change time cannot be set back like the modification time (`cp -p`, `touch -d`).
    const times = [contents.info.mtime, contents.info.ctime].filter((time) => time !== null);
    const changedMs = Math.max(...times.map((time) => time.getTime()));
    const racy = times.length === 0 || changedMs >= readStartedMs - racyModificationMs;
    if (!contents.info.isFile) {
      throw new KeyFileError(
        `Cannot read authorized keys file "${path}": it is not a regular file`,
      );
    }
    if (contents.bytes === undefined) {
      const warning =
        `authorized_keys: the file is larger than ${maxAuthorizedKeysBytes} bytes; no key is authorized`;
      return this.#replace(signature, racy, [], [warning]);
    }
    const { keys, warnings } = await parseLines(new TextDecoder().decode(contents.bytes));
    this.#replace(signature, racy, keys, warnings);
  }

  #replace(
    signature: string,
    racy: boolean,
    keys: readonly AuthorizedKey[],
    warnings: readonly string[],
  ): void {
    this.#keys = new Map(keys.map((key) => [key.publicKey.fingerprint, key]));
    const before = new Set(this.#warnings);
    this.#warnings = Object.freeze([...warnings]);
    for (const warning of warnings) {
      if (before.has(warning)) continue;
      try {
        this.#onWarning?.(warning);
      } catch {
        // A failing reporter must not change who is let in.
      }
    }
    this.#signature = signature;
    this.#racy = racy;
  }
}

/**
 * Parses the text of an `authorized_keys` file.
 *
 * Each line is `[options] ovtp-rsa <base64 SPKI> [comment]`. Blank lines and lines starting with
 * `#` are skipped. Options, as in ssh, come before the key type: a comma-separated list of
 * `name` or `name=value`, where a value in double quotes may hold commas and spaces (and `\"`).
 * Only the options ovtp knows are accepted (see {@linkcode checkKeyOptions}): a line with an
 * unknown or malformed option, or one given twice, is skipped as a whole, so its key gets no
 * more than its author meant. A line that cannot be used is skipped with a warning naming the
 * line and the problem; this never throws because of the text.
 * Text over 1 MiB authorizes no key; keys after the 10,000th are ignored.
 *
 * @param text The file's text.
 * @returns The keys and the warnings.
 *
 * @example Skip what cannot be used
 * ```ts
 * import { parseAuthorizedKeys } from "./authorized_keys.ts";
 * import assert from "node:assert/strict";
 *
 * const { keys, warnings } = await parseAuthorizedKeys(
 *   "# team keys\n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5 old@laptop\nfrom=\"10.0.0.1 ovtp-rsa\n",
 * );
 * assert.equal(keys.length, 0);
 * assert.deepEqual(warnings, [
 *   "authorized_keys line 3: not an ovtp-rsa key; skipped",
 *   "authorized_keys line 4: an option value has no closing quote; skipped",
 * ]);
 * ```
 */
export async function parseAuthorizedKeys(
  text: string,
): Promise<{ keys: AuthorizedKey[]; warnings: string[] }> {
  const { keys, warnings } = await parseLines(text);
  return { keys, warnings };
}

interface ParsedLines {
  keys: AuthorizedKey[];
  warnings: string[];
  /** The first line of each key whose line was skipped for its options, by fingerprint. */
  refused: Map<string, number>;
}

async function parseLines(text: string): Promise<ParsedLines> {
  const refused = new Map<string, number>();
  if (text.length > maxAuthorizedKeysBytes) {
    return {
      keys: [],
      warnings: [
        `authorized_keys: the text is larger than ${maxAuthorizedKeysBytes} bytes; no key is authorized`,
      ],
      refused,
    };
  }
  const keys: AuthorizedKey[] = [];
  const problems: Problem[] = [];
  const firstLineByFingerprint = new Map<string, number>();
  const candidates = findCandidates(text.split("\n"), problems);
  importing: for (let start = 0; start < candidates.length; start += importBatchSize) {
    const batch = candidates.slice(start, start + importBatchSize);
    for (const result of await Promise.all(batch.map(importCandidate))) {
      const { lineNumber, key } = result;
      if (key === undefined) {
        problems.push({ lineNumber, problem: result.problem });
        if (result.refused !== undefined && !refused.has(result.refused)) {
          refused.set(result.refused, lineNumber);
        }
        continue;
      }
      const firstLine = firstLineByFingerprint.get(key.publicKey.fingerprint);
      if (firstLine !== undefined) {
        problems.push({ lineNumber, problem: `the same key as line ${firstLine}` });
        continue;
      }
      if (keys.length === maxAuthorizedKeys) {
        const problem = `over the ${maxAuthorizedKeys}-key limit (and so are all later lines)`;
        problems.push({ lineNumber, problem });
        break importing;
      }
      firstLineByFingerprint.set(key.publicKey.fingerprint, lineNumber);
      keys.push(key);
    }
  }
  const warnings = problems
    .sort((a, b) => a.lineNumber - b.lineNumber)
    .map(({ lineNumber, problem }) => `authorized_keys line ${lineNumber}: ${problem}; skipped`);
  return { keys, warnings, refused };
}

/**
 * Appends a key to an `authorized_keys` file, creating the file (mode 0600) and its folder (mode
 * 0700) if needed. Nothing is written if a key with the same fingerprint is already there. A key
 * whose line is there but skipped for its options is not added again without them: that would
 * give it more than the line meant.
 *
 * @param path The file.
 * @param key The key to authorize.
 * @returns `true` if the key was added, `false` if it was already there.
 * @throws {KeyFileError} If the file cannot be read or written, or is too large to use, or holds
 * the key on a line skipped for its options (fix or remove that line first).
 *
 * @example Add a key once
 * ```ts
 * import { addAuthorizedKey, AuthorizedKeys, importPublicKey } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const { publicKey } = await crypto.subtle.generateKey(
 *   {
 *     name: "RSA-PSS",
 *     modulusLength: 2048,
 *     publicExponent: new Uint8Array([1, 0, 1]),
 *     hash: "SHA-256",
 *   },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
 * const key = await importPublicKey(spki, "alice@laptop");
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, "authorized_keys");
 *   assert.equal(await addAuthorizedKey(path, key), true);
 *   assert.equal(await addAuthorizedKey(path, key), false);
 *   assert.equal((await AuthorizedKeys.fromFile(path).find(key.fingerprint))?.lineNumber, 1);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function addAuthorizedKey(path: string, key: PublicKey): Promise<boolean> {
  let contents: FileContents | undefined;
  try {
    contents = await readFileUpTo(path, maxAuthorizedKeysBytes);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw readError(path, error);
  }
  if (contents !== undefined) {
    if (contents.bytes === undefined) {
      throw new KeyFileError(
        `Cannot add key to "${path}": it is not a regular file of at most ${maxAuthorizedKeysBytes} bytes; tidy it up first`,
      );
    }
    const { keys, refused } = await parseLines(new TextDecoder().decode(contents.bytes));
    if (keys.some((entry) => entry.publicKey.fingerprint === key.fingerprint)) return false;
    const line = refused.get(key.fingerprint);
    if (line !== undefined) {
      throw new KeyFileError(
        `Cannot add key to "${path}": line ${line} already holds it, with options ovtp does not ` +
          `accept (so it is skipped); fix or remove that line first`,
      );
    }
  }
  try {
    await appendLine(path, formatPublicKey(key), {
      fileMode: authorizedKeysFileMode,
      directoryMode: authorizedKeysDirectoryMode,
    });
  } catch (error) {
    throw new KeyFileError(`Cannot add key to "${path}": ${describeFileError(error)}`, {
      cause: error,
    });
  }
  return true;
}

interface Candidate {
  lineNumber: number;
  options: Map<string, string | true>;
  rest: string;
}

type CandidateResult =
  | { lineNumber: number; key: AuthorizedKey; problem?: undefined; refused?: undefined }
  | {
    lineNumber: number;
    key?: undefined;
    problem: string;
    /** The fingerprint of a key whose line was refused for its options. */
    refused?: string;
  };

interface Problem {
  lineNumber: number;
  problem: string;
}

/** Picks the lines that may hold a key; notes a problem for lines with malformed options. */
function findCandidates(lines: string[], problems: Problem[]): Candidate[] {
  const candidates: Candidate[] = [];
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const lineNumber = index + 1;
    const split = splitOptions(line);
    if (typeof split === "string") {
      problems.push({ lineNumber, problem: split });
    } else {
      candidates.push({ lineNumber, ...split });
    }
  }
  return candidates;
}

async function importCandidate(candidate: Candidate): Promise<CandidateResult> {
  const { lineNumber, options, rest } = candidate;
  let publicKey: PublicKey;
  try {
    publicKey = await parsePublicKey(rest);
  } catch (error) {
    const problem = error instanceof KeyProblem ? error.reason : "the key cannot be read";
    return { lineNumber, problem };
  }
  try {
    checkKeyOptions(options);
  } catch (error) {
    return { lineNumber, problem: (error as Error).message, refused: publicKey.fingerprint };
  }
  return { lineNumber, key: { publicKey, options, lineNumber } };
}

interface SplitLine {
  options: Map<string, string | true>;
  rest: string;
}

/** Splits `opt1,opt2="x y" ovtp-rsa AAAA comment` into its options and the key part. */
function splitOptions(line: string): SplitLine | string {
  const options = new Map<string, string | true>();
  if (new RegExp(`^${publicKeyType}(\\s|$)`).test(line)) return { options, rest: line };
  let position = 0;
  while (true) {
    const name = /^[A-Za-z0-9_-]+/.exec(line.slice(position))?.[0];
    if (name === undefined) return "malformed options before the key type";
    position += name.length;
    let value: string | true = true;
    if (line[position] === "=") {
      position++;
      if (line[position] === '"') {
        const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(line.slice(position));
        if (quoted === null) return "an option value has no closing quote";
        value = quoted[1].replace(/\\"/g, '"');
        position += quoted[0].length;
      } else {
        value = /^[^\s,"]*/.exec(line.slice(position))![0];
        position += value.length;
      }
    }
    const key = name.toLowerCase();
    if (options.has(key)) return `the option "${key}" is given twice`;
    options.set(key, value);
    const next = line[position];
    if (next === ",") {
      position++;
      continue;
    }
    if (next === undefined) return "the key is missing after the options";
    if (!/\s/.test(next)) return "malformed options before the key type";
    return { options, rest: line.slice(position).trim() };
  }
}

function signatureOf(info: Deno.FileInfo): string {
  return [info.mtime?.getTime(), info.ctime?.getTime(), info.size, info.ino, info.dev].join(":");
}

function readError(path: string, error: unknown): KeyFileError {
  return new KeyFileError(
    `Cannot read authorized keys file "${path}": ${describeFileError(error)}`,
    { cause: error },
  );
}
