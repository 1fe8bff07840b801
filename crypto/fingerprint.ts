/**
 * Key fingerprints as OpenSSH prints them (`SHA256:` and the unpadded base64 of the SHA-256 of the
 * key's SPKI): how a key is named in a pin, in `known_hosts` errors, in the server log and by the
 * CLI.
 *
 * @module
 */

import { encodeBase64 } from "./base64.ts";
import { sha256 } from "./sha256.ts";

/**
 * Computes the fingerprint of a public key as OpenSSH shows it: `"SHA256:"` followed by the
 * base64 of the SHA-256 of the key's DER SubjectPublicKeyInfo, without `=` padding (43
 * characters).
 *
 * @param spki The public key's DER SubjectPublicKeyInfo bytes.
 * @returns The fingerprint, for example `SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0`.
 *
 * @example Fingerprint some bytes
 * ```ts
 * import { fingerprint } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const value = await fingerprint(new TextEncoder().encode("abc"));
 * assert.equal(value, "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
 * ```
 */
export async function fingerprint(spki: Uint8Array): Promise<string> {
  const digest = await sha256(spki);
  return `SHA256:${encodeBase64(digest).replace(/=+$/, "")}`;
}
