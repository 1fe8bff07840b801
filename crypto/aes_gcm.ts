/**
 * AES-256-GCM over Web Crypto: the record layer seals (`session/record_sender.ts`) and opens
 * (`session/record_receiver.ts`) every record with it, and the handshake its ClientAuth message.
 * Lengths are checked before Web Crypto is called.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { bufferSource } from "./_buffer_source.ts";

/** Length of an AES-256-GCM key, in bytes. */
export const aesGcmKeyBytes = 32;

/** Length of an AES-GCM nonce, in bytes. */
export const aesGcmNonceBytes = 12;

/** Length of the AES-GCM authentication tag that {@linkcode aesGcmSeal} appends, in bytes. */
export const aesGcmTagBytes = 16;

const bitsPerByte = 8;

/**
 * Imports a raw 32-byte AES-256-GCM key. The key is not extractable and may encrypt and decrypt.
 *
 * @param raw The 32 key bytes.
 * @returns The imported key.
 * @throws {RangeError} If `raw` is not exactly 32 bytes.
 *
 * @example Import a key
 * ```ts
 * import { importAesGcmKey } from "./aes_gcm.ts";
 * import assert from "node:assert/strict";
 *
 * const key = await importAesGcmKey(new Uint8Array(32));
 * assert.equal(key.extractable, false);
 * await assert.rejects(importAesGcmKey(new Uint8Array(16)), RangeError);
 * ```
 */
export async function importAesGcmKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== aesGcmKeyBytes) {
    throw new RangeError(
      `Cannot import AES-GCM key: it is ${raw.length} bytes, expected ${aesGcmKeyBytes}`,
    );
  }
  return await crypto.subtle.importKey("raw", bufferSource(raw), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

/**
 * Encrypts and authenticates `plaintext` with AES-256-GCM.
 *
 * The result is laid out as `ciphertext (plaintext.length) || tag (16)`; the nonce is not
 * included. Never use the same nonce twice with the same key.
 *
 * @param key A key from {@linkcode importAesGcmKey}.
 * @param nonce The 12-byte nonce.
 * @param plaintext The bytes to encrypt (a view is read in place, without copying).
 * @param additionalData Bytes to authenticate but not encrypt, if any.
 * @returns `ciphertext || tag`, 16 bytes longer than `plaintext`.
 * @throws {RangeError} If `nonce` is not 12 bytes.
 * @throws {TypeError} If `key` is not an AES-GCM key.
 *
 * @example Seal a record
 * ```ts
 * import { aesGcmSeal, aesGcmTagBytes, importAesGcmKey } from "./aes_gcm.ts";
 * import assert from "node:assert/strict";
 *
 * const key = await importAesGcmKey(new Uint8Array(32));
 * const sealed = await aesGcmSeal(key, new Uint8Array(12), new Uint8Array([1, 2, 3]));
 * assert.equal(sealed.length, 3 + aesGcmTagBytes);
 * ```
 */
export async function aesGcmSeal(
  key: CryptoKey,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  additionalData?: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const params = aesGcmParams("seal", key, nonce, additionalData);
  return new Uint8Array(await crypto.subtle.encrypt(params, key, bufferSource(plaintext)));
}

/**
 * Checks and decrypts a record made by {@linkcode aesGcmSeal}.
 *
 * `sealed` is laid out as `ciphertext || tag (16)`. The same nonce and additional data that
 * sealed it must be given.
 *
 * @param key A key from {@linkcode importAesGcmKey}.
 * @param nonce The 12-byte nonce.
 * @param sealed `ciphertext || tag` (a view is read in place, without copying).
 * @param additionalData The authenticated additional data, if any.
 * @returns The plaintext, 16 bytes shorter than `sealed`.
 * @throws {ProtocolError} If `sealed` is shorter than the tag, or fails authentication (wrong
 * key, nonce or additional data, or altered bytes).
 * @throws {RangeError} If `nonce` is not 12 bytes.
 * @throws {TypeError} If `key` is not an AES-GCM key.
 *
 * @example Open a record, and refuse an altered one
 * ```ts
 * import { aesGcmOpen, aesGcmSeal, importAesGcmKey } from "./aes_gcm.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const key = await importAesGcmKey(new Uint8Array(32));
 * const nonce = new Uint8Array(12);
 * const sealed = await aesGcmSeal(key, nonce, new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await aesGcmOpen(key, nonce, sealed), new Uint8Array([1, 2, 3]));
 *
 * sealed[0] ^= 1;
 * await assert.rejects(aesGcmOpen(key, nonce, sealed), ProtocolError);
 * ```
 */
export async function aesGcmOpen(
  key: CryptoKey,
  nonce: Uint8Array,
  sealed: Uint8Array,
  additionalData?: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const params = aesGcmParams("open", key, nonce, additionalData);
  if (sealed.length < aesGcmTagBytes) {
    throw new ProtocolError(
      `Cannot open record: it is ${sealed.length} bytes, shorter than the ${aesGcmTagBytes}-byte tag`,
    );
  }
  try {
    return new Uint8Array(await crypto.subtle.decrypt(params, key, bufferSource(sealed)));
  } catch (error) {
    if (error instanceof DOMException && error.name === "OperationError") {
      throw new ProtocolError(
        "Cannot open record: authentication failed (the record was altered, or the peers disagree on keys); close the connection",
        { cause: error },
      );
    }
    throw error;
  }
}

function aesGcmParams(
  operation: "seal" | "open",
  key: CryptoKey,
  nonce: Uint8Array,
  additionalData: Uint8Array | undefined,
): AesGcmParams {
  if (key.algorithm.name !== "AES-GCM") {
    throw new TypeError(
      `Cannot ${operation} record: the key is for ${key.algorithm.name}, expected AES-GCM`,
    );
  }
  if (nonce.length !== aesGcmNonceBytes) {
    throw new RangeError(
      `Cannot ${operation} record: the nonce is ${nonce.length} bytes, expected ${aesGcmNonceBytes}`,
    );
  }
  const params: AesGcmParams = {
    name: "AES-GCM",
    iv: bufferSource(nonce),
    tagLength: aesGcmTagBytes * bitsPerByte,
  };
  if (additionalData !== undefined) params.additionalData = bufferSource(additionalData);
  return params;
}
