/**
 * RSAES-OAEP (SHA-256) over Web Crypto: in the handshake the client wraps its secret to the
 * server's key and the server unwraps it (`session/handshake.ts`); a failed unwrap gives no
 * reason, so the handshake can go on with a random secret and fail later.
 *
 * @module
 */

import { bufferSource } from "./_buffer_source.ts";
import { assertRsaKey } from "./_rsa_key.ts";

const sha256Bytes = 32;
/** RFC 8017 §7.1.1: a message may be at most k - 2 hLen - 2 bytes long. */
const oaepOverheadBytes = 2 * sha256Bytes + 2;

/**
 * Encrypts a short message with RSAES-OAEP (SHA-256 for the hash and MGF1, empty label).
 *
 * @param publicKey An RSA-OAEP SHA-256 public key with the `encrypt` usage (a `PublicKey`'s
 * `encryptKey`).
 * @param data The message: at most the modulus length minus 66 bytes (318 for RSA-3072).
 * @returns The ciphertext, as long as the modulus.
 * @throws {RangeError} If `data` is too long for the key.
 * @throws {TypeError} If `publicKey` is not an RSA-OAEP SHA-256 public key.
 *
 * @example Encrypt a 32-byte secret
 * ```ts
 * import { oaepDecrypt, oaepEncrypt } from "./rsa_oaep.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await crypto.subtle.generateKey(
 *   { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   false,
 *   ["encrypt", "decrypt"],
 * );
 * const secret = crypto.getRandomValues(new Uint8Array(32));
 * const ciphertext = await oaepEncrypt(pair.publicKey, secret);
 * assert.equal(ciphertext.length, 256);
 * assert.deepEqual(await oaepDecrypt(pair.privateKey, ciphertext), secret);
 * ```
 */
export async function oaepEncrypt(
  publicKey: CryptoKey,
  data: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const modulusBytes = assertRsaKey("encrypt", publicKey, "RSA-OAEP", "public");
  const maxDataBytes = modulusBytes - oaepOverheadBytes;
  if (data.length > maxDataBytes) {
    throw new RangeError(
      `Cannot encrypt: the message is ${data.length} bytes, more than the ${maxDataBytes} bytes this key can hold`,
    );
  }
  const ciphertext = await crypto.subtle.encrypt(
    { name: "RSA-OAEP" },
    publicKey,
    bufferSource(data),
  );
  return new Uint8Array(ciphertext);
}

/**
 * Decrypts an RSAES-OAEP (SHA-256, empty label) ciphertext made by {@linkcode oaepEncrypt}.
 *
 * On any failure (wrong length, wrong key, garbage) it returns `undefined` and says nothing
 * about why, so that a handshake can carry on with a random secret instead and fail later
 * without revealing which check failed. It never throws because of what a peer sent.
 *
 * @param privateKey An RSA-OAEP SHA-256 private key with the `decrypt` usage (an identity's
 * `decryptKey`).
 * @param ciphertext The ciphertext, as long as the modulus.
 * @returns The message, or `undefined` if the ciphertext could not be decrypted.
 * @throws {TypeError} If `privateKey` is not an RSA-OAEP SHA-256 private key (a programming
 * error).
 *
 * @example Garbage gives undefined
 * ```ts
 * import { oaepDecrypt } from "./rsa_oaep.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await crypto.subtle.generateKey(
 *   { name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   false,
 *   ["encrypt", "decrypt"],
 * );
 * assert.equal(await oaepDecrypt(pair.privateKey, new Uint8Array(256).fill(1)), undefined);
 * assert.equal(await oaepDecrypt(pair.privateKey, new Uint8Array(5)), undefined);
 * ```
 */
export async function oaepDecrypt(
  privateKey: CryptoKey,
  ciphertext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const modulusBytes = assertRsaKey("decrypt", privateKey, "RSA-OAEP", "private");
  if (ciphertext.length !== modulusBytes) return undefined;
  try {
    const plaintext = await crypto.subtle.decrypt(
      { name: "RSA-OAEP" },
      privateKey,
      bufferSource(ciphertext),
    );
    return new Uint8Array(plaintext);
  } catch {
    return undefined;
  }
}
