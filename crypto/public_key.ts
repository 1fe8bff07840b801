/**
 * `PublicKey`: an RSA public key imported strictly (canonical DER, 2048 to 8192 bits, exponent
 * 65537) with its fingerprint and comment, and the one-line text form `ovtp-rsa <base64 SPKI>
 * comment`. The key type the handshake, `authorized_keys` and `known_hosts` all exchange.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import { bufferSource } from "./_buffer_source.ts";
import { rsaPublicExponent } from "./_rsa_key.ts";
import { fingerprint } from "./fingerprint.ts";
import { assertComment, KeyProblem } from "./_key_problem.ts";
import { timingSafeEqual } from "./timing_safe_equal.ts";

/** The key type word that starts a public key line. */
export const publicKeyType = "ovtp-rsa";

/** Smallest RSA modulus ovtp accepts, in bits. */
export const minRsaBits = 2048;

/** Largest RSA modulus ovtp accepts, in bits. */
export const maxRsaBits = 8192;

/** Largest DER SubjectPublicKeyInfo ovtp accepts, in bytes (an RSA-8192 key takes 1062). */
export const maxSpkiBytes = 2048;

/** A public key line is refused before parsing if it is longer than this. */
const maxPublicKeyLineChars = 16_384;
const publicKeyLineFormat = `expected one line "${publicKeyType} <base64 SPKI> [comment]"`;

/** An RSA public key that ovtp accepts, with the two Web Crypto keys it is used through. */
export interface PublicKey {
  /** The DER SubjectPublicKeyInfo bytes, as found on the wire and in key files. */
  readonly spki: Uint8Array;
  /** `SHA256:` and the unpadded base64 of the SHA-256 of `spki`, as OpenSSH shows keys. */
  readonly fingerprint: string;
  /** Free text naming the key (`alice@laptop`); may be empty. */
  readonly comment: string;
  /** Length of the RSA modulus, in bits. */
  readonly bits: number;
  /** The key for RSASSA-PSS SHA-256 verification. */
  readonly verifyKey: CryptoKey;
  /** The key for RSAES-OAEP SHA-256 encryption. */
  readonly encryptKey: CryptoKey;
}

/**
 * Imports an RSA public key from its DER SubjectPublicKeyInfo.
 *
 * The key must be at most {@linkcode maxSpkiBytes} bytes, in canonical DER, RSA with a modulus of
 * {@linkcode minRsaBits} to {@linkcode maxRsaBits} bits and public exponent 65537.
 *
 * @param spki The DER SubjectPublicKeyInfo bytes (copied).
 * @param comment Free text naming the key, one line; surrounding whitespace is trimmed.
 * @returns The public key.
 * @throws {KeyFileError} If the bytes are not an acceptable RSA public key.
 * @throws {TypeError} If `comment` has a line break.
 *
 * @example Refuse bytes that are not a key
 * ```ts
 * import { importPublicKey, KeyFileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(importPublicKey(new Uint8Array([0x30, 0x00])), KeyFileError);
 * ```
 */
export async function importPublicKey(spki: Uint8Array, comment = ""): Promise<PublicKey> {
  assertComment(comment);
  return await importKey("Cannot import public key", spki, comment.trim());
}

/**
 * Parses a public key line: `ovtp-rsa <base64 SPKI> [comment]`. The comment is the rest of the
 * line, trimmed; it may contain spaces.
 *
 * @param line The line; surrounding whitespace and a final line break are ignored.
 * @returns The public key.
 * @throws {KeyFileError} If the line is malformed or holds an unacceptable key; the message says
 * what is wrong and what format is expected, and never repeats key material.
 *
 * @example Refuse another key type
 * ```ts
 * import { KeyFileError, parsePublicKey } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(parsePublicKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 me@host"), KeyFileError);
 * ```
 */
