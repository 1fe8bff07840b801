/**
 * Constant-time comparison of byte arrays, for anything a peer could probe: the handshake's
 * Finished check, the server key against a pin or `known_hosts`, and the X25519 all-zero check.
 *
 * @module
 */

/**
 * Compares two byte arrays in constant time: for arrays of equal length, the time taken does not
 * depend on where (or whether) they differ. Arrays of different lengths are unequal at once, so
 * the length itself is not hidden.
 *
 * Use it to compare secrets such as MACs, tags and confirmation hashes.
 *
 * @param a The first array.
 * @param b The second array.
 * @returns `true` if both hold the same bytes.
 *
 * @example Compare two tags
 * ```ts
 * import { timingSafeEqual } from "./timing_safe_equal.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])), true);
 * assert.equal(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])), false);
 * assert.equal(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])), false);
 * ```
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) {
    difference |= a[index] ^ b[index];
  }
  return difference === 0;
}
