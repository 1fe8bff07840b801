/**
 * The one place where an error of the file system becomes a `FileError`, on both ends: the
 * server's file operations, the client's own files (`files/open_regular_file.ts`,
 * `files/read_full.ts`) and every module of `files/`.
 *
 * The rule for what a peer may see, which every message built here follows:
 * 1. The only path named is the one the caller gives ({@linkcode quotePath}): for a peer, the
 *    path it sent; never the served folder, a partial file or any other local path.
 * 2. The system's own text is kept only up to its error number, `(os error N)`, where Deno
 *    appends the local paths; a text without one is replaced by a plain description.
 * 3. The full error stays the `cause`, for the server's own log only.
 * 4. Last line of defence, {@linkcode messageForPeer}: a message that still contains a local
 *    path the server knows (its served folder) is replaced by a plain one before it is sent.
 *
 * @module
 */

import { FileError, type FileErrorReason } from "../errors.ts";

/** The longest part of a path that an error message quotes, in characters. */
const maxQuotedPathChars = 200;

/**
 * Quotes a path for an error message: JSON string syntax (so control characters show as
 * escapes) and cut to a readable length.
 *
 * @param path Any path, possibly hostile.
 * @returns For example `"a/b.txt"`, with the quotes.
 *
 * @example Quote a path
 * ```ts
 * import { quotePath } from "./_os_error.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(quotePath("a\nb"), '"a\\nb"');
 * assert.ok(quotePath("x".repeat(5000)).length < 300);
 * ```
 */
export function quotePath(path: string): string {
  const shown = path.length > maxQuotedPathChars ? `${path.slice(0, maxQuotedPathChars)}…` : path;
  return JSON.stringify(shown);
}

/** Advice appended to an error message, by reason. */
const adviceByReason: Partial<Record<FileErrorReason, string>> = {
  not_found: "check the path",
  permission: "check the permissions of the file and its folder",
  exists: "remove it first or ask to overwrite",
  unsupported_type: "only regular files and folders can be transferred",
  bad_path: "use a shorter path",
  io: "check free disk space and that the file system is writable",
  not_empty: "remove its contents first, or remove it recursively",
};

/**
 * Turns what a `Deno.*` file function threw into a {@linkcode FileError}: `NotFound` and
 * `NotADirectory` become `not_found`, `PermissionDenied` becomes `permission`, `AlreadyExists`
 * becomes `exists`, `IsADirectory` becomes `unsupported_type`, a folder that is not empty
 * (`ENOTEMPTY`) becomes `not_empty`, a name that is too long becomes
 * `bad_path`, and everything else (disk full, read-only file system, I/O error) becomes `io`.
 * The message keeps the system's description but not the local paths Deno appends to it, so it
 * can be shown to a peer: name the path as the peer gave it. A `FileError` is returned
 * unchanged. Every place that turns a file system error into a {@linkcode FileError} calls
 * this function.
 *
 * @param error What was thrown.
 * @param path The path to name in the error, as the caller gave it.
 * @param action What was being done, for the message, e.g. `"Cannot write"`.
 * @returns The error to throw.
 *
 * @example Map NotFound
 * ```ts
 * import { fileErrorFromOs } from "./_os_error.ts";
 * import assert from "node:assert/strict";
 *
 * const error = fileErrorFromOs(new Deno.errors.NotFound("lstat"), "a.txt", "Cannot read");
 * assert.equal(error.reason, "not_found");
 * assert.equal(error.path, "a.txt");
 * ```
 */
export function fileErrorFromOs(error: unknown, path: string, action: string): FileError {
  if (error instanceof FileError) return error;
  const reason = reasonOf(error);
  const detail = osDetail(error, reason);
  const advice = adviceByReason[reason];
  const message = `${action} ${quotePath(path)}: ${detail}${advice ? `; ${advice}` : ""}`;
  return new FileError(message, { reason, path, cause: error });
}

/** What is said when the system's text cannot be shown, by reason. */
const plainDetailByReason: Record<FileErrorReason, string> = {
  not_found: "it does not exist",
  exists: "it already exists",
  outside_root: "it is outside the served folder",
  permission: "permission denied",
  unsupported_type: "it is not a regular file",
  io: "the file system failed",
  digest_mismatch: "the content does not match its digest",
  changed: "it changed meanwhile",
  bad_path: "the name is not valid",
  not_empty: "the folder is not empty",
};

/**
 * Deno's message up to "(os error N)": the local paths after it are left out. A message
 * without an error number (a permission check of the runtime, which quotes the path) is
 * replaced by a plain description.
 */
function osDetail(error: unknown, reason: FileErrorReason): string {
  const message = error instanceof Error ? error.message : String(error);
  const system = /^[^\n]*?\(os error \d+\)/.exec(message)?.[0];
  if (system !== undefined && !/[/\\]/.test(system)) return system;
  return plainDetailByReason[reason];
}

function reasonOf(error: unknown): FileErrorReason {
  if (error instanceof Deno.errors.NotFound) return "not_found";
  if (error instanceof Deno.errors.NotADirectory) return "not_found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission";
  if (error instanceof Deno.errors.NotCapable) return "permission";
  if (error instanceof Deno.errors.AlreadyExists) return "exists";
  if (error instanceof Deno.errors.IsADirectory) return "unsupported_type";
  if (errorCode(error) === "ENAMETOOLONG") return "bad_path";
  if (errorCode(error) === "ENOTEMPTY") return "not_empty";
  return "io";
}

/**
 * The system error code (`"ENOSPC"`, `"EROFS"`, ...) that Deno puts on an error, if any.
 *
 * @param error What was thrown.
 * @returns The code, or `undefined`.
 *
 * @example Read the code
 * ```ts
 * import { errorCode } from "./_os_error.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(errorCode(Object.assign(new Error("full"), { code: "ENOSPC" })), "ENOSPC");
 * assert.equal(errorCode("nothing"), undefined);
 * ```
 */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * The message a peer may see for a file error (rule 4 of this module): the error's own
 * message, unless it contains one of `localPaths` (the served folder's real paths), in which
 * case a plain message naming only the peer's path and the reason.
 *
 * @param error The error the operation failed with.
 * @param peerPath The path the peer sent.
 * @param localPaths Paths the peer must never see.
 * @returns One line for the stream's RESET.
 *
 * @example A message that names the served folder is replaced
 * ```ts
 * import { messageForPeer } from "./_os_error.ts";
 * import { FileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const leaky = new FileError("Cannot read /srv/files/a.txt", { reason: "io", path: "a.txt" });
 * assert.equal(
 *   messageForPeer(leaky, "a.txt", ["/srv/files"]),
 *   'The server could not handle "a.txt" (io); see its log',
 * );
 * const clean = new FileError('Cannot read "a.txt": gone', { reason: "io", path: "a.txt" });
 * assert.equal(messageForPeer(clean, "a.txt", ["/srv/files"]), clean.message);
 * ```
 */
export function messageForPeer(
  error: FileError,
  peerPath: string,
  localPaths: readonly string[],
): string {
  if (!localPaths.some((local) => error.message.includes(local))) return error.message;
  return `The server could not handle ${quotePath(peerPath)} (${error.reason}); see its log`;
}
