/**
 * Every number of the ovtp wire vocabulary, defined once and mirroring SPEC.md's tables (the
 * model is js-libp2p-yamux's `frame.ts` and denodrivers/postgres' `message_code.ts`):
 * handshake message types and refusal reasons (SPEC §4.1), channel record types (§7), stream
 * kinds and stream error codes (§8). `tests/wire/protocol_codes_test.ts` reads SPEC.md and
 * checks that both say the same, entry for entry. The codecs, the channel and every service
 * import their codes from here.
 *
 * @module
 */

/** Handshake message types: the first byte of each handshake frame (SPEC §4.1). */
export const HandshakeType = {
  /** The client's hello. */
  clientHello: 1,
  /** The server's hello, with its key. */
  serverHello: 2,
  /** The client's secret, wrapped to the server's key. */
  clientSecret: 3,
  /** The client's key and signature, sealed. */
  clientAuth: 4,
  /** The server's key confirmation. */
  serverFinished: 5,
  /** The server turns the client away (a {@linkcode RefusalReason}). */
  refused: 6,
  /** The client's hello with a session ticket: a resumption attempt (SPEC §4.6, version 2). */
  resumeHello: 7,
  /** The server's hello accepting a resumption: no identity key, no RSA (SPEC §4.6). */
  serverResumed: 8,
  /** The client's proof of the resumption secret over the resumed transcript (SPEC §4.6). */
  clientFinished: 9,
} as const;

/** Why a server refused a handshake: the byte after a Refused message's type (SPEC §4.1). */
export const RefusalReason = {
  /** Authentication failed (never says which check). */
  authentication: 1,
  /** Protocol version not supported. */
  version: 2,
  /** A connection limit is reached. */
  busy: 3,
  /** A malformed handshake. */
  protocol: 4,
} as const;

/** One of the {@linkcode RefusalReason} values. */
export type RefusalReason = typeof RefusalReason[keyof typeof RefusalReason];

/** Channel record types (SPEC §7). */
export const RecordType = {
  /** Opens a stream: `kind (1) || head`. */
  open: 1,
  /** Stream data. */
  data: 2,
  /** The head of the answering direction of a stream. */
  reply: 3,
  /** Aborts a stream in both directions: `code (2) || reason (UTF-8)`. */
  reset: 4,
  /** Grants the peer more flow-control credit on a stream: `increment (4)`. */
  window: 5,
  /** Asks for a pong carrying the same 8 bytes (stream 0). */
  ping: 6,
  /** Answers a ping (stream 0). */
  pong: 7,
  /** Starts a graceful close (stream 0): `code (2) || reason (UTF-8)`. */
  close: 8,
} as const;

/** Stream kinds: the first byte of an open record (SPEC §8, "Stream kinds"). */
export const StreamKind = {
  /** A request/reply message. */
  message: 1,
  /** Upload a file. */
  put: 2,
  /** Download a file. */
  get: 3,
  /** Size, time, mode and optionally the digest of a path. */
  stat: 4,
  /** List a folder, recursively. */
  list: 5,
  /** Create a folder. */
  mkdir: 6,
  /** Create a symbolic link. */
  symlink: 7,
  /** Receive the events of topics (publish/subscribe). */
  subscribe: 8,
  /** Publish an event on a topic. */
  publish: 9,
  /** Take items from a work queue, one at a time, acknowledging each. */
  pull: 10,
  /** Add an item to a work queue. */
  push: 11,
  /** A TCP connection the server opens for the client, like `ssh -L` (SPEC §14). */
  forward: 12,
  /** Remove a file, a symbolic link, an empty folder or, with `recursive`, a tree (SPEC §11.7). */
  remove: 13,
  /** Rename or move a path inside the root (SPEC §11.8). */
  rename: 14,
} as const;

/** Stream error codes carried by reset records (SPEC §8, "Stream error codes"). */
export const StreamError = {
  /** The opener gave up (abort, timeout), or the stream made no progress for too long. */
  cancel: 1,
  /** The handler failed. */
  internal: 2,
  /** Refused: too many streams, the connection is closing, or a budget is full. */
  refused: 3,
  /** The stream broke its own rules (bad head, data after end, too large). */
  protocol: 4,
  /** Unknown stream kind. */
  unsupported: 5,
  /** The path does not exist (§11). */
  notFound: 10,
  /** The destination exists and `overwrite` was not set. */
  exists: 11,
  /** The path leaves the served folder. */
  outsideRoot: 12,
  /** The key may not do this, or the file system refuses. */
  permission: 13,
  /** Not a regular file or folder, or a folder where a file is needed. */
  unsupportedType: 14,
  /** A disk error. */
  io: 15,
  /** The content does not match its digest. */
  digestMismatch: 16,
  /** The source changed while it was being sent. */
  changed: 17,
  /** The path is malformed, or names a reserved partial file. */
  badPath: 18,
  /** A folder is not empty: REMOVE without `recursive`, or a tree holding a partial upload. */
  notEmpty: 19,
  /** A forward's destination could not be reached (§14). */
  connectFailed: 30,
  /** A work queue or subscription limit is full (§12–13). */
  full: 40,
} as const;
