/**
 * The file operations' shared vocabulary (SPEC.md, "File operations"): stream error codes for
 * each {@linkcode FileErrorReason}, and strict readers for the fields of file stream heads.
 *
 * @module
 */

import { FileError, type FileErrorReason, RemoteError } from "../errors.ts";
import { StreamError } from "../wire/protocol_codes.ts";

/** Stream error codes of the file operations, by reason. */
export const fileErrorCodes: Readonly<Record<FileErrorReason, number>> = {
  not_found: StreamError.notFound,
  exists: StreamError.exists,
  outside_root: StreamError.outsideRoot,
  permission: StreamError.permission,
  unsupported_type: StreamError.unsupportedType,
  io: StreamError.io,
  digest_mismatch: StreamError.digestMismatch,
  changed: StreamError.changed,
  bad_path: StreamError.badPath,
  not_empty: StreamError.notEmpty,
};

const reasonsByCode = new Map(
  Object.entries(fileErrorCodes).map(([reason, code]) => [code, reason as FileErrorReason]),
);

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
 * The `mtimeMs` to put in a head for a file the file system dated `mtime`: milliseconds since the
 * epoch when that is in the range SPEC.md allows (0 to 2^53 - 1), else `null` (a file dated
 * before 1970, or a platform without times). The one place every sender of a time uses, so that
 * no peer receives a time it must refuse.
 *
 * @example A file dated before 1970 is sent without a time
 * ```ts
 * import { wireMtimeMs } from "./file_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(wireMtimeMs(new Date(1_700_000_000_000)), 1_700_000_000_000);
 * assert.equal(wireMtimeMs(new Date(-1000)), null);
 * assert.equal(wireMtimeMs(null), null);
 * ```
 */
export function wireMtimeMs(mtime: Date | null | undefined): number | null {
  const ms = mtime?.getTime();
  return ms !== undefined && Number.isSafeInteger(ms) && ms >= 0 ? ms : null;
}

/** Bytes of the digest that closes the content of an upload or a download. */
export const digestBytes = 32;
/** Largest file size accepted in a head: 2^53 - 1. */
export const maxFileBytes = Number.MAX_SAFE_INTEGER;
/** Largest path accepted in a head, in UTF-16 code units (the sandbox checks bytes). */
export const maxPathLength = 4096;
/** Largest path in UTF-8 bytes (SPEC.md, "Paths"). */
export const maxPathBytes = 4096;
/** Largest path component in UTF-8 bytes (SPEC.md, "Paths"). */
export const maxPathComponentBytes = 255;
/** Most entries one listing may hold (SPEC.md, "LIST"); the client refuses more. */
export const maxListEntries = 1_000_000;
/**
 * Longest line of a listing, newline excluded (SPEC.md, "LIST"). A conforming line holds a path
 * and a link target of at most 4096 bytes each, at most 6 bytes per byte once escaped in JSON
 * (`\u001b`), and five short fields: under 50 KiB.
 */
export const maxListLineBytes = 65536;
/**
 * Bytes a receiver buffers before writing to its file. Each file write costs about 2 ms of fixed
 * overhead in Deno (a worker-thread trip): 1 MiB writes reach about 480 MB/s, 4 MiB writes about
 * 1.9 GB/s on the reference machine.
 */
export const fileWriteBufferBytes = 4 * 1024 * 1024;
/**
 * The write buffer for `bytes` of content: {@linkcode fileWriteBufferBytes} for large files,
 * no more than the content (at least 4 KiB) for small ones, so that many small files do not each
 * allocate and clear 4 MiB.
 *
 * @example
 * ```ts
 * import { writeBufferBytes } from "./file_protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(writeBufferBytes(1000), 4096);
 * assert.equal(writeBufferBytes(1 << 30), 4 * 1024 * 1024);
 * ```
 */
export function writeBufferBytes(bytes: number): number {
  return Math.min(fileWriteBufferBytes, Math.max(4096, bytes));
}

/** Flow-control window of a file stream's receiving side. */
export const fileWindowBytes = 8 * 1024 * 1024;

/**
 * The stream error code for a file error.
 *
 * @example
 * ```ts
 * import { fileErrorCode } from "./file_protocol.ts";
 * import { FileError } from "../errors.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(fileErrorCode(new FileError("exists", { reason: "exists", path: "a" })), 11);
 * ```
 */
export function fileErrorCode(error: FileError): number {
  return fileErrorCodes[error.reason];
}

/**
 * What a library caller passes to replace an existing file: every "exists" refusal of an upload
 * or a download ends with it, so the error names the option that would have allowed the call.
 */
export const overwriteHint = "pass { overwrite: true } to replace it";

/**
 * Turns a peer's reset into a {@linkcode FileError} when its code is a file code; other errors
 * come back unchanged. Where `hints` has a text for the reason, it replaces the server's text:
 * the client knows which of its options would have allowed the call, the server does not.
 *
 * @example
 * ```ts
 * import { remoteFileError } from "./file_protocol.ts";
 * import { FileError, RemoteError } from "../errors.ts";
 * import assert from "node:assert/strict";
 *
 * const error = remoteFileError(new RemoteError("x", { remoteCode: 12 }), "../etc/passwd");
 * assert.ok(error instanceof FileError);
 * assert.equal(error.reason, "outside_root");
 *
 * const exists = remoteFileError(new RemoteError("x exists", { remoteCode: 11 }), "x", {
 *   exists: "it already exists there; pass { overwrite: true } to replace it",
 * });
 * assert.equal(
 *   (exists as FileError).message,
 *   'The server refused "x": it already exists there; pass { overwrite: true } to replace it',
 * );
 * ```
 */
export function remoteFileError(
  error: unknown,
  path: string,
  hints: Partial<Record<FileErrorReason, string>> = {},
): unknown {
  if (!(error instanceof RemoteError)) return error;
  const reason = reasonsByCode.get(error.remoteCode);
  if (reason === undefined) return error;
  const detail = hints[reason] ?? error.message.replace(/^The peer aborted stream \d+: /, "");
  return new FileError(`The server refused ${JSON.stringify(path)}: ${detail}`, {
    reason,
    path,
    remote: true,
    cause: error,
  });
}
