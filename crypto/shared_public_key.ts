/**
 * `sharedPublicKey`: one `PublicKey` object per key in the process, for the keys handshakes
 * import from the wire. A client process with a thousand connections to one server would
 * otherwise hold a thousand copies of the server's key (two Web Crypto keys and the DER bytes
 * each, about 2 KiB of memory per connection), and a server would hold one copy of a client's
 * key per connection of that client. `PublicKey` objects are frozen and hold only public
 * material, so sharing them is safe.
 *
 * Entries are held weakly: a key no connection refers to any more is collected as before.
 *
 * @module
 */

import { encodeBase64 } from "./base64.ts";
import { importPublicKey, maxSpkiBytes, type PublicKey } from "./public_key.ts";

/** Keys remembered at most; past it, keys are imported or kept per connection as before. */
export const maxSharedPublicKeys = 1024;

const live = new Map<string, WeakRef<PublicKey>>();
const forget = new FinalizationRegistry<string>((id) => {
  if (live.get(id)?.deref() === undefined) live.delete(id);
});

function idOf(spki: Uint8Array, comment: string): string {
  return `${comment}\n${encodeBase64(spki)}`;
}

function lookup(id: string): PublicKey | undefined {
  const key = live.get(id)?.deref();
  if (key === undefined) live.delete(id);
  return key;
}

/**
 * The process's one `PublicKey` object with the same DER bytes and comment as `key`: an earlier
 * one still in use, else `key` itself, which is remembered from now on.
 *
 * @param key A key imported by {@linkcode importPublicKey}.
 * @returns An equal key object that other connections may hold as well.
 *
 * @example Two imports of one key become one object
 * ```ts
 * import { sharedPublicKey } from "./shared_public_key.ts";
 * import { importPublicKey } from "./public_key.ts";
 * import assert from "node:assert/strict";
 *
 * const { publicKey } = await crypto.subtle.generateKey(
 *   { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
 * const first = sharedPublicKey(await importPublicKey(spki));
 * const second = sharedPublicKey(await importPublicKey(spki));
 * assert.equal(second, first);
 * ```
 */
export function sharedPublicKey(key: PublicKey): PublicKey {
  const id = idOf(key.spki, key.comment);
  const known = lookup(id);
  if (known !== undefined) return known;
  if (live.size < maxSharedPublicKeys) {
    live.set(id, new WeakRef(key));
    forget.register(key, id);
  }
  return key;
}

/**
 * Imports a key from its DER SubjectPublicKeyInfo (without a comment) like
 * {@linkcode importPublicKey}, or returns the process's object for it when one is in use,
 * without importing it again.
 *
 * @param spki The DER SubjectPublicKeyInfo bytes.
 * @returns The shared public key.
 * @throws {KeyFileError} If the bytes are not an acceptable RSA public key.
 *
 * @example Import once, then reuse
 * ```ts
 * import { importSharedPublicKey } from "./shared_public_key.ts";
 * import assert from "node:assert/strict";
 *
 * const { publicKey } = await crypto.subtle.generateKey(
 *   { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
 * const first = await importSharedPublicKey(spki);
 * assert.equal(await importSharedPublicKey(spki), first);
 * ```
 */
export async function importSharedPublicKey(spki: Uint8Array): Promise<PublicKey> {
  // An oversized key is not looked up (importPublicKey refuses it before reading it).
  const known = spki.length <= maxSpkiBytes ? lookup(idOf(spki, "")) : undefined;
  return known ?? sharedPublicKey(await importPublicKey(spki));
}
