/**
 * A spare ephemeral X25519 key pair made ahead of time, so that a server handshake does not
 * wait for the key generation (about 0.1 ms of CPU and a trip to Web Crypto's worker thread):
 * `session/handshake.ts` takes the spare when the client's hello arrives, and makes the next one
 * while it waits for the client's answer. Every pair is handed out once, so forward secrecy is
 * as with a pair made on the spot; at most one pair waits, unused, between handshakes.
 *
 * @module
 */

import { generateX25519, type X25519KeyPair } from "../crypto/x25519.ts";

/**
 * Hands out X25519 key pairs, each once, keeping at most one spare made ahead.
 *
 * @example Each pair is handed out once
 * ```ts
 * import { EphemeralKeys } from "./ephemeral_keys.ts";
 * import assert from "node:assert/strict";
 *
 * const keys = new EphemeralKeys();
 * await keys.refill();
 * const first = await keys.take();
 * const second = await keys.take();
 * assert.notDeepEqual(first.publicKey, second.publicKey);
 * ```
 */
export class EphemeralKeys {
  #spare: X25519KeyPair | undefined;
  #making: Promise<void> | undefined;

  /** A pair never handed out before: the spare when one is ready, else a new one. */
  take(): Promise<X25519KeyPair> {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare === undefined ? generateX25519() : Promise.resolve(spare);
  }

  /**
   * Makes the spare unless one is ready or being made; resolves once there is one (or the
   * generation failed: the next {@linkcode EphemeralKeys.take} then makes its own). Never
   * rejects.
   */
  refill(): Promise<void> {
    if (this.#spare !== undefined) return Promise.resolve();
    this.#making ??= generateX25519().then(
      (pair) => {
        this.#spare = pair;
        this.#making = undefined;
      },
      () => {
        this.#making = undefined;
      },
    );
    return this.#making;
  }
}
