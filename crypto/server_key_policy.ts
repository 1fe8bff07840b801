/**
 * How a client decides to trust the key a server presents (SPEC §10): the key seen earlier in
 * this session (a reconnect must meet the same key), else a pinned fingerprint, else the
 * known_hosts entry for `[host]:port`, else trust on first use when asked for, recording the key.
 * `OvtpClient` asks it during every handshake, before ClientSecret.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../address.ts";
import { HostKeyError } from "../errors.ts";
import type { KnownHosts } from "./known_hosts.ts";
import type { PublicKey } from "./public_key.ts";
import { timingSafeEqual } from "./timing_safe_equal.ts";

/** Options of {@linkcode ServerKeyPolicy}. */
export interface ServerKeyPolicyOptions {
  /** Expect exactly this server key (`SHA256:…`), whatever known_hosts says. */
  fingerprint?: string;
  /** Known server keys. */
  knownHosts?: KnownHosts;
  /** Trust an unknown key on first use and record it in known_hosts. */
  acceptNew?: boolean;
  /** Called once a key was recorded in known_hosts. */
  onHostKeyRecorded?: (key: PublicKey, knownHostsPath: string) => void;
}

/**
 * Decides whether to trust each key one server presents, and remembers the first it trusted.
 *
 * @example A pinned fingerprint
 * ```ts ignore
 * const policy = new ServerKeyPolicy({ hostname: "files.example", port: 4242 }, { fingerprint });
 * await policy.verify(serverKey); // throws HostKeyError on a mismatch
 * ```
 */
export class ServerKeyPolicy {
  #address: HostPort;
  #options: ServerKeyPolicyOptions;
  #trusted: PublicKey | undefined;

  /**
   * @param address The server's address, as known_hosts names it.
   * @param options Pin, known_hosts and trust on first use.
   */
  constructor(address: HostPort, options: ServerKeyPolicyOptions) {
    this.#address = address;
    this.#options = options;
  }

  /** The key a completed handshake proved in this session, once one did. */
  get trusted(): PublicKey | undefined {
    return this.#trusted;
  }

  /**
   * Trusts `key` for this handshake or throws why not. Once a handshake completed with a key
   * (`confirmed()`), only that key is trusted afterwards.
   *
   * @throws {HostKeyError} The key is unknown (and trust on first use was not asked for), or
   * differs from the pin, the known_hosts entry or the key seen earlier in this session.
   */
  async verify(key: PublicKey): Promise<void> {
    await this.#check(key);
  }

  /**
   * The handshake completed: the server proved it holds `key` (ServerFinished). Reconnects
   * must meet the same key.
   */
  confirmed(key: PublicKey): void {
    this.#trusted ??= key;
  }

  async #check(key: PublicKey): Promise<void> {
    const host = formatHostPort(this.#address);
    const { hostname, port } = this.#address;
    // Once a handshake completed, a reconnect must meet the same key.
    if (this.#trusted !== undefined) {
      if (timingSafeEqual(this.#trusted.spki, key.spki)) return;
      throw mismatch(
        host,
        key,
        this.#trusted.fingerprint,
        "the key seen earlier in this session",
      );
    }
    if (this.#options.fingerprint !== undefined) {
      if (key.fingerprint !== this.#options.fingerprint) {
        throw mismatch(host, key, this.#options.fingerprint, "the pinned fingerprint");
      }
      // A pinned key is trusted; with acceptNew it is also recorded for later runs.
      if (this.#options.acceptNew === true && this.#options.knownHosts !== undefined) {
        const check = await this.#options.knownHosts.check(hostname, port, key);
        if (check.status === "unknown") await this.#recordKey(this.#options.knownHosts, key);
      }
      return;
    }
    if (this.#options.knownHosts !== undefined) {
      const check = await this.#options.knownHosts.check(hostname, port, key);
      if (check.status === "match") return;
      if (check.status === "mismatch") {
        const error = mismatch(
          host,
          key,
          check.expected ?? "(unknown)",
          `line ${check.lineNumber} of ${this.#options.knownHosts.path}`,
          `if the server key really changed, remove line ${check.lineNumber} of ${this.#options.knownHosts.path}`,
          { knownHostsPath: this.#options.knownHosts.path, lineNumber: check.lineNumber },
        );
        throw error;
      }
    }
    if (this.#options.acceptNew === true) {
      if (this.#options.knownHosts !== undefined) {
        await this.#recordKey(this.#options.knownHosts, key);
      }
      return;
    }
    throw new HostKeyError(
      `The server ${host} presented an unknown key ${key.fingerprint}; check it with the ` +
        `server's owner, then pass it as the expected fingerprint or accept it on first use`,
      { problem: "unknown", host, presented: key.fingerprint },
    );
  }

  async #recordKey(knownHosts: KnownHosts, key: PublicKey): Promise<void> {
    await knownHosts.add(this.#address.hostname, this.#address.port, key);
    this.#options.onHostKeyRecorded?.(key, knownHosts.path);
  }
}

function mismatch(
  host: string,
  key: PublicKey,
  expected: string,
  source: string,
  advice = "check with the server's owner",
  where: { knownHostsPath?: string; lineNumber?: number } = {},
): HostKeyError {
  return new HostKeyError(
    `The server ${host} presented key ${key.fingerprint}, but ${source} expects ${expected}: ` +
      `someone may be intercepting the connection; ${advice}`,
    { problem: "mismatch", host, presented: key.fingerprint, expected, ...where },
  );
}
