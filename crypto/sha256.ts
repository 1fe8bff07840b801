/**
 * One-shot SHA-256 over Web Crypto: the hash under fingerprints, the handshake transcript, the key
 * schedule and the files' chunk-tree digest (`files/chunk_tree.ts`).
 *
 * @module
 */

import { bufferSource } from "./_buffer_source.ts";

/**
 * Hashes `data` with SHA-256 (Web Crypto, one shot).
 *
 * @param data The bytes to hash.
 * @returns The 32-byte digest.
 *
 * @example Hash "abc"
 * ```ts
 * import { sha256 } from "./sha256.ts";
 * import assert from "node:assert/strict";
 *
 * const digest = await sha256(new TextEncoder().encode("abc"));
 * assert.equal(digest.toHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export async function sha256(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bufferSource(data)));
}
