/**
 * Internal: the file helpers of the key files (`identity.ts`, `authorized_keys.ts`,
 * `known_hosts.ts`): read a small file with a size cap, append a line, describe a failure in a few
 * words, refuse a file others may write (as sshd's StrictModes), quote a path for a shell.
 *
 * @module
 */

import { dirname } from "node:path";
import { KeyFileError } from "../errors.ts";

const readChunkBytes = 65_536;
const newline = 0x0a;
/** Mode bits that let the group or others write a file, or add and remove names in a folder. */
const groupOtherWriteModeBits = 0o022;
/** Permission bits for group and others: a secret file must have none of them. */
const groupOtherModeBits = 0o077;
const permissionModeBits = 0o7777;

/** What {@linkcode readFileUpTo} found. */
export interface FileContents {
  /** The status of the opened file (not of the path: no race between the two). */
  info: Deno.FileInfo;
  /** The contents, or `undefined` if the file is not a regular file or is larger than allowed. */
  bytes: Uint8Array | undefined;
}

/**
 * Opens `path`, checks the open file's status with `inspect` (which may throw to refuse it), and
 * reads it whole if it is a regular file of at most `maxBytes` bytes.
 *
 * @param path The file to read.
 * @param maxBytes The most bytes to read.
 * @param inspect Called with the file's status before anything is read.
 * @returns The status and, when the file was read, the contents.
 * @throws {Deno.errors.NotFound} And the other `Deno.errors` if the file cannot be opened.
 *
 * @example Read a small file
 * ```ts
 * import { readFileUpTo } from "./_file.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(join(dir, "a"), "hello");
 *   assert.equal((await readFileUpTo(join(dir, "a"), 5)).bytes?.length, 5);
 *   assert.equal((await readFileUpTo(join(dir, "a"), 4)).bytes, undefined);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function readFileUpTo(
  path: string,
  maxBytes: number,
  inspect?: (info: Deno.FileInfo) => void,
): Promise<FileContents> {
  const file = await Deno.open(path, { read: true });
  try {
    const info = await file.stat();
    inspect?.(info);
    if (!info.isFile || info.size > maxBytes) return { info, bytes: undefined };
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (total <= maxBytes) {
      const chunk = new Uint8Array(readChunkBytes);
      const count = await file.read(chunk);
      if (count === null) break;
      chunks.push(chunk.subarray(0, count));
      total += count;
    }
    if (total > maxBytes) return { info, bytes: undefined };
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return { info, bytes };
  } finally {
    file.close();
  }
}

/** File and folder modes for {@linkcode appendLine}. */
export interface AppendLineOptions {
  /** Mode of the file if it is created. */
  fileMode: number;
  /** Mode of the parent folders that are created. */
  directoryMode: number;
}

/**
 * Appends `line` and a line break to a text file, creating the file and its folder if needed.
 * If the file does not end with a line break, one is added first, so the line stands alone.
 *
 * @param path The file.
 * @param line One line, without a line break.
 * @param options Modes for what gets created.
 *
 * @example Append to a new file
 * ```ts
 * import { appendLine } from "./_file.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, "sub", "list");
 *   await appendLine(path, "one", { fileMode: 0o600, directoryMode: 0o700 });
 *   await appendLine(path, "two", { fileMode: 0o600, directoryMode: 0o700 });
 *   assert.equal(await Deno.readTextFile(path), "one\ntwo\n");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function appendLine(
  path: string,
  line: string,
  options: AppendLineOptions,
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: options.directoryMode });
  const file = await Deno.open(path, {
    read: true,
    append: true,
    create: true,
    mode: options.fileMode,
  });
  try {
    const { size } = await file.stat();
    let prefix = "";
    if (size > 0) {
      const last = new Uint8Array(1);
      await file.seek(-1, Deno.SeekMode.End);
      if (await file.read(last) === 1 && last[0] !== newline) prefix = "\n";
    }
    const bytes = new TextEncoder().encode(`${prefix}${line}\n`);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
  } finally {
    file.close();
  }
}

/**
 * Describes why a file operation failed, in a few words, for an error message.
 *
 * @param error What a `Deno.*` file function threw.
 * @returns For example `"the file does not exist"`.
 *
 * @example Describe NotFound
 * ```ts
 * import { describeFileError } from "./_file.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(describeFileError(new Deno.errors.NotFound("x")), "the file does not exist");
 * ```
 */
