/**
 * Cryptographically secure random bytes (`crypto.getRandomValues`, at most 64 KiB a call): the
 * handshake's nonces and client secret (`session/handshake.ts`), ping payloads
 * (`session/channel.ts`) and the temporary name a key file is written under (`identity.ts`).
 *
 * @module
 */

/** The most bytes `crypto.getRandomValues` fills in one call. */
const maxRandomBytes = 65_536;

/**
 * Returns `length` cryptographically secure random bytes from `crypto.getRandomValues`.
 *
 * @param length How many bytes: an integer from 0 to 65536.
 * @returns A new array of `length` random bytes.
 * @throws {RangeError} If `length` is not an integer from 0 to 65536.
 *
 * @example Make a 12-byte nonce
 * ```ts
 * import { randomBytes } from "./random.ts";
 * import assert from "node:assert/strict";
 *
 * const nonce = randomBytes(12);
 * assert.equal(nonce.length, 12);
 * ```
 */
export function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(length) || length < 0 || length > maxRandomBytes) {
    throw new RangeError(
      `Cannot generate random bytes: length ${length} is not an integer from 0 to ${maxRandomBytes}`,
    );
  }
  return crypto.getRandomValues(new Uint8Array(length));
}
