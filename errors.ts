/**
 * Error classes that ovtp throws. Callers branch on the class (`instanceof`) or on the stable
 * `code`, never on the message text. Messages say what happened and what to do next, and never
 * contain secret material.
 *
 * @module
 */

/** Stable machine-readable codes carried by every {@linkcode OvtpError}. */
export type OvtpErrorCode =
  | "PROTOCOL"
  | "AUTHENTICATION"
  | "HOST_KEY"
  | "TIMEOUT"
  | "REMOTE"
  | "CONNECTION"
  | "KEY_FILE"
  | "FILE"
  | "LIMIT"
  | "QUEUE_STORE";

/** Options accepted by every ovtp error constructor. */
export interface OvtpErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Base class of every error ovtp throws on purpose.
 *
 * @example Branch on the code
 * ```ts
 * import { OvtpError, ProtocolError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error: OvtpError = new ProtocolError("Cannot decode frame: truncated");
 * assert.equal(error.code, "PROTOCOL");
 * assert.ok(error instanceof OvtpError);
 * ```
 */
export class OvtpError extends Error {
  /** Stable code to branch on. */
  readonly code: OvtpErrorCode;

  /**
   * Creates the object.
   *
   * @param code Stable code to branch on.
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(code: OvtpErrorCode, message: string, options?: OvtpErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = "OvtpError";
  }
}

/**
 * The peer sent bytes that do not follow SPEC.md: a malformed, oversized or truncated frame, a
 * record that fails authentication, an unexpected message.
 *
 * @example Check the class
 * ```ts
 * import { ProtocolError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new ProtocolError("Cannot decode frame: length 70000 exceeds the 65536-byte limit");
 * assert.equal(error.name, "ProtocolError");
 * ```
 */
export class ProtocolError extends OvtpError {
  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: OvtpErrorOptions) {
    super("PROTOCOL", message, options);
    this.name = "ProtocolError";
  }
}

/**
 * The server refused our key (on the client), or the client failed to authenticate (on the
 * server). The wire never says which check failed.
 *
 * @example Check the code
 * ```ts
 * import { AuthenticationError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new AuthenticationError("refused").code, "AUTHENTICATION");
 * ```
 */
export class AuthenticationError extends OvtpError {
  /** The client key's fingerprint, when it is known (on the server side). */
  readonly fingerprint?: string;

  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause and the client key's fingerprint, if any.
   */
  constructor(message: string, options?: AuthenticationErrorOptions) {
    super("AUTHENTICATION", message, options);
    this.name = "AuthenticationError";
    this.fingerprint = options?.fingerprint;
  }
}

/** Details of an {@linkcode AuthenticationError}. */
export interface AuthenticationErrorOptions extends OvtpErrorOptions {
  /** The client key's fingerprint, when it is known. */
  fingerprint?: string;
}

/**
 * Why a server key was not trusted: `unknown` (no known_hosts entry and no pin), `mismatch`
 * (a different key was expected), `unproven` (the server failed key confirmation: it does not
 * hold the private key it presented).
 */
export type HostKeyProblem = "unknown" | "mismatch" | "unproven";

/** Details of a {@linkcode HostKeyError}. */
export interface HostKeyErrorOptions extends OvtpErrorOptions {
  /** What went wrong. */
  problem: HostKeyProblem;
  /** The `host:port` the client connected to. */
  host: string;
  /** Fingerprint of the key the server presented. */
  presented: string;
  /** Fingerprint that was expected (pin or known_hosts), when there was one. */
  expected?: string;
  /** The known_hosts file that holds the conflicting entry (mismatch only). */
  knownHostsPath?: string;
  /** Its 1-based line number (mismatch only). */
  lineNumber?: number;
}

/**
 * The server presented a key that is unknown, or that differs from the pinned fingerprint or
 * the `known_hosts` entry.
 *
 * @example Read both fingerprints
 * ```ts
 * import { HostKeyError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new HostKeyError("host key changed", {
 *   problem: "mismatch",
 *   host: "127.0.0.1:4242",
 *   presented: "SHA256:new",
 *   expected: "SHA256:old",
 * });
 * assert.equal(error.problem, "mismatch");
 * assert.equal(error.expected, "SHA256:old");
 * ```
 */
export class HostKeyError extends OvtpError {
  /** What went wrong. */
  readonly problem: HostKeyProblem;
  /** The `host:port` the client connected to. */
  readonly host: string;
  /** Fingerprint of the key the server presented. */
  readonly presented: string;
  /** Fingerprint that was expected, when there was one. */
  readonly expected?: string;
  /** The known_hosts file that holds the conflicting entry (mismatch only). */
  readonly knownHostsPath?: string;
  /** Its 1-based line number (mismatch only). */
  readonly lineNumber?: number;

  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options Which problem, the host and both fingerprints.
   */
  constructor(message: string, options: HostKeyErrorOptions) {
    super("HOST_KEY", message, options);
    this.name = "HostKeyError";
    this.problem = options.problem;
    this.host = options.host;
    this.presented = options.presented;
    this.expected = options.expected;
    this.knownHostsPath = options.knownHostsPath;
    this.lineNumber = options.lineNumber;
  }
}

/**
 * A deadline passed: the handshake, a call's timeout, or the idle timeout.
 *
 * @example Check the class
 * ```ts
 * import { TimeoutError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new TimeoutError("handshake took longer than 10000 ms").code, "TIMEOUT");
 * ```
 */
