/**
 * Who may start a handshake: the limits a server applies before any cryptography. Sits in
 * `OvtpServer` between accept and the handshake; counts connections per address group and in
 * the handshake, and remembers failed handshakes per address group.
 *
 * Two rules make it hard to game by strangers. Startups (connections still in the handshake)
 * that have cost the server nothing yet can be shed: when `maxStartups` is full, a new
 * connection pushes out the oldest cheap startup of the address group that holds the most, once
 * that startup has kept the server waiting for its next message for `shedAfterMs`, so a trickle
 * of silent sockets cannot keep good clients out; until then, newcomers wait their turn,
 * accepted but unread, so that a burst of good clients (a server restarted under a thousand of
 * them) is served in order instead of pushing each other out, however slow the busy server is. And failures are counted per address group (an IPv4 address, an IPv6 /64),
 * never per client key, which anyone can name.
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
  /** Connections still in the handshake at once (like sshd's MaxStartups); more wait. */
  maxStartups: number;
  /**
   * A startup that has cost nothing (no RSA decryption) is pushed out for a newcomer only once
   * it has kept the server waiting for its next handshake message this long; others are served
   * while newcomers wait.
   */
  shedAfterMs: number;
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
  shedAfterMs: 500,
  authFailureLimit: 5,
  authFailureWindowMs: 60_000,
  authBackoffMs: 1_000,
  maxAuthBackoffMs: 300_000,
};