export function describeFileError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "the file does not exist";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.AlreadyExists) return "the file already exists";
  if (error instanceof Deno.errors.IsADirectory) return "it is a folder";
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Refuses a file or folder that decides who is trusted when the group or others may write it
 * (mode bits 0022), as sshd's StrictModes does: anyone who may write `authorized_keys`, or the
 * folder holding it, may let their own key in. Skipped on Windows, whose files have no such mode
 * bits, and for a path that does not exist.
 *
 * @param path The file or folder.
 * @param description What it is, to start the message: `Authorized keys file "/x"`.
 * @throws {KeyFileError} If group or others may write it; the message names the `chmod` that
 * fixes it. And if its status cannot be read (other than because it does not exist).
 *
 * @example Refuse a world-writable file
 * ```ts
 * import { assertNotWritableByOthers } from "./_file.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, "authorized_keys");
 *   await Deno.writeTextFile(path, "");
 *   await Deno.chmod(path, 0o666);
 *   await assert.rejects(assertNotWritableByOthers(path, "Authorized keys file"), /chmod go-w/);
 *   await Deno.chmod(path, 0o600);
 *   await assertNotWritableByOthers(path, "Authorized keys file");
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function assertNotWritableByOthers(path: string, description: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw new KeyFileError(
      `Cannot check the permissions of "${path}": ${describeFileError(error)}`,
      { cause: error },
    );
  }
  if (info.mode === null || (info.mode & groupOtherWriteModeBits) === 0) return;
  const octal = (info.mode & permissionModeBits).toString(8).padStart(4, "0");
  throw new KeyFileError(
    `${description} is writable by group or others (mode ${octal}), so they could change ` +
      `which keys are trusted; ovtp refuses it until you run: chmod go-w ${shellQuote(path)}`,
  );
}

/**
 * Refuses a secret file (a private key, the ticket keys) that group or others may access at all,
 * with the `chmod 600` that fixes it. `mode` is the file's mode as `Deno.stat` gave it.
 *
 * @throws {KeyFileError} The mode has a group or other bit set.
 *
 * @example
 * ```ts
 * import { assertOwnerOnly } from "./_file.ts";
 * import assert from "node:assert/strict";
 *
 * assertOwnerOnly("/k", 0o100600, "Private key file");
 * assert.throws(() => assertOwnerOnly("/k", 0o100640, "Private key file"), /chmod 600 \/k/);
 * ```
 */
export function assertOwnerOnly(path: string, mode: number, description: string): void {
  if ((mode & groupOtherModeBits) === 0) return;
  const octal = (mode & permissionModeBits).toString(8).padStart(4, "0");
  throw new KeyFileError(
    `${description} "${path}" is accessible by group or others (mode ${octal}); run: chmod 600 ${
      shellQuote(path)
    }`,
  );
}

/**
 * Quotes a path for a shell command the user may copy, when it holds anything but safe
 * characters.
 *
 * @param path The path.
 * @returns The path, quoted if needed.
 *
 * @example
 * ```ts
 * import { shellQuote } from "./_file.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(shellQuote("/home/a/.ovtp"), "/home/a/.ovtp");
 * assert.equal(shellQuote("/my keys"), "'/my keys'");
 * ```
 */
export function shellQuote(path: string): string {
  if (/^[A-Za-z0-9_/.,:@%+=-]+$/.test(path)) return path;
  return `'${path.replaceAll("'", `'\\''`)}'`;
}
