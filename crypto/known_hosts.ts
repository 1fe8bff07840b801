/**
 * `KnownHosts`: the client's ssh-style record of server keys. During the client's handshake
 * `ServerKeyPolicy` (`server_key_policy.ts`) checks the key a server presents against it, and
 * records a new one when told to trust on first use.
 *
 * @module
 */

import { KeyFileError } from "../errors.ts";
import { decodeBase64 } from "./base64.ts";
import { appendLine, describeFileError, type FileContents, readFileUpTo } from "./_file.ts";
import { fingerprint } from "./fingerprint.ts";
import { formatPublicKey, type PublicKey, publicKeyType } from "./public_key.ts";
import { timingSafeEqual } from "./timing_safe_equal.ts";

/** A `known_hosts` file larger than this is refused rather than half read. */
const maxKnownHostsBytes = 16_777_216;
const knownHostsFileMode = 0o600;
const knownHostsDirectoryMode = 0o700;
const permissionBits = 0o7777;
const minPort = 1;
const maxPort = 65_535;

/** One key line of a `known_hosts` file, as {@linkcode KnownHosts.list} reads it. */
export interface KnownHostEntry {
  /** The line's number, from 1. */
  lineNumber: number;
  /** The host patterns of the line (`[host]:port`), lower-cased. */
  patterns: string[];
  /** The key's fingerprint (`SHA256:…`). */
  fingerprint: string;
  /** The comment after the key, or `""`. */
  comment: string;
}

/** What {@linkcode KnownHosts.check} concluded about a server's key. */
export type HostKeyStatus = "match" | "unknown" | "mismatch";

/** The result of {@linkcode KnownHosts.check}. */
export interface HostKeyCheck {
  /**
   * `match`: an entry for the host holds this key. `unknown`: no entry for the host.
   * `mismatch`: entries for the host hold only other keys.
   */
  status: HostKeyStatus;
  /** line number of the conflicting entry for "mismatch" */
  lineNumber?: number;
  /** fingerprint of the recorded key for "mismatch" */
  expected?: string;
}

/**
 * Formats the `known_hosts` pattern for a server: `[host]:port`, always bracketed, whatever the
 * port. An IPv6 address goes inside the brackets unchanged (`[::1]:4242`); brackets already
 * around `host` are not doubled. Host names are lower-cased, as DNS ignores case.
 *
 * @param host A host name or IP address, in ASCII (punycode for international names).
 * @param port The TCP port, 1 to 65535.
 * @returns The pattern.
 * @throws {TypeError} If `host` is empty or holds characters that cannot appear in a host.
 * @throws {RangeError} If `port` is not an integer from 1 to 65535.
 *
 * @example Format IPv4, IPv6 and names
 * ```ts
 * import { formatHostPattern } from "./known_hosts.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatHostPattern("127.0.0.1", 4242), "[127.0.0.1]:4242");
 * assert.equal(formatHostPattern("::1", 4242), "[::1]:4242");
 * assert.equal(formatHostPattern("Files.Example.com", 22), "[files.example.com]:22");
 * ```
 */
export function formatHostPattern(host: string, port: number): string {
  if (!Number.isInteger(port) || port < minPort || port > maxPort) {
    throw new RangeError(`Invalid port ${port}: expected an integer from ${minPort} to ${maxPort}`);
  }
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (!/^[A-Za-z0-9._:%-]+$/.test(bare)) {
    throw new TypeError(
      "Invalid host: expected a host name or IP address in ASCII (letters, digits, '.', '-', ':', '%', '_')",
    );
  }
  return `[${bare.toLowerCase()}]:${port}`;
}