export async function parsePublicKey(line: string): Promise<PublicKey> {
  const action = "Cannot parse public key";
  if (line.length > maxPublicKeyLineChars) {
    throw new KeyProblem(
      action,
      `the line is longer than ${maxPublicKeyLineChars} characters`,
      publicKeyLineFormat,
    );
  }
  const text = line.trim();
  if (text === "") throw new KeyProblem(action, "the line is empty", publicKeyLineFormat);
  if (/[\r\n]/.test(text)) {
    throw new KeyProblem(action, "the text holds more than one line", publicKeyLineFormat);
  }
  const match = /^(\S+)(?:\s+(\S+)(?:\s+([\s\S]*))?)?$/.exec(text);
  if (match === null) throw new KeyProblem(action, "the line is malformed", publicKeyLineFormat);
  const [, type, base64 = "", comment = ""] = match;
  if (type !== publicKeyType) {
    throw new KeyProblem(action, `not an ${publicKeyType} key`, publicKeyLineFormat);
  }
  if (base64 === "") throw new KeyProblem(action, "the key is missing", publicKeyLineFormat);
  if (base64.length > Math.ceil(maxSpkiBytes / 3) * 4) {
    throw new KeyProblem(
      action,
      `the key is longer than the ${maxSpkiBytes}-byte limit`,
      publicKeyLineFormat,
    );
  }
  let spki: Uint8Array;
  try {
    spki = decodeBase64(base64);
  } catch (error) {
    throw new KeyProblem(action, "the key is not valid base64", publicKeyLineFormat, error);
  }
  try {
    assertComment(comment);
  } catch (error) {
    throw new KeyProblem(action, "the comment has control characters", publicKeyLineFormat, error);
  }
  return await importKey(action, spki, comment);
}

/**
 * Formats a public key as one line, `ovtp-rsa <base64 SPKI> [comment]`, without a line break.
 * With an empty comment there is no trailing space.
 *
 * @param key The public key.
 * @returns The line that {@linkcode parsePublicKey} reads back.
 *
 * @example Round-trip a key
 * ```ts
 * import { formatPublicKey, importPublicKey, parsePublicKey } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const { publicKey } = await crypto.subtle.generateKey(
 *   {
 *     name: "RSA-PSS",
 *     modulusLength: 2048,
 *     publicExponent: new Uint8Array([1, 0, 1]),
 *     hash: "SHA-256",
 *   },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
 * const key = await importPublicKey(spki, "alice@laptop");
 * const line = formatPublicKey(key);
 * assert.match(line, /^ovtp-rsa [A-Za-z0-9+/=]+ alice@laptop$/);
 * assert.equal((await parsePublicKey(line)).fingerprint, key.fingerprint);
 * ```
 */
export function formatPublicKey(key: PublicKey): string {
  const line = `${publicKeyType} ${encodeBase64(key.spki)}`;
  return key.comment === "" ? line : `${line} ${key.comment}`;
}

async function importKey(action: string, spki: Uint8Array, comment: string): Promise<PublicKey> {
  if (spki.length === 0) throw new KeyProblem(action, "the key is empty");
  if (spki.length > maxSpkiBytes) {
    throw new KeyProblem(
      action,
      `the key is ${spki.length} bytes, more than the ${maxSpkiBytes}-byte limit`,
    );
  }
  const ownSpki = spki.slice();
  let verifyKey: CryptoKey;
  try {
    verifyKey = await crypto.subtle.importKey(
      "spki",
      bufferSource(ownSpki),
      { name: "RSA-PSS", hash: "SHA-256" },
      true,
      ["verify"],
    );
  } catch (error) {
    throw new KeyProblem(action, "not a DER SubjectPublicKeyInfo of an RSA key", undefined, error);
  }
  const { modulusLength: bits, publicExponent } = verifyKey.algorithm as RsaHashedKeyAlgorithm;
  if (bits < minRsaBits || bits > maxRsaBits) {
    throw new KeyProblem(
      action,
      `the RSA key has ${bits} bits`,
      `ovtp accepts ${minRsaBits} to ${maxRsaBits} bits`,
    );
  }
  if (!timingSafeEqual(withoutLeadingZeros(publicExponent), rsaPublicExponent)) {
    throw new KeyProblem(action, "the RSA public exponent is not 65537");
  }
  // Refuse other encodings of the same key, so that every key has exactly one fingerprint.
  const canonical = new Uint8Array(await crypto.subtle.exportKey("spki", verifyKey));
  if (!timingSafeEqual(canonical, ownSpki)) {
    throw new KeyProblem(action, "the key is not in canonical DER form");
  }
  const encryptKey = await crypto.subtle.importKey(
    "spki",
    bufferSource(ownSpki),
    { name: "RSA-OAEP", hash: "SHA-256" },
    true,
    ["encrypt"],
  );
  return Object.freeze({
    spki: ownSpki,
    fingerprint: await fingerprint(ownSpki),
    comment,
    bits,
    verifyKey,
    encryptKey,
  });
}

function withoutLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}