export class TimeoutError extends OvtpError {
  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: OvtpErrorOptions) {
    super("TIMEOUT", message, options);
    this.name = "TimeoutError";
  }
}

/** Details of a {@linkcode RemoteError}. */
export interface RemoteErrorOptions extends OvtpErrorOptions {
  /** The stream error code the peer sent (see SPEC.md, "Stream error codes"). */
  remoteCode: number;
}

/**
 * The peer refused or failed an operation and said why (a handler threw, a file exists, a path
 * is outside the served root, ...).
 *
 * @example Read the remote code
 * ```ts
 * import { RemoteError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new RemoteError("handler failed", { remoteCode: 2 });
 * assert.equal(error.remoteCode, 2);
 * ```
 */
export class RemoteError extends OvtpError {
  /** The stream error code the peer sent. */
  readonly remoteCode: number;

  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The remote code and the cause.
   */
  constructor(message: string, options: RemoteErrorOptions) {
    super("REMOTE", message, options);
    this.name = "RemoteError";
    this.remoteCode = options.remoteCode;
  }
}

/**
 * The connection could not be made, was closed, or broke while a call was in flight.
 *
 * @example Check the code
 * ```ts
 * import { ConnectionError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new ConnectionError("connection closed").code, "CONNECTION");
 * ```
 */
export class ConnectionError extends OvtpError {
  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: OvtpErrorOptions) {
    super("CONNECTION", message, options);
    this.name = "ConnectionError";
  }
}

/**
 * A key file could not be used: unreadable, malformed, or a private key readable by group or
 * others.
 *
 * @example Check the code
 * ```ts
 * import { KeyFileError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new KeyFileError("bad permissions").code, "KEY_FILE");
 * ```
 */
export class KeyFileError extends OvtpError {
  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: OvtpErrorOptions) {
    super("KEY_FILE", message, options);
    this.name = "KeyFileError";
  }
}

/**
 * Why a file operation was refused or failed. Each has a stream error code (SPEC.md, "Stream
 * error codes") so the peer learns the same reason.
 */
export const FileErrorReason = {
  /** The path does not exist. */
  notFound: "not_found",
  /** The destination exists and overwriting was not asked for. */
  exists: "exists",
  /** The path leaves the served root (`..`, an absolute path elsewhere, a symlink out). */
  outsideRoot: "outside_root",
  /** The key or the file system does not allow it (read-only key, permissions). */
  permission: "permission",
  /** Not a regular file or folder: a device, a FIFO, a socket, a symlink where none may be. */
  unsupportedType: "unsupported_type",
  /** A disk error: full, read-only file system, I/O error. */
  io: "io",
  /** The content does not match its digest. */
  digestMismatch: "digest_mismatch",
  /** The source changed while it was being sent. */
  changed: "changed",
  /** The path is malformed (empty, NUL bytes, too long). */
  badPath: "bad_path",
  /** A folder is not empty (a remove without `recursive`, or one that holds a partial upload). */
  notEmpty: "not_empty",
} as const;

/** One of the {@linkcode FileErrorReason} values. */
export type FileErrorReason = typeof FileErrorReason[keyof typeof FileErrorReason];

/** Details of a {@linkcode FileError}. */
export interface FileErrorOptions extends OvtpErrorOptions {
  /** What went wrong. */
  reason: FileErrorReason;
  /** The path concerned, as the caller named it. */
  path: string;
  /** True when the peer reported it (the server refused, or its disk failed). */
  remote?: boolean;
}

/**
 * A file operation was refused or failed, locally or on the peer.
 *
 * @example Check the reason
 * ```ts
 * import { FileError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new FileError("report.csv exists; pass overwrite", {
 *   reason: "exists",
 *   path: "report.csv",
 *   remote: true,
 * });
 * assert.equal(error.code, "FILE");
 * assert.equal(error.reason, "exists");
 * ```
 */
export class FileError extends OvtpError {
  /** What went wrong. */
  readonly reason: FileErrorReason;
  /** The path concerned. */
  readonly path: string;
  /** True when the peer reported it. */
  readonly remote: boolean;

  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The reason, the path and whether the peer reported it.
   */
  constructor(message: string, options: FileErrorOptions) {
    super("FILE", message, options);
    this.name = "FileError";
    this.reason = options.reason;
    this.path = options.path;
    this.remote = options.remote ?? false;
  }
}

/**
 * A peer asked for more than its budget allows (buffered bytes, open files, requests running,
 * subscriptions; SECURITY.md, "Budgets"). Its stream is refused; the connection goes on.
 *
 * @example Check the code
 * ```ts
 * import { LimitError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(new LimitError("over the budget").code, "LIMIT");
 * ```
 */
export class LimitError extends OvtpError {
  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: OvtpErrorOptions) {
    super("LIMIT", message, options);
    this.name = "LimitError";
  }
}

/**
 * The work queues' database (`queueStore`) cannot be used: it is corrupt, not an ovtp queue
 * database, unreadable, or held by another server. The server refuses to start rather than start
 * empty and drop the items the file holds; the message names the file.
 *
 * @example Check the code
 * ```ts
 * import { QueueStoreError } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new QueueStoreError("Cannot open the queue database /x/queues.db: file is not a database");
 * assert.equal(error.code, "QUEUE_STORE");
 * assert.equal(error.name, "QueueStoreError");
 * ```
 */
export class QueueStoreError extends OvtpError {
  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: OvtpErrorOptions) {
    super("QUEUE_STORE", message, options);
    this.name = "QueueStoreError";
  }
}
