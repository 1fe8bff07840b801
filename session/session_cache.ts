/**
 * The client's store of session tickets (SPEC §4.6): what `clientHandshake()` needs to resume a
 * session without RSA, kept per server address, server key and client key. `OvtpClient` takes a
 * ticket before it connects and puts the new one the server sends after each handshake; several
 * clients may share one cache (the `sessionCache` option). Each ticket is handed out once.
 *
 * @module
 */

import type { PublicKey } from "../crypto/public_key.ts";

/** One resumable session: a ticket, its secret, and the server key it was issued by. */
export interface ResumableSession {
  /** The server's identity key, proven in the handshake that issued the ticket. */
  serverKey: PublicKey;
  /** The opaque ticket. */
  ticket: Uint8Array;
  /** The resumption secret that goes with it. */
  resumptionSecret: Uint8Array;
  /** When the ticket stops being usable (milliseconds since 1970). */
  expiresAtMs: number;
}

/** Options of {@linkcode SessionCache}. */
export interface SessionCacheOptions {
  /** Tickets kept for one server address, server key and client key. Default 4. */
  maxTicketsPerServer?: number;
  /** Tickets kept in all. Default 1024; the oldest go first. */
  maxTickets?: number;
}

/** Default number of tickets kept for one server address, server key and client key. */
export const defaultMaxTicketsPerServer = 4;
/** Default number of tickets kept in all. */
export const defaultMaxTickets = 1024;

/**
 * Session tickets, keyed by server address + server key fingerprint + client key fingerprint,
 * each handed out at most once ({@linkcode SessionCache.take} removes it), so no ticket is ever
 * presented twice by this client and no two connections can be linked by their tickets. Expired
 * tickets are dropped when met. Bounded: the oldest tickets go first.
 *
 * @example Put a ticket, take it once
 * ```ts
 * import { SessionCache } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const cache = new SessionCache();
 * const serverKey = { fingerprint: "SHA256:server" } as never;
 * const session = {
 *   serverKey,
 *   ticket: new Uint8Array([1]),
 *   resumptionSecret: new Uint8Array(32),
 *   expiresAtMs: Date.now() + 60_000,
 * };
 * cache.put("127.0.0.1:4242", "SHA256:client", session);
 * assert.equal(cache.take("127.0.0.1:4242", "SHA256:client"), session);
 * assert.equal(cache.take("127.0.0.1:4242", "SHA256:client"), undefined);
 * ```
 */
export class SessionCache {
  #maxPerServer: number;
  #maxTickets: number;
  /** Insertion order is age order: the first entries are the oldest. */
  #entries = new Map<string, ResumableSession[]>();
  #count = 0;

  /**
   * Creates an empty cache.
   *
   * @param options How many tickets to keep.
   */
  constructor(options: SessionCacheOptions = {}) {
    this.#maxPerServer = options.maxTicketsPerServer ?? defaultMaxTicketsPerServer;
    this.#maxTickets = options.maxTickets ?? defaultMaxTickets;
    for (
      const [name, value] of [["maxTicketsPerServer", this.#maxPerServer], [
        "maxTickets",
        this.#maxTickets,
      ]] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`The setting ${name} must be a positive integer, got ${value}`);
      }
    }
  }

  /** Tickets held now. */
  get size(): number {
    return this.#count;
  }

  /** Keeps a ticket the server at `address` issued to `clientFingerprint`. */
  put(address: string, clientFingerprint: string, session: ResumableSession): void {
    const key = cacheKey(address, session.serverKey.fingerprint, clientFingerprint);
    const list = this.#entries.get(key) ?? [];
    this.#entries.delete(key);
    list.push(session);
    this.#count++;
    while (list.length > this.#maxPerServer) {
      list.shift();
      this.#count--;
    }
    this.#entries.set(key, list);
    while (this.#count > this.#maxTickets) {
      const [oldestKey, oldest] = this.#entries.entries().next().value!;
      oldest.shift();
      this.#count--;
      if (oldest.length === 0) this.#entries.delete(oldestKey);
    }
  }

  /**
   * Takes (removes and returns) the newest unexpired ticket for `address` and
   * `clientFingerprint`, from whichever server key issued it; the caller checks that key
   * against its trust policy before using it. `undefined` when there is none.
   */
  take(
    address: string,
    clientFingerprint: string,
    nowMs: number = Date.now(),
  ): ResumableSession | undefined {
    const prefix = `${address} `;
    const suffix = ` ${clientFingerprint}`;
    let best: { key: string; list: ResumableSession[] } | undefined;
    for (const [key, list] of this.#entries) {
      if (!key.startsWith(prefix) || !key.endsWith(suffix)) continue;
      const live = list.filter((session) => session.expiresAtMs > nowMs);
      this.#count -= list.length - live.length;
      if (live.length === 0) {
        this.#entries.delete(key);
        continue;
      }
      this.#entries.set(key, live);
      const newest = live[live.length - 1];
      if (best === undefined || newest.expiresAtMs > best.list[best.list.length - 1].expiresAtMs) {
        best = { key, list: live };
      }
    }
    if (best === undefined) return undefined;
    const session = best.list.pop()!;
    this.#count--;
    if (best.list.length === 0) this.#entries.delete(best.key);
    return session;
  }

  /** Forgets every ticket for `address` (for example after its server refused us). */
  forget(address: string): void {
    for (const [key, list] of this.#entries) {
      if (!key.startsWith(`${address} `)) continue;
      this.#count -= list.length;
      this.#entries.delete(key);
    }
  }
}

function cacheKey(address: string, serverFingerprint: string, clientFingerprint: string): string {
  return `${address} ${serverFingerprint} ${clientFingerprint}`;
}
