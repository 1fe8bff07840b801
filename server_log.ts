/**
 * The events a server reports (`connection`, `refused`, `accept_error`, `limit`, `warning`) as one
 * typed union, and `formatLogLine()`, the JSON line `ovtp serve` prints for each. `server.ts` and
 * `server_connection.ts` hand them to the server's `onLog` option.
 *
 * @module
 */

import type { AdmissionRefusal } from "./session/admission.ts";

/**
 * Why a connection was refused: an admission limit, or a failed handshake (`from`: the key's
 * `from=` option in authorized_keys does not allow the client's address; `shed`: pushed out of
 * a full `maxStartups` by a newer connection before it cost anything;
 * `max_connections_per_key`: its key holds its most connections).
 */
export type RefusalCause =
  | AdmissionRefusal
  | "closing"
  | "authentication"
  | "handshake_timeout"
  | "handshake_aborted"
  | "protocol"
  | "from"
  | "shed"
  | "max_connections_per_key";

/** A connection was turned away, before or during its handshake. */
export interface RefusedEvent {
  /** What happened. */
  event: "refused";
  /** When, as an ISO 8601 timestamp. */
  time: string;
  /** The peer's `host:port`. */
  remote: string;
  /** Which limit or which check refused it. */
  reason: RefusalCause;
  /** The client key's fingerprint, when the handshake got that far. */
  fingerprint?: string;
  /** One line of detail; never secret material. */
  detail?: string;
}

/** An authenticated connection ended. */
export interface ConnectionEvent {
  /** What happened. */
  event: "connection";
  /** When it ended, as an ISO 8601 timestamp. */
  time: string;
  /** The peer's `host:port`. */
  remote: string;
  /** The client key's fingerprint. */
  fingerprint: string;
  /** The key's comment in authorized_keys. */
  comment: string;
  /** `closed` after a clean close, else `error`. */
  result: "closed" | "error";
  /** True when the connection resumed a session from a ticket (no RSA; SPEC §4.6). */
  resumed: boolean;
  /** What ended it, for `error`. */
  error?: string;
  /** Bytes read from the connection. */
  bytesIn: number;
  /** Bytes written to the connection. */
  bytesOut: number;
  /** From accept to the end, in milliseconds. */
  durationMs: number;
}

/**
 * Accepting failed (a connection reset before it was accepted, or the process out of file
 * descriptors); logged once per burst. The server goes on accepting.
 */
export interface AcceptErrorEvent {
  /** What happened. */
  event: "accept_error";
  /** When, as an ISO 8601 timestamp. */
  time: string;
  /** The operating system's message. */
  error: string;
}

/**
 * A stream was refused or reset because its peer went over a budget or a timeout (the
 * connection and every other peer go on).
 */
export interface LimitEvent {
  /** What happened. */
  event: "limit";
  /** When, as an ISO 8601 timestamp. */
  time: string;
  /** The peer's `host:port`. */
  remote: string;
  /** The client key's fingerprint. */
  fingerprint: string;
  /** One line: which budget or timeout, and its figure. */
  detail: string;
}

/**
 * A problem with the server's own files found while serving (an authorized_keys line skipped, a
 * file writable by others that admits nobody); reported once.
 */
export interface WarningEvent {
  /** What happened. */
  event: "warning";
  /** When, as an ISO 8601 timestamp. */
  time: string;
  /** One line: the file, the line or the permission, and what to do. */
  detail: string;
}

/** What a server reports through its `onLog` option: one event per connection outcome. */
export type ServerLogEvent =
  | RefusedEvent
  | ConnectionEvent
  | AcceptErrorEvent
  | LimitEvent
  | WarningEvent;

/**
 * Formats an event as one JSON line (no trailing newline), the format `ovtp serve` logs in.
 *
 * @example
 * ```ts
 * import { formatLogLine } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const line = formatLogLine({
 *   event: "refused",
 *   time: "2026-01-01T00:00:00.000Z",
 *   remote: "10.0.0.1:5000",
 *   reason: "max_startups",
 * });
 * assert.equal(JSON.parse(line).reason, "max_startups");
 * ```
 */
export function formatLogLine(event: ServerLogEvent): string {
  return JSON.stringify(event);
}