/**
 * The client's record of server keys, an ssh-style `known_hosts` file.
 *
 * Each line is `[host]:port ovtp-rsa <base64 SPKI> [comment]`; the first field may list several
 * comma-separated patterns. Blank lines, `#` comments and lines that cannot be read are skipped.
 *
 * @example Trust on first use
 * ```ts
 * import { importPublicKey, KnownHosts } from "../mod.ts";
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
 * const key = await importPublicKey(new Uint8Array(await crypto.subtle.exportKey("spki", publicKey)));
 * const dir = await Deno.makeTempDir();
 * try {
 *   const knownHosts = new KnownHosts(join(dir, "known_hosts"));
 *   assert.equal((await knownHosts.check("127.0.0.1", 4242, key)).status, "unknown");
 *   await knownHosts.add("127.0.0.1", 4242, key);
 *   assert.equal((await knownHosts.check("127.0.0.1", 4242, key)).status, "match");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class KnownHosts {
  /** The `known_hosts` file. */
  readonly path: string;

  /**
   * Follows a `known_hosts` file. Nothing is read until {@linkcode KnownHosts.check}.
   *
   * @param path The `known_hosts` file; it need not exist yet.
   */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Checks a server's key against the file, read afresh. If any entry for `[host]:port` holds
   * this key, the result is `match`; otherwise, if some entry holds another key, `mismatch`
   * with the first such entry's line number and fingerprint; otherwise (or if the file is
   * missing) `unknown`.
   *
   * @param host The host the client connected to.
   * @param port The port the client connected to.
   * @param key The key the server presented.
   * @returns The status and, for `mismatch`, the recorded entry.
   * @throws {KeyFileError} If the file exists but cannot be read, or is larger than 16 MiB.
   * @throws {TypeError} If `host` is invalid (see {@linkcode formatHostPattern}).
   * @throws {RangeError} If `port` is invalid.
   *
   * @example A missing file knows no host
   * ```ts
   * import { KnownHosts, type PublicKey } from "../mod.ts";
   * import assert from "node:assert/strict";
   *
   * const knownHosts = new KnownHosts("/nonexistent/known_hosts");
   * const key = { spki: new Uint8Array([1, 2, 3]) } as PublicKey;
   * assert.deepEqual(await knownHosts.check("example.com", 4242, key), { status: "unknown" });
   * ```
   */
  async check(host: string, port: number, key: PublicKey): Promise<HostKeyCheck> {
    const pattern = formatHostPattern(host, port);
    const text = await this.#read();
    if (text === undefined) return { status: "unknown" };
    let mismatch: { lineNumber: number; spki: Uint8Array } | undefined;
    for (const [index, rawLine] of text.split("\n").entries()) {
      const entry = parseEntry(rawLine);
      if (entry === undefined || !entry.patterns.includes(pattern)) continue;
      if (timingSafeEqual(entry.spki, key.spki)) return { status: "match" };
      mismatch ??= { lineNumber: index + 1, spki: entry.spki };
    }
    if (mismatch === undefined) return { status: "unknown" };
    return {
      status: "mismatch",
      lineNumber: mismatch.lineNumber,
      expected: await fingerprint(mismatch.spki),
    };
  }

  /**
   * Records a server's key: appends `[host]:port ovtp-rsa <base64 SPKI> [comment]` and a line
   * break, creating the file (mode 0600) and its folder (mode 0700) if needed.
   *
   * @param host The host the client connected to.
   * @param port The port the client connected to.
   * @param key The key the server presented.
   * @throws {KeyFileError} If the file cannot be written.
   * @throws {TypeError} If `host` is invalid (see {@linkcode formatHostPattern}).
   * @throws {RangeError} If `port` is invalid.
   *
   * @example Record a key
   * ```ts
   * import { KnownHosts, type PublicKey } from "../mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const knownHosts = new KnownHosts(join(dir, "known_hosts"));
   *   const key = { spki: new Uint8Array([1, 2, 3]), comment: "" } as PublicKey;
   *   await knownHosts.add("::1", 4242, key);
   *   assert.equal(await Deno.readTextFile(knownHosts.path), "[::1]:4242 ovtp-rsa AQID\n");
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async add(host: string, port: number, key: PublicKey): Promise<void> {
    const line = `${formatHostPattern(host, port)} ${formatPublicKey(key)}`;
    try {
      await appendLine(this.path, line, {
        fileMode: knownHostsFileMode,
        directoryMode: knownHostsDirectoryMode,
      });
    } catch (error) {
      throw new KeyFileError(
        `Cannot record host key in "${this.path}": ${describeFileError(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * Lists the key lines of the file, read afresh, in file order (comments, blank lines and
   * unreadable lines left out). A missing file lists nothing.
   *
   * @returns The entries.
   * @throws {KeyFileError} If the file exists but cannot be read, or is larger than 16 MiB.
   *
   * @example List what add() recorded
   * ```ts
   * import { KnownHosts, type PublicKey } from "../mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const knownHosts = new KnownHosts(join(dir, "known_hosts"));
   *   await knownHosts.add("::1", 4242, { spki: new Uint8Array([1, 2, 3]), comment: "" } as PublicKey);
   *   const [entry] = await knownHosts.list();
   *   assert.deepEqual(entry.patterns, ["[::1]:4242"]);
   *   assert.match(entry.fingerprint, /^SHA256:/);
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async list(): Promise<KnownHostEntry[]> {
    const text = await this.#read();
    if (text === undefined) return [];
    const entries: KnownHostEntry[] = [];
    for (const [index, rawLine] of text.split("\n").entries()) {
      const entry = parseEntry(rawLine);
      if (entry === undefined) continue;
      entries.push({
        lineNumber: index + 1,
        patterns: entry.patterns,
        fingerprint: await fingerprint(entry.spki),
        comment: entry.comment,
      });
    }
    return entries;
  }

  /**
   * Forgets every key recorded for `[host]:port`, as `ssh-keygen -R` does: a line naming only
   * that server is removed, a line naming others too loses only that pattern. The file is
   * rewritten through a temporary file renamed over it (keeping its mode, its comments and its
   * other lines), so a crash leaves either the old file or the new one.
   *
   * @param host The server's host.
   * @param port The server's port.
   * @returns The entries that named the server (their `patterns` as they were), empty when none
   *   did (the file is then left untouched).
   * @throws {KeyFileError} If the file cannot be read or rewritten.
   * @throws {TypeError} If `host` is invalid (see {@linkcode formatHostPattern}).
   * @throws {RangeError} If `port` is invalid.
   *
   * @example Forget a server
   * ```ts
   * import { KnownHosts, type PublicKey } from "../mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * try {
   *   const knownHosts = new KnownHosts(join(dir, "known_hosts"));
   *   await knownHosts.add("::1", 4242, { spki: new Uint8Array([1, 2, 3]), comment: "" } as PublicKey);
   *   assert.equal((await knownHosts.remove("::1", 4242)).length, 1);
   *   assert.equal((await knownHosts.remove("::1", 4242)).length, 0);
   *   assert.equal(await Deno.readTextFile(knownHosts.path), "");
   * } finally {
   *   await Deno.remove(dir, { recursive: true });
   * }
   * ```
   */
  async remove(host: string, port: number): Promise<KnownHostEntry[]> {
    const pattern = formatHostPattern(host, port);
    const text = await this.#read();
    if (text === undefined) return [];
    const removed: KnownHostEntry[] = [];
    const kept: string[] = [];
    for (const [index, rawLine] of text.split("\n").entries()) {
      const entry = parseEntry(rawLine);
      if (entry === undefined || !entry.patterns.includes(pattern)) {
        kept.push(rawLine);
        continue;
      }
      removed.push({
        lineNumber: index + 1,
        patterns: entry.patterns,
        fingerprint: await fingerprint(entry.spki),
        comment: entry.comment,
      });
      const others = entry.patterns.filter((other) => other !== pattern);
      if (others.length > 0) kept.push(`${others.join(",")} ${entry.rest}`);
    }
    if (removed.length === 0) return removed;
    try {
      await replaceFile(this.path, kept.join("\n"));
    } catch (error) {
      throw new KeyFileError(
        `Cannot rewrite known hosts file "${this.path}": ${describeFileError(error)}`,
        { cause: error },
      );
    }
    return removed;
  }

  /** Reads the file; `undefined` if it does not exist. */
  async #read(): Promise<string | undefined> {
    let contents: FileContents;
    try {
      contents = await readFileUpTo(this.path, maxKnownHostsBytes);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new KeyFileError(
        `Cannot read known hosts file "${this.path}": ${describeFileError(error)}`,
        { cause: error },
      );
    }
    if (contents.bytes === undefined) {
      throw new KeyFileError(
        `Cannot read known hosts file "${this.path}": it is not a regular file of at most ${maxKnownHostsBytes} bytes`,
      );
    }
    return new TextDecoder().decode(contents.bytes);
  }
}

interface Entry {
  patterns: string[];
  spki: Uint8Array;
  /** The line after its patterns: the key type, the key and the comment. */
  rest: string;
  comment: string;
}

/** Reads one line; `undefined` for blank, comment and unreadable lines. */
function parseEntry(rawLine: string): Entry | undefined {
  const line = rawLine.trim();
  if (line === "" || line.startsWith("#")) return undefined;
  const match = /^(\S+)\s+((\S+)\s+(\S+)(?:\s+(.*))?)$/.exec(line);
  if (match === null || match[3] !== publicKeyType) return undefined;
  let spki: Uint8Array;
  try {
    spki = decodeBase64(match[4]);
  } catch {
    return undefined;
  }
  const patterns = match[1].split(",").map((pattern) => pattern.toLowerCase());
  return { patterns, spki, rest: match[2], comment: match[5] ?? "" };
}

/** Writes `text` to a temporary file beside `path`, with `path`'s mode, and renames it over. */
async function replaceFile(path: string, text: string): Promise<void> {
  const { mode } = await Deno.stat(path);
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, {
      createNew: true,
      mode: (mode ?? knownHostsFileMode) & permissionBits,
    });
    if (mode !== null) await Deno.chmod(temporary, mode & permissionBits);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}