/**
 * Why a connection was turned away before its handshake. (`max_startups` is no longer given:
 * over `maxStartups`, newcomers wait. It stays in the type for code that matches on it.)
 */
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
  #startedMs = 0;
  /** Since when the server waits for the peer's next handshake message; undefined: it works. */
  #peerWaitSinceMs: number | undefined;
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #waiting = true;

  /** @internal Made by {@linkcode Admission.admit}. */
  constructor(admission: Admission, group: string, shed: () => void) {
    this.#admission = admission;
    this.group = group;
    this.#shed = shed;
    this.#ready = new Promise((resolve) => this.#resolveReady = resolve);
  }

  /** True while the connection is in the handshake. */
  get inStartup(): boolean {
    return this.#startup && !this.#released;
  }

  /** True while it waits for room among the startups (its handshake must not start yet). */
  get waiting(): boolean {
    return this.#waiting && !this.#released;
  }

  /**
   * Resolves once the handshake may start (at once when there was room), or once the admission
   * is closed or the ticket released. Never rejects.
   */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** @internal When it became a startup. */
  get startedMs(): number {
    return this.#startedMs;
  }

  /**
   * @internal Since when the server has been waiting for the peer's next handshake message, or
   * `undefined` while the server itself is working on the connection.
   */
  get peerWaitSinceMs(): number | undefined {
    return this.#peerWaitSinceMs;
  }

  /**
   * The server waits for the peer's next handshake message (a startup is waiting for its
   * hello from the start). Only a startup that keeps the server waiting for `shedAfterMs` can be
   * shed: never one the server is slow to serve.
   */
  awaitingPeer(nowMs: number = Date.now()): void {
    if (this.#peerWaitSinceMs !== undefined) return;
    this.#peerWaitSinceMs = nowMs;
    this.#admission.peerWaits(nowMs);
  }

  /** The peer's handshake message arrived: the server works on it. */
  heardFromPeer(): void {
    this.#peerWaitSinceMs = undefined;
  }

  /** @internal It is a startup now (or waits no more, when the admission closed). */
  start(nowMs: number): void {
    this.#waiting = false;
    this.#startedMs = nowMs;
    this.#peerWaitSinceMs = nowMs;
    this.#resolveReady();
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

  /**
   * The server accepted the connection's session ticket (SPEC §4.6) and is about to answer
   * with ServerResumed: pushing it out now would spend the client's ticket and bring it back for
   * a full handshake, with RSA on both sides. From here on it is treated as one that decrypts:
   * it is not shed, and unless it authenticates (a replayed ticket never does) it counts as a
   * failure of its address group.
   */
  resuming(): void {
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
    this.#resolveReady();
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
  /** Admitted connections waiting for room among the startups, first come first served. */
  #waiting = new Set<AdmissionTicket>();
  #shedTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
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

  /** Admitted connections waiting for room among the startups now. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Why a new connection from `address` must be refused now, or `undefined` to admit it. A
   * full `maxStartups` refuses nobody: the newcomer waits (see {@linkcode Admission.admit}).
   */
  check(address: string, nowMs: number = Date.now()): AdmissionRefusal | undefined {
    const group = addressGroup(address);
    if (this.#blocked(group, nowMs)) return "auth_backoff";
    if (this.#total >= this.limits.maxConnections) return "max_connections";
    if ((this.#perGroup.get(group) ?? 0) >= this.limits.maxConnectionsPerAddress) {
      return "max_connections_per_address";
    }
    return undefined;
  }

  /**
   * Counts an admitted connection (call `check()` first). It is a startup at once when
   * `maxStartups` has room, or when a cheap startup (of the address group holding the most) has
   * kept the server waiting for `shedAfterMs`: the oldest such is shed, its `shed` callback
   * closes it. Otherwise it waits, first come first served, until a startup ends or one does;
   * start its handshake once `ticket.ready` resolves. A startup until `ticket.authenticated()`.
   */
  admit(address: string, shed: () => void = () => {}, nowMs: number = Date.now()): AdmissionTicket {
    const ticket = new AdmissionTicket(this, addressGroup(address), shed);
    this.#total++;
    this.#perGroup.set(ticket.group, (this.#perGroup.get(ticket.group) ?? 0) + 1);
    this.#waiting.add(ticket);
    this.#promote(nowMs);
    return ticket;
  }

  /** Lets every waiting connection go (to be refused by its caller) and stops the timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#shedTimer);
    this.#shedTimer = undefined;
    for (const ticket of this.#waiting) ticket.start(Date.now());
    this.#waiting.clear();
  }

  /**
   * Starts waiting connections while there is room, shedding startups old enough to go; when
   * some must still wait, sets a timer for the moment the oldest cheap startup gets old enough.
   */
  #promote(nowMs: number): void {
    for (const ticket of this.#waiting) {
      if (this.#startups.size >= this.limits.maxStartups) {
        const victim = this.#sheddable(nowMs);
        if (victim === undefined) break;
        this.#startups.delete(victim);
        victim.shed();
      }
      this.#waiting.delete(ticket);
      this.#startups.add(ticket);
      ticket.start(nowMs);
    }
    this.#scheduleShed(nowMs);
  }

  /** @internal A startup began waiting for its peer: it may become sheddable. */
  peerWaits(nowMs: number): void {
    this.#scheduleShed(nowMs);
  }

  #scheduleShed(nowMs: number): void {
    if (this.#shedTimer !== undefined || this.#waiting.size === 0 || this.#closed) return;
    let oldestMs: number | undefined;
    for (const ticket of this.#startups) {
      const since = ticket.peerWaitSinceMs;
      if (!ticket.costly && since !== undefined && (oldestMs === undefined || since < oldestMs)) {
        oldestMs = since;
      }
    }
    // Every startup cost a decryption or is being worked on: the first to end (or to wait for
    // its peer) lets the next in.
    if (oldestMs === undefined) return;
    const delayMs = Math.max(0, oldestMs + this.limits.shedAfterMs - nowMs);
    this.#shedTimer = setTimeout(() => {
      this.#shedTimer = undefined;
      this.#promote(Date.now());
    }, delayMs);
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
    const wasStartup = this.#startups.delete(ticket);
    this.#waiting.delete(ticket);
    if (authenticated) {
      this.#failures.delete(ticket.group);
    } else {
      this.#total--;
      const count = (this.#perGroup.get(ticket.group) ?? 1) - 1;
      if (count === 0) this.#perGroup.delete(ticket.group);
      else this.#perGroup.set(ticket.group, count);
    }
    if (wasStartup && this.#waiting.size > 0) {
      clearTimeout(this.#shedTimer);
      this.#shedTimer = undefined;
      this.#promote(Date.now());
    }
  }

  /**
   * The oldest cheap startup that has kept the server waiting for at least `shedAfterMs`, of
   * the group that holds the most such startups.
   */
  #sheddable(nowMs: number): AdmissionTicket | undefined {
    const old = (ticket: AdmissionTicket) => {
      const since = ticket.peerWaitSinceMs;
      return !ticket.costly && since !== undefined && nowMs - since >= this.limits.shedAfterMs;
    };
    const counts = new Map<string, number>();
    let most = 0;
    for (const ticket of this.#startups) {
      if (!old(ticket)) continue;
      const count = (counts.get(ticket.group) ?? 0) + 1;
      counts.set(ticket.group, count);
      most = Math.max(most, count);
    }
    for (const ticket of this.#startups) {
      if (old(ticket) && counts.get(ticket.group) === most) return ticket;
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
