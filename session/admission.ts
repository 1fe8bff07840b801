/**
 * Who may start a handshake: the limits a server applies before any cryptography. Sits in
 * `OvtpServer` between accept and the handshake; counts connections per address group and in
 * the handshake, and remembers failed handshakes per address group.
 *
 * Two rules make it hard to game by strangers. Startups (connections still in the handshake)
 * that have cost the server nothing yet can be shed: when `maxStartups` is full, a new
 * connection pushes out the oldest cheap startup of the address group that holds the most, so
 * a trickle of silent sockets cannot keep good clients out. And failures are counted per address
 * group (an IPv4 address, an IPv6 /64), never per client key, which anyone can name.
 *
 * @module
 */

import { addressBytes } from "../crypto/address_patterns.ts";

/** Limits a server applies before and during the handshake. */
export interface AdmissionLimits {
  /** Connections served at once (handshaking or authenticated). */
  maxConnections: number;
  /** Connections from one address group (IPv4 address, IPv6 /64) at once. */
  maxConnectionsPerAddress: number;
  /** Connections still in the handshake at once (like sshd's MaxStartups). */
  maxStartups: number;
  /** Failed handshakes from one address group before it is held off. */
  authFailureLimit: number;
  /** Failures older than this are forgotten. */
  authFailureWindowMs: number;
  /** First hold-off; it doubles with every further failure, up to `maxAuthBackoffMs`. */
  authBackoffMs: number;
  /** Longest hold-off. */
  maxAuthBackoffMs: number;
}

/** Defaults of {@linkcode AdmissionLimits}. */
export const defaultAdmissionLimits: AdmissionLimits = {
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  maxStartups: 64,
  authFailureLimit: 5,
  authFailureWindowMs: 60_000,
  authBackoffMs: 1_000,
  maxAuthBackoffMs: 300_000,
};

/** Why a connection was turned away before its handshake. */
export type AdmissionRefusal =
  | "max_connections"
  | "max_connections_per_address"
  | "max_startups"
  | "auth_backoff";

interface Failures {
  count: number;
  lastMs: number;
  blockedUntilMs: number;
}

/** Most address groups whose failures are remembered; the oldest are forgotten first. */
const maxTrackedFailures = 10_000;

/**
 * The address group that limits and failures are counted by: an IPv4 address (IPv4-mapped
 * IPv6 addresses are read as IPv4), or the /64 prefix of an IPv6 address, which one host can
 * fill with addresses of its own.
 *
 * @example
 * ```ts
 * import { addressGroup } from "./admission.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(addressGroup("::ffff:10.0.0.1"), "10.0.0.1");
 * assert.equal(addressGroup("2001:db8:0:7::1"), addressGroup("2001:db8::7:ffff:1:2:3"));
 * assert.equal(addressGroup("2001:db8:0:7::1"), "2001:db8:0:7::/64");
 * ```
 */
export function addressGroup(address: string): string {
  let text = address;
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const bytes = addressBytes(text);
  if (bytes === undefined) return address.toLowerCase();
  if (bytes.length === 4) return bytes.join(".");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hextets = [0, 2, 4, 6].map((offset) => view.getUint16(offset).toString(16));
  return `${hextets.join(":")}::/64`;
}

/**
 * One admitted connection, from accept to its end: tells the admission when it became costly
 * (the server started its RSA decryption), when it authenticated, and when it ended.
 */
export class AdmissionTicket {
  /** The address group it counts against. */
  readonly group: string;
  #admission: Admission;
  #shed: () => void;
  #startup = true;
  #costly = false;
  #released = false;

  /** @internal Made by {@linkcode Admission.admit}. */
  constructor(admission: Admission, group: string, shed: () => void) {
    this.#admission = admission;
    this.group = group;
    this.#shed = shed;
  }

  /** True while the connection is in the handshake. */
  get inStartup(): boolean {
    return this.#startup && !this.#released;
  }

  /** True once the server spent an RSA decryption on it. */
  get costly(): boolean {
    return this.#costly;
  }

  /**
   * The server is about to spend an RSA decryption on this connection: it can no longer be
   * shed, and unless it authenticates it counts as a failure of its address group.
   */
  decrypting(): void {
    this.#costly = true;
  }

  /** The handshake succeeded: no longer a startup, and its group's failures are forgotten. */
  authenticated(): void {
    if (!this.inStartup) return;
    this.#startup = false;
    this.#admission.ended(this, true);
  }

