import { dirname } from "node:path";

const readChunkBytes = 65_536;
const newline = 0x0a;

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
