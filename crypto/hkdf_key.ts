/**
 * The Web Crypto HKDF key made of a secret once, so that `hkdf()` (`crypto/hkdf.ts`) derives
 * several outputs from it without importing the same secret again for each (the key schedule
 * derives three to six outputs from each secret; each import is a Web Crypto call).
 *
 * @module
 */

import { bufferSource } from "./_buffer_source.ts";

/**
 * Imports `ikm` as a non-extractable HKDF key, usable only to derive bits.
 *
 * @param ikm The input keying material.
 * @returns The key, to pass to `hkdf()` in place of the bytes.
 *
 * @example Deriving from the key gives what deriving from the bytes gives
 * ```ts
 * import { importHkdfKey } from "./hkdf_key.ts";
 * import { hkdf } from "./hkdf.ts";
 * import assert from "node:assert/strict";
 *
 * const secret = new Uint8Array(32).fill(7);
 * const key = await importHkdfKey(secret);
 * assert.equal(key.extractable, false);
 * assert.deepEqual(
 *   await hkdf(key, new Uint8Array(0), "ovtp example", 32),
 *   await hkdf(secret, new Uint8Array(0), "ovtp example", 32),
 * );
 * ```
 */
export function importHkdfKey(ikm: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", bufferSource(ikm), "HKDF", false, ["deriveBits"]);
}
