/**
 * `ForwardService`: the server side of TCP forwarding (SPEC.md, section 14), one of the server's
 * stream services. For each FORWARD stream it checks the key's options and the allow list,
 * connects to the destination, and pipes bytes both ways (`_pipe.ts`).
 *
 * @module
 */

import { formatHostPort } from "../address.ts";
import { allowsForward } from "../crypto/key_permissions.ts";
import type { PeerInfo } from "../session/peer_info.ts";
import { type Head, type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { ForwardAllowList } from "./forward_allow_list.ts";
import { pipeStream } from "./_pipe.ts";

/** Stream error codes of TCP forwarding (SPEC.md, section 14). */
export const forwardErrorCodes = {
  /** The key may not forward, or the destination is not allowed. */
  permission: StreamError.permission,
  /** The server could not connect to the destination (refused, unreachable, timed out). */
  connectFailed: StreamError.connectFailed,
} as const;

/** Default time the server allows for connecting to a forward's destination. */
export const defaultForwardConnectTimeoutMs = 10_000;
/** Longest host name a forward head may carry. */
const maxHostLength = 253;
const maxPort = 65535;

/** A forward's destination, from the opener's head. */
export interface ForwardTarget {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port, 1 to 65535. */
  port: number;
  /** Only check that the forward would be allowed; connect to nothing. */
  probe: boolean;
}

/** Options of {@linkcode ForwardService}. */
export interface ForwardServiceOptions {
  /** Destinations the server opens: `host:port`, `host:*`, `[IPv6]:port`. Empty: none. */
  allow: Iterable<string>;
  /** Time allowed to connect to a destination. Default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * The server side of TCP forwarding (SPEC.md, section 14): answers forward streams by
 * connecting to the destination the client named, when the client's key may forward and the
 * destination is on the server's allow-list (and on the key's `permitopen=` list, if it has
 * one), then carries bytes both ways.
 *
 * @example Refuse everything (an empty allow-list)
 * ```ts
 * import { ForwardService } from "./forward_service.ts";
 * import assert from "node:assert/strict";
 *
 * const service = new ForwardService({ allow: [] });
 * assert.equal(service.refusal({ host: "127.0.0.1", port: 80, probe: false }, new Map()),
 *   "127.0.0.1:80 is not on the server's forward allow-list (ovtp serve --forward-allow)");
 * ```
 */
export class ForwardService {
  readonly #allow: ForwardAllowList;
  readonly #connectTimeoutMs: number;

  /**
   * Creates the object.
   *
   * @param options The allow-list and the connect timeout.
   * @throws {TypeError} For a malformed allow-list entry.
   */
  constructor(options: ForwardServiceOptions) {
    this.#allow = ForwardAllowList.parse(options.allow);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? defaultForwardConnectTimeoutMs;
  }

  /**
   * Why a key with `options` may not forward to `target`, or `undefined` when it may.
   *
   * @param target The destination.
   * @param options The key's authorized_keys options.
   * @returns The reason, for the peer and the log.
   */
  refusal(target: ForwardTarget, options: ReadonlyMap<string, string | true>): string | undefined {
    const destination = formatHostPort({ hostname: target.host, port: target.port });
    if (!allowsForward(options)) {
      const option = options.has("no-forward") ? "no-forward" : "restrict";
      return `This key may not forward (its authorized_keys option "${option}")`;
    }
    if (!this.#allow.allows(target.host, target.port)) {
      return `${destination} is not on the server's forward allow-list (ovtp serve --forward-allow)`;
    }
    const permitOpen = options.get("permitopen");
    if (permitOpen !== undefined && !permitOpenAllows(permitOpen, target)) {
      return `${destination} is not on this key's permitopen list in authorized_keys`;
    }
    return undefined;
  }

  /** The stream kind it answers: forward. */
  readonly kinds: readonly number[] = [StreamKind.forward];

  /**
   * Answers one forward stream: checks it, connects, replies `{}` and pipes until both sides
   * ended. Never throws for the peer's or the destination's failures (they reset the stream).
   *
   * @param stream An incoming stream of kind forward.
   * @param peer Who opened it.
   */
  async handle(stream: Stream, peer: Pick<PeerInfo, "options">): Promise<void> {
    const target = parseForwardHead(stream.head);
    if (typeof target === "string") {
      stream.reset(StreamError.protocol, target);
      return;
    }
    const refusal = this.refusal(target, peer.options);
    if (refusal !== undefined) {
      stream.reset(forwardErrorCodes.permission, refusal);
      return;
    }
    if (target.probe) {
      stream.reply({}, { end: true });
      const extra = await stream.read().catch(() => null);
      if (extra !== null) stream.reset(StreamError.protocol, "data on a forward probe");
      return;
    }
    let conn: Deno.TcpConn;
    const timeout = AbortSignal.timeout(this.#connectTimeoutMs);
    try {
      conn = await Deno.connect({ hostname: target.host, port: target.port, signal: timeout });
    } catch (error) {
      const destination = formatHostPort({ hostname: target.host, port: target.port });
      const why = timeout.aborted
        ? `no answer within ${this.#connectTimeoutMs} ms`
        : error instanceof Error
        ? error.message
        : String(error);
      stream.reset(forwardErrorCodes.connectFailed, `Cannot connect to ${destination}: ${why}`);
      return;
    }
    if (stream.done) {
      conn.close();
      return;
    }
    stream.reply({});
    await pipeStream(stream, conn);
  }
}

/**
 * Reads a forward head `{"host": …, "port": …, "probe"?: bool}`; returns what is wrong with it
 * as a string.
 */
export function parseForwardHead(head: Head): ForwardTarget | string {
  const { host, port, probe } = head;
  if (
    typeof host !== "string" || host.length === 0 || host.length > maxHostLength ||
    /[\s\[\]\/]/.test(host) || [...host].some((char) => char < " " || char === "\u007f")
  ) {
    return `Forward head: "host" must be a host name or IP address of 1-${maxHostLength} characters`;
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > maxPort) {
    return `Forward head: "port" must be an integer from 1 to ${maxPort}`;
  }
  if (probe !== undefined && typeof probe !== "boolean") {
    return `Forward head: "probe" must be true or false`;
  }
  return { host, port, probe: probe === true };
}

function permitOpenAllows(value: string | true, target: ForwardTarget): boolean {
  if (value === true) return false;
  try {
    return ForwardAllowList.parse(value.split(",").filter((entry) => entry.trim() !== ""))
      .allows(target.host, target.port);
  } catch {
    // A malformed permitopen allows nothing.
    return false;
  }
}
