/**
 * RSASSA-PSS (SHA-256, 32-byte salt) over Web Crypto: the client signs the handshake transcript
 * with it (`session/handshake.ts`) and the server checks the signature; `identity.ts` uses it to
 * check that a loaded key pair belongs together.
 *
 * @module
 */

import { bufferSource } from "./_buffer_source.ts";
import { assertRsaKey } from "./_rsa_key.ts";

/** Length of the RSASSA-PSS salt, in bytes (the SHA-256 output length). */
export const pssSaltBytes = 32;

/**
 * Signs `data` with RSASSA-PSS, SHA-256 and a 32-byte salt.
 *
 * @param privateKey An RSA-PSS SHA-256 private key with the `sign` usage (an identity's
 * `signKey`).
 * @param data The bytes to sign.
 * @returns The signature, as long as the key's modulus (384 bytes for RSA-3072).
 * @throws {TypeError} If `privateKey` is not an RSA-PSS SHA-256 private key.
 *
 * @example Sign and verify
 * ```ts
 * import { signPss, verifyPss } from "./rsa_pss.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await crypto.subtle.generateKey(
 *   { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   false,
 *   ["sign", "verify"],
 * );
 * const data = new TextEncoder().encode("transcript");
 * const signature = await signPss(pair.privateKey, data);
 * assert.equal(signature.length, 256);
 * assert.equal(await verifyPss(pair.publicKey, signature, data), true);
 * ```
 */
export async function signPss(
  privateKey: CryptoKey,
  data: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  assertRsaKey("sign", privateKey, "RSA-PSS", "private");
  const signature = await crypto.subtle.sign(
    { name: "RSA-PSS", saltLength: pssSaltBytes },
    privateKey,
    bufferSource(data),
  );
  return new Uint8Array(signature);
}

/**
 * Checks an RSASSA-PSS (SHA-256, 32-byte salt) signature made by {@linkcode signPss}.
 *
 * A signature of the wrong length, or any garbage, gives `false`: this function never throws
 * because of what a peer sent.
 *
 * @param publicKey An RSA-PSS SHA-256 public key with the `verify` usage (a `PublicKey`'s
 * `verifyKey`).
 * @param signature The signature to check.
 * @param data The bytes that were signed.
 * @returns `true` only if the signature is valid for `data` under `publicKey`.
 * @throws {TypeError} If `publicKey` is not an RSA-PSS SHA-256 public key (a programming error).
 *
 * @example Refuse a signature over other data
 * ```ts
 * import { signPss, verifyPss } from "./rsa_pss.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await crypto.subtle.generateKey(
 *   { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   false,
 *   ["sign", "verify"],
 * );
 * const signature = await signPss(pair.privateKey, new TextEncoder().encode("one"));
 * assert.equal(await verifyPss(pair.publicKey, signature, new TextEncoder().encode("two")), false);
 * assert.equal(await verifyPss(pair.publicKey, new Uint8Array(3), new Uint8Array(0)), false);
 * ```
 */
export async function verifyPss(
  publicKey: CryptoKey,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const modulusBytes = assertRsaKey("verify", publicKey, "RSA-PSS", "public");
  if (signature.length !== modulusBytes) return false;
  try {
    return await crypto.subtle.verify(
      { name: "RSA-PSS", saltLength: pssSaltBytes },
      publicKey,
      bufferSource(signature),
      bufferSource(data),
    );
  } catch {
    return false;
  }
}
