/** Limits a server applies before and during the handshake. */
export interface AdmissionLimits {
  /** Connections served at once (handshaking or authenticated). */
  maxConnections: number;
  /** Connections from one address at once. */
  maxConnectionsPerAddress: number;
  /** Connections still in the handshake at once (like sshd's MaxStartups). */
  maxStartups: number;
  /** Failed authentications from one address (or with one key) before it is held off. */
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

/** Most addresses and keys whose failures are remembered; the oldest are forgotten first. */
const maxTrackedFailures = 10_000;

/**
 * Counts connections per address and in the handshake, and remembers authentication failures
 * per address and per key, so a server can refuse work it should not do: before any
 * cryptography for a connection over a limit, or from an address (or with a key) that keeps
 * failing. Memory stays bounded: at most 10,000 failure records.
 *
 * @example Hold off an address after repeated failures
 * ```ts
 * import { Admission } from "./admission.ts";
 * import assert from "node:assert/strict";
 *
 * const admission = new Admission({ authFailureLimit: 2 });
 * for (let i = 0; i < 2; i++) admission.failed("10.0.0.9", undefined, 1000);
 * assert.equal(admission.check("10.0.0.9", 1001), "auth_backoff");
 * assert.equal(admission.check("10.0.0.8", 1001), undefined);
 * ```
 */
export class Admission {
  readonly limits: AdmissionLimits;
  #total = 0;
  #startups = 0;
  #perAddress = new Map<string, number>();
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
    return this.#startups;
  }

  /** Why a new connection from `address` must be refused now, or `undefined` to admit it. */
  check(address: string, nowMs = Date.now()): AdmissionRefusal | undefined {
    if (this.#total >= this.limits.maxConnections) return "max_connections";
    if ((this.#perAddress.get(address) ?? 0) >= this.limits.maxConnectionsPerAddress) {
      return "max_connections_per_address";
    }
    if (this.#startups >= this.limits.maxStartups) return "max_startups";
    if (this.#blocked(`address ${address}`, nowMs)) return "auth_backoff";
    return undefined;
  }

  /** True when `fingerprint` is held off after repeated failures. */
  keyBlocked(fingerprint: string, nowMs = Date.now()): boolean {
    return this.#blocked(`key ${fingerprint}`, nowMs);
  }

  /** Counts an admitted connection; it is in the handshake until `authenticated()`. */
  admit(address: string): void {
    this.#total++;
    this.#startups++;
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
  }

  /** The connection finished its handshake: it no longer counts as a startup. */
  authenticated(address: string, fingerprint: string): void {
    this.#startups--;
    this.#failures.delete(`address ${address}`);
    this.#failures.delete(`key ${fingerprint}`);
  }

  /** The connection ended; `inHandshake` when it never finished the handshake. */
  release(address: string, inHandshake: boolean): void {
    this.#total--;
    if (inHandshake) this.#startups--;
    const count = (this.#perAddress.get(address) ?? 1) - 1;
    if (count === 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, count);
  }

  /** Records an authentication failure from `address` (and with `fingerprint`, if known). */
  failed(address: string, fingerprint: string | undefined, nowMs = Date.now()): void {
    this.#record(`address ${address}`, nowMs);
    if (fingerprint !== undefined) this.#record(`key ${fingerprint}`, nowMs);
  }

  #record(key: string, nowMs: number): void {
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