  /**
   * The connection ended. A startup that cost an RSA decryption (or `failed`, for a refused
   * key) counts as a failed handshake of its address group.
   */
  release(failed = false, nowMs: number = Date.now()): void {
    if (this.#released) return;
    this.#released = true;
    this.#admission.ended(this, false);
    if (this.#startup && (failed || this.#costly)) this.#admission.failed(this.group, nowMs);
  }

  /** @internal Pushed out to make room: the server closes it. */
  shed(): void {
    this.#shed();
  }
}

/**
 * Counts connections per address group and in the handshake, and remembers failed handshakes
 * per address group, so a server can refuse work it should not do: before any cryptography for
 * a connection over a limit, or from a group that keeps failing. Memory stays bounded: at most
 * 10,000 failure records, and one ticket per connection.
 *
 * @example Hold off an address after repeated failures
 * ```ts
 * import { Admission } from "./admission.ts";
 * import assert from "node:assert/strict";
 *
 * const admission = new Admission({ authFailureLimit: 2 });
 * for (let i = 0; i < 2; i++) admission.failed("10.0.0.9", 1000);
 * assert.equal(admission.check("10.0.0.9", 1001), "auth_backoff");
 * assert.equal(admission.check("10.0.0.8", 1001), undefined);
 * ```
 */
export class Admission {
  readonly limits: AdmissionLimits;
  #total = 0;
  #perGroup = new Map<string, number>();
  /** Startups in the order they arrived (oldest first). */
  #startups = new Set<AdmissionTicket>();
  #failures = new Map<string, Failures>();

  /** @param limits Overrides of {@linkcode defaultAdmissionLimits}. */
  constructor(limits: Partial<AdmissionLimits> = {}) {
    this.limits = { ...defaultAdmissionLimits, ...stripUndefined(limits) };
  }

  /** Connections counted now. */
  get connections(): number {
    return this.#total;
  }

  /** Connections in the handshake now. */
  get startups(): number {
    return this.#startups.size;
  }

  /**
   * Why a new connection from `address` must be refused now, or `undefined` to admit it. A
   * full `maxStartups` refuses only when no startup can be shed (all have cost an RSA
   * decryption already).
   */
  check(address: string, nowMs: number = Date.now()): AdmissionRefusal | undefined {
    const group = addressGroup(address);
    if (this.#blocked(group, nowMs)) return "auth_backoff";
    if (this.#total >= this.limits.maxConnections) return "max_connections";
    if ((this.#perGroup.get(group) ?? 0) >= this.limits.maxConnectionsPerAddress) {
      return "max_connections_per_address";
    }
    if (this.#startups.size >= this.limits.maxStartups && this.#sheddable() === undefined) {
      return "max_startups";
    }
    return undefined;
  }

  /**
   * Counts an admitted connection (call `check()` first); it is a startup until
   * `ticket.authenticated()`. When `maxStartups` is full, the oldest cheap startup of the
   * address group holding the most is shed first: its `shed` callback closes it.
   */
  admit(address: string, shed: () => void = () => {}): AdmissionTicket {
    while (this.#startups.size >= this.limits.maxStartups) {
      const victim = this.#sheddable();
      if (victim === undefined) break;
      this.#startups.delete(victim);
      victim.shed();
    }
    const ticket = new AdmissionTicket(this, addressGroup(address), shed);
    this.#total++;
    this.#perGroup.set(ticket.group, (this.#perGroup.get(ticket.group) ?? 0) + 1);
    this.#startups.add(ticket);
    return ticket;
  }

  /** Records a failed handshake from `address` (or from its address group). */
  failed(address: string, nowMs: number = Date.now()): void {
    const key = addressGroup(address);
    let entry = this.#failures.get(key);
    if (entry === undefined || nowMs - entry.lastMs > this.limits.authFailureWindowMs) {
      entry = { count: 0, lastMs: nowMs, blockedUntilMs: 0 };
    }
    entry.count++;
    entry.lastMs = nowMs;
    const over = entry.count - this.limits.authFailureLimit;
    if (over >= 0) {
      const backoffMs = Math.min(
        this.limits.maxAuthBackoffMs,
        this.limits.authBackoffMs * 2 ** Math.min(over, 30),
      );
      entry.blockedUntilMs = nowMs + backoffMs;
    }
    // Re-insert so the map's order is least recently failed first.
    this.#failures.delete(key);
    this.#failures.set(key, entry);
    if (this.#failures.size > maxTrackedFailures) {
      this.#failures.delete(this.#failures.keys().next().value!);
    }
  }

  /** @internal A ticket authenticated (`authenticated`) or ended. */
  ended(ticket: AdmissionTicket, authenticated: boolean): void {
    this.#startups.delete(ticket);
    if (authenticated) {
      this.#failures.delete(ticket.group);
      return;
    }
    this.#total--;
    const count = (this.#perGroup.get(ticket.group) ?? 1) - 1;
    if (count === 0) this.#perGroup.delete(ticket.group);
    else this.#perGroup.set(ticket.group, count);
  }

  /** The oldest cheap startup of the group that holds the most cheap startups. */
  #sheddable(): AdmissionTicket | undefined {
    const counts = new Map<string, number>();
    let most = 0;
    for (const ticket of this.#startups) {
      if (ticket.costly) continue;
      const count = (counts.get(ticket.group) ?? 0) + 1;
      counts.set(ticket.group, count);
      most = Math.max(most, count);
    }
    for (const ticket of this.#startups) {
      if (!ticket.costly && counts.get(ticket.group) === most) return ticket;
    }
    return undefined;
  }

  #blocked(key: string, nowMs: number): boolean {
    const entry = this.#failures.get(key);
    if (entry === undefined) return false;
    if (nowMs - entry.lastMs > this.limits.authFailureWindowMs && nowMs >= entry.blockedUntilMs) {
      this.#failures.delete(key);
      return false;
    }
    return nowMs < entry.blockedUntilMs;
  }
}

function stripUndefined<T extends object>(value: Partial<T>): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
