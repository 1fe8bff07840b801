/**
 * Internal: what the RSA wrappers share: the one public exponent ovtp makes or accepts (65537) and
 * `assertRsaKey()`, which checks a `CryptoKey`'s algorithm, type and hash before `rsa_oaep.ts`,
 * `rsa_pss.ts`, `identity.ts` or `public_key.ts` use it.
 *
 * @module
 */

const bitsPerByte = 8;

/** The only RSA public exponent ovtp makes or accepts: 65537, big-endian. */
export const rsaPublicExponent: Uint8Array<ArrayBuffer> = new Uint8Array([1, 0, 1]);

/**
 * Checks that `key` is an RSA key of the given algorithm, type and SHA-256 hash, and returns the
 * length of its modulus in bytes.
 *
 * @param operation What the caller is about to do, for the message ("sign", "verify", ...).
 * @param key The key to check.
 * @param algorithm `"RSA-PSS"` or `"RSA-OAEP"`.
 * @param type `"public"` or `"private"`.
 * @returns The modulus length, in bytes.
 * @throws {TypeError} If the key does not fit.
 *
 * @example Measure an RSA-2048 key
 * ```ts
 * import { assertRsaKey } from "./_rsa_key.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await crypto.subtle.generateKey(
 *   { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   false,
 *   ["encrypt", "decrypt"],
 * );
 * assert.equal(assertRsaKey("encrypt", pair.publicKey, "RSA-OAEP", "public"), 256);
 * assert.throws(() => assertRsaKey("sign", pair.privateKey, "RSA-PSS", "private"), TypeError);
 * ```
 */
export function assertRsaKey(
  operation: string,
  key: CryptoKey,
  algorithm: "RSA-PSS" | "RSA-OAEP",
  type: "public" | "private",
): number {
  const keyAlgorithm = key.algorithm as Partial<RsaHashedKeyAlgorithm>;
  if (
    keyAlgorithm.name !== algorithm || key.type !== type || keyAlgorithm.hash?.name !== "SHA-256" ||
    typeof keyAlgorithm.modulusLength !== "number"
  ) {
    throw new TypeError(
      `Cannot ${operation}: expected an ${algorithm} SHA-256 ${type} key, got a ${key.type} ${key.algorithm.name} key`,
    );
  }
  return Math.ceil(keyAlgorithm.modulusLength / bitsPerByte);
}
