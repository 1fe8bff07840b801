/**
 * Ephemeral X25519 over Web Crypto: each handshake makes a fresh key pair on each side and agrees
 * on the shared secret that gives forward secrecy (`session/handshake.ts`,
 * `session/key_schedule.ts`); a low-order peer key is refused.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { bufferSource } from "./_buffer_source.ts";
import { timingSafeEqual } from "./timing_safe_equal.ts";

/** Length of an X25519 public key, and of the shared secret, in bytes. */
export const x25519PublicKeyBytes = 32;

const x25519SharedSecretBits = 256;
/** What a low-order peer key yields (RFC 7748 §6.1): it must be refused. */
const allZeroSecret = new Uint8Array(x25519PublicKeyBytes);

/** An ephemeral X25519 key pair from {@linkcode generateX25519}. */
export interface X25519KeyPair {
  /** The private key: not extractable, usable only with {@linkcode x25519}. */
  privateKey: CryptoKey;
  /** The 32-byte raw public key (RFC 7748 u-coordinate), to send to the peer. */
  publicKey: Uint8Array;
}

/**
 * Generates an ephemeral X25519 key pair (Web Crypto `{ name: "X25519" }`).
 *
 * @returns The non-extractable private key and the raw 32-byte public key.
 *
 * @example Generate a key pair
 * ```ts
 * import { generateX25519, x25519PublicKeyBytes } from "./x25519.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await generateX25519();
 * assert.equal(pair.publicKey.length, x25519PublicKeyBytes);
 * assert.equal(pair.privateKey.extractable, false);
 * ```
 */
export async function generateX25519(): Promise<X25519KeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey };
}

/**
 * Computes the X25519 shared secret (RFC 7748) between our private key and the peer's raw public
 * key.
 *
 * A peer key of the wrong length, or a low-order point that would give an all-zero (predictable)
 * secret, is refused with a {@linkcode ProtocolError}.
 *
 * @param privateKey Our private key, from {@linkcode generateX25519}.
 * @param peerPublicKey The peer's 32-byte raw public key.
 * @returns The 32-byte shared secret; feed it to HKDF, never use it as a key directly.
 * @throws {ProtocolError} If the peer's key is not 32 bytes or is a low-order point.
 * @throws {TypeError} If `privateKey` is not an X25519 private key.
 *
 * @example Both sides compute the same secret
 * ```ts
 * import { generateX25519, x25519 } from "./x25519.ts";
 * import assert from "node:assert/strict";
 *
 * const alice = await generateX25519();
 * const bob = await generateX25519();
 * assert.deepEqual(
 *   await x25519(alice.privateKey, bob.publicKey),
 *   await x25519(bob.privateKey, alice.publicKey),
 * );
 * ```
 */
export async function x25519(
  privateKey: CryptoKey,
  peerPublicKey: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (privateKey.algorithm.name !== "X25519" || privateKey.type !== "private") {
    throw new TypeError(
      `Cannot compute X25519 secret: expected an X25519 private key, got a ${privateKey.type} ${privateKey.algorithm.name} key`,
    );
  }
  if (peerPublicKey.length !== x25519PublicKeyBytes) {
    throw new ProtocolError(
      `Cannot compute X25519 secret: the peer's public key is ${peerPublicKey.length} bytes, expected ${x25519PublicKeyBytes}`,
    );
  }
  let peerKey: CryptoKey;
  try {
    peerKey = await crypto.subtle.importKey(
      "raw",
      bufferSource(peerPublicKey),
      { name: "X25519" },
      true,
      [],
    );
  } catch (error) {
    throw new ProtocolError("Cannot compute X25519 secret: the peer's public key is invalid", {
      cause: error,
    });
  }
  let secret: Uint8Array<ArrayBuffer>;
  try {
    secret = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "X25519", public: peerKey },
        privateKey,
        x25519SharedSecretBits,
      ),
    );
  } catch (error) {
    // Deno refuses low-order points itself, with an OperationError.
    if (error instanceof DOMException && error.name === "OperationError") {
      throw lowOrderError(error);
    }
    throw error;
  }
  if (timingSafeEqual(secret, allZeroSecret)) throw lowOrderError();
  return secret;
}

function lowOrderError(cause?: unknown): ProtocolError {
  return new ProtocolError(
    "Cannot compute X25519 secret: the peer's public key is a low-order point; close the connection",
    { cause },
  );
}
