/** Test vectors of the chunk tree, computed straight from its definition (SPEC.md). */

/** A deterministic pattern: byte i is (i * 31 + (i >> 20)) mod 251. */
export function pattern(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 20)) % 251;
  return bytes;
}

export async function plainSha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** The root computed independently of files/chunk_tree.ts, straight from the definition. */
export async function expectedRoot(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const leaves: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += 1048576) {
    leaves.push(await plainSha256(bytes.slice(offset, offset + 1048576)));
  }
  const input = new Uint8Array(16 + 8 + 32 * leaves.length);
  input.set([..."ovtp/1 file tree"].map((char) => char.charCodeAt(0)), 0);
  let size = bytes.length;
  for (let i = 23; i >= 16; i--) {
    input[i] = size % 256;
    size = Math.floor(size / 256);
  }
  leaves.forEach((leaf, index) => input.set(leaf, 24 + 32 * index));
  return plainSha256(input);
}
