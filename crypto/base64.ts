/**
 * Standard base64 (RFC 4648, padded), decoded strictly: whitespace, the URL-safe alphabet, missing
 * padding and stray bits are refused. It carries keys in text: `.pub` lines, `authorized_keys`,
 * `known_hosts`, PEM files and fingerprints.
 *
 * @module
 */

/**
 * Characters allowed in standard base64 with padding; the length and the position of the padding
 * are checked separately.
 */
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;
const base64QuantumChars = 4;

/**
 * Encodes bytes as standard base64 (RFC 4648 §4: `A-Z a-z 0-9 + /`) with `=` padding.
 *
 * @param bytes The bytes to encode.
 * @returns The base64 text.
 *
 * @example Encode three bytes
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(encodeBase64(new TextEncoder().encode("ovtp")), "b3Z0cA==");
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/**
 * Decodes standard base64 (RFC 4648 §4) with `=` padding, strictly: whitespace, line breaks,
 * the URL-safe alphabet, missing padding and non-zero unused bits are all refused.
 *
 * @param text The base64 text.
 * @returns The decoded bytes.
 * @throws {TypeError} If `text` is not strict, padded, standard base64.
 *
 * @example Decode, and refuse sloppy input
 * ```ts
 * import { decodeBase64 } from "./base64.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeBase64("b3Z0cA=="), new TextEncoder().encode("ovtp"));
 * assert.throws(() => decodeBase64("b3Z0cA"), TypeError);
 * assert.throws(() => decodeBase64("b3Z0 cA=="), TypeError);
 * ```
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % base64QuantumChars !== 0 || !base64Pattern.test(text)) {
    throw new TypeError(
      "Cannot decode base64: expected standard base64 (A-Z, a-z, 0-9, +, /) with = padding and no whitespace",
    );
  }
  try {
    return Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch (error) {
    throw new TypeError("Cannot decode base64: the last character has non-zero unused bits", {
      cause: error,
    });
  }
}
