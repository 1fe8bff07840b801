/**
 * HKDF-SHA256 (RFC 5869) over Web Crypto: the one derivation from which the key schedule
 * (`session/key_schedule.ts`) builds the handshake secrets and the traffic keys.
 *
 * @module
 */

import { bufferSource } from "./_buffer_source.ts";
import { importHkdfKey } from "./hkdf_key.ts";

const sha256Bytes = 32;
/** RFC 5869 §2.3: at most 255 blocks of the hash output. */
const maxHkdfBytes = 255 * sha256Bytes;
const bitsPerByte = 8;

/**
 * Derives `length` bytes with HKDF-SHA256 (RFC 5869): extract with `salt`, then expand with
 * `info`. Runs on Web Crypto's `"HKDF"`.
 *
 * @param ikm The input keying material (for example an X25519 shared secret), or the HKDF key
 * {@linkcode importHkdfKey} made of it: deriving several outputs from one secret, import it once.
 * @param salt The salt; may be empty.
 * @param info The context; a string is encoded as UTF-8.
 * @param length How many bytes to derive: 1 to 8160.
 * @returns The derived bytes.
 * @throws {RangeError} If `length` is not an integer from 1 to 8160.
 *
 * @example Derive two 32-byte keys from one secret
 * ```ts
 * import { hkdf } from "./hkdf.ts";
 * import assert from "node:assert/strict";
 *
 * const secret = new Uint8Array(32).fill(7);
 * const salt = new Uint8Array(32);
 * const keys = await hkdf(secret, salt, "ovtp example keys", 64);
 * assert.equal(keys.length, 64);
 * assert.deepEqual(await hkdf(secret, salt, "ovtp example keys", 64), keys);
 * assert.notDeepEqual(await hkdf(secret, salt, "another context", 64), keys);
 * ```
 */
export async function hkdf(
  ikm: Uint8Array | CryptoKey,
  salt: Uint8Array,
  info: Uint8Array | string,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!Number.isInteger(length) || length < 1 || length > maxHkdfBytes) {
    throw new RangeError(
      `Cannot derive keys: length ${length} is not an integer from 1 to ${maxHkdfBytes}`,
    );
  }
  const infoBytes = typeof info === "string" ? new TextEncoder().encode(info) : bufferSource(info);
  const key = ikm instanceof Uint8Array ? await importHkdfKey(ikm) : ikm;
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: bufferSource(salt), info: infoBytes },
    key,
    length * bitsPerByte,
  );
  return new Uint8Array(bits);
}
