/**
 * The digest of a file: SHA-256 over fixed 1 MiB chunks, then SHA-256 over the list of chunk
 * digests. Web Crypto has no incremental SHA-256, so a whole file cannot be hashed in one
 * streaming pass; hashing chunks one shot at a time can, and it also lets an interrupted
 * transfer prove the chunks it already has.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { sha256 } from "../crypto/sha256.ts";

/**
 * Size of one chunk of the file digest, in bytes (1 MiB).
 *
 * @example Count the chunks of a file
 * ```ts
 * import { fileChunkBytes } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(Math.ceil(2.5 * 1048576 / fileChunkBytes), 3);
 * ```
 */
export const fileChunkBytes = 1048576;

/** Length of one leaf and of the root, in bytes. */
const digestBytes = 32;

/** Chunk digests hashed at once by {@linkcode ChunkTreeHasher} before it waits. */
const maxDigestsInFlight = 2;

/** Smallest buffer a hasher allocates for a partial chunk, in bytes; it grows to one chunk. */
const minBufferBytes = 4096;

/** Domain label that starts the root's input: 16 ASCII bytes, no NUL. */
const treeLabel = new TextEncoder().encode("ovtp/1 file tree");

/** Length of the size field in the root's input, in bytes (u64 big-endian). */
const sizeFieldBytes = 8;

function checkSize(size: number, what: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`${what}: size ${size} is not a non-negative safe integer`);
  }
}

function checkLeaf(leaf: Uint8Array, index: number, what: string): void {
  if (!(leaf instanceof Uint8Array) || leaf.length !== digestBytes) {
    throw new RangeError(`${what}: leaf ${index} is not ${digestBytes} bytes`);
  }
}

/**
 * Computes the root of a file's chunk tree from its leaves.
 *
 * `leaf_i = SHA-256(chunk_i)` over fixed {@linkcode fileChunkBytes} chunks (the last may be
 * shorter; an empty file has no chunks), and
 * `root = SHA-256("ovtp/1 file tree" (16) || size as u64 big-endian (8) || leaf_0 || … || leaf_{n-1})`.
 *
 * @param leaves The chunk digests, 32 bytes each, one per chunk: `ceil(size / fileChunkBytes)`.
 * @param size The file size in bytes.
 * @returns The 32-byte root.
 * @throws {RangeError} If `size` is not a non-negative safe integer, a leaf is not 32 bytes, or
 * the number of leaves does not match `size`.
 *
 * @example The root of an empty file
 * ```ts
 * import { chunkTreeRoot } from "./chunk_tree.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await chunkTreeRoot([], 0);
 * const input = new Uint8Array(24);
 * input.set(new TextEncoder().encode("ovtp/1 file tree"));
 * const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
 * assert.deepEqual(root, expected);
 * ```
 */
export function chunkTreeRoot(
  leaves: readonly Uint8Array[],
  size: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const what = "Cannot compute the chunk tree root";
  checkSize(size, what);
  const expectedLeaves = Math.ceil(size / fileChunkBytes);
  if (leaves.length !== expectedLeaves) {
    throw new RangeError(
      `${what}: ${leaves.length} leaves given but a ${size}-byte file has ${expectedLeaves}`,
    );
  }
  const input = new Uint8Array(treeLabel.length + sizeFieldBytes + leaves.length * digestBytes);
  input.set(treeLabel, 0);
  new DataView(input.buffer).setBigUint64(treeLabel.length, BigInt(size), false);
  let offset = treeLabel.length + sizeFieldBytes;
  leaves.forEach((leaf, index) => {
    checkLeaf(leaf, index, what);
    input.set(leaf, offset);
    offset += digestBytes;
  });
  return sha256(input);
}

/**
 * Hashes a stream of bytes, given in pieces of any size, into a chunk tree (see
 * {@linkcode chunkTreeRoot}). Each full chunk is hashed as soon as it completes, with at most
 * two chunk digests in flight on Web Crypto's worker threads; the hasher keeps at most one
 * partial chunk of its own, and each digest in flight holds a copy of its chunk.
 *
 * Pieces are taken in the order {@linkcode ChunkTreeHasher.update} is called, even if the
 * promises are not awaited; awaiting them is how a fast producer is slowed down.
 *
 * @example Hash bytes received in pieces
 * ```ts
 * import { ChunkTreeHasher, chunkTreeRoot } from "./chunk_tree.ts";
 * import assert from "node:assert/strict";
 *
 * const hasher = new ChunkTreeHasher();
 * await hasher.update(new TextEncoder().encode("hello "));
 * await hasher.update(new TextEncoder().encode("world"));
 * const root = await hasher.digest();
 *
 * const leaf = new Uint8Array(
 *   await crypto.subtle.digest("SHA-256", new TextEncoder().encode("hello world")),
 * );
 * assert.equal(hasher.size, 11);
 * assert.deepEqual(root, await chunkTreeRoot([leaf], 11));
 * ```
 */
export class ChunkTreeHasher {
  #size = 0;
  #leaves: Uint8Array[] = [];
  #inFlight: Promise<Uint8Array>[] = [];
  #buffer: Uint8Array | undefined;
  #buffered = 0;
  #tail: Promise<void> = Promise.resolve();
  #root: Promise<Uint8Array<ArrayBuffer>> | undefined;

  /**
   * Starts a hasher for a stream that begins with an already verified prefix of
   * `leaves.length` full chunks, whose digests are `leaves`.
   *
   * @param leaves The digests of the first chunks, 32 bytes each.
   * @returns A hasher whose {@linkcode ChunkTreeHasher.size} is
   * `leaves.length * fileChunkBytes`.
   * @throws {RangeError} If a leaf is not 32 bytes.
   *
   * @example Resume after the first chunk
   * ```ts
   * import { ChunkTreeHasher, fileChunkBytes } from "./chunk_tree.ts";
   * import assert from "node:assert/strict";
   *
   * const bytes = new Uint8Array(fileChunkBytes + 10).fill(1);
   * const whole = new ChunkTreeHasher();
   * await whole.update(bytes);
   * const root = await whole.digest();
   *
   * const resumed = ChunkTreeHasher.resume(whole.leaves.slice(0, 1));
   * await resumed.update(bytes.subarray(fileChunkBytes));
   * assert.deepEqual(await resumed.digest(), root);
   * ```
   */
  static resume(leaves: readonly Uint8Array[]): ChunkTreeHasher {
    leaves.forEach((leaf, index) => checkLeaf(leaf, index, "Cannot resume the chunk tree"));
    const hasher = new ChunkTreeHasher();
    hasher.#leaves = leaves.map((leaf) => leaf.slice());
    hasher.#size = leaves.length * fileChunkBytes;
    return hasher;
  }

  /**
   * Bytes given to {@linkcode ChunkTreeHasher.update} so far (plus the resumed prefix).
   *
   * @returns The count, in bytes.
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Digests of the complete chunks whose hashing has finished, in order. Up to two chunks may
   * still be in flight after an `update()`; once {@linkcode ChunkTreeHasher.digest} has resolved,
   * this holds every chunk's digest.
   *
   * @returns The leaves, 32 bytes each.
   */
  get leaves(): readonly Uint8Array[] {
    return this.#leaves;
  }

  /**
   * Adds bytes. Do not change `bytes` until the returned promise settles: they are read when
   * the pieces before them have been taken.
   *
   * @param bytes The next piece of the stream, of any length.
   * @returns A promise that settles once the bytes are taken; await it for backpressure.
   * @throws {TypeError} (rejected) If {@linkcode ChunkTreeHasher.digest} was already called.
   */
  update(bytes: Uint8Array): Promise<void> {
    if (this.#root !== undefined) {
      return Promise.reject(
        new TypeError("ChunkTreeHasher.update() called after digest(); start a new hasher"),
      );
    }
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError("ChunkTreeHasher.update() takes a Uint8Array"));
    }
    this.#size += bytes.length;
    this.#tail = this.#tail.then(() => this.#take(bytes));
    return this.#tail;
  }

  /**
   * Hashes the last partial chunk, waits for every chunk digest and returns the root. Calling
   * it again returns the same root.
   *
   * @returns The 32-byte root of the chunk tree.
   */
  digest(): Promise<Uint8Array<ArrayBuffer>> {
    this.#root ??= this.#tail.then(async () => {
      if (this.#buffered > 0) this.#start(this.#buffer!.subarray(0, this.#buffered));
      this.#buffer = undefined;
      this.#buffered = 0;
      while (this.#inFlight.length > 0) this.#leaves.push(await this.#inFlight.shift()!);
      return chunkTreeRoot(this.#leaves, this.#size);
    });
    return this.#root;
  }

  async #take(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#buffered === 0 && bytes.length - offset >= fileChunkBytes) {
        // A whole chunk in the input: hash it in place (Web Crypto copies it when called).
        await this.#waitForSlot();
        this.#start(bytes.subarray(offset, offset + fileChunkBytes));
        offset += fileChunkBytes;
        continue;
      }
      const count = Math.min(fileChunkBytes - this.#buffered, bytes.length - offset);
      const buffer = this.#reserve(this.#buffered + count);
      buffer.set(bytes.subarray(offset, offset + count), this.#buffered);
      this.#buffered += count;
      offset += count;
      if (this.#buffered === fileChunkBytes) {
        await this.#waitForSlot();
        this.#start(buffer);
        this.#buffered = 0;
      }
    }
  }

  /**
   * Makes the buffer hold at least `bytes` bytes (at most one chunk): it starts at the size of
   * the first piece and doubles, so a small file never costs a whole chunk's buffer.
   */
  #reserve(bytes: number): Uint8Array {
    const have = this.#buffer?.length ?? 0;
    if (have >= bytes) return this.#buffer!;
    let size = Math.max(have, minBufferBytes);
    while (size < bytes) size *= 2;
    const grown = new Uint8Array(Math.min(size, fileChunkBytes));
    if (this.#buffered > 0) grown.set(this.#buffer!.subarray(0, this.#buffered));
    this.#buffer = grown;
    return grown;
  }

  async #waitForSlot(): Promise<void> {
    while (this.#inFlight.length >= maxDigestsInFlight) {
      this.#leaves.push(await this.#inFlight.shift()!);
    }
  }

  /** Starts hashing one chunk; Web Crypto copies `chunk` before this returns. */
  #start(chunk: Uint8Array): void {
    const leaf = sha256(chunk);
    leaf.catch(() => {}); // Rethrown when awaited in order; never unhandled meanwhile.
    this.#inFlight.push(leaf);
  }
}

/** The chunk tree of a file, as `hashFile()` and `hashPrefix()` return it. */
export interface FileDigest {
  /** Bytes hashed. */
  size: number;
  /** One 32-byte digest per chunk. */
  leaves: Uint8Array[];
  /** The 32-byte root. */
  root: Uint8Array;
}

/** A digest as text: 64 lowercase hex digits. */
const digestTextPattern = /^[0-9a-f]{64}$/;

/**
 * Formats a root (or a leaf) as 64 lowercase hex digits.
 *
 * @param root A 32-byte digest.
 * @returns The hex text.
 * @throws {RangeError} If `root` is not 32 bytes.
 *
 * @example Format a digest, and the digest of a file
 * ```ts
 * import { formatDigest, hashFile } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatDigest(new Uint8Array(32).fill(0xab)), "ab".repeat(32));
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   await Deno.writeFile(join(dir, "empty"), new Uint8Array(0));
 *   const { root } = await hashFile(join(dir, "empty"));
 *   // An empty file's root is SHA-256 of the empty leaf list (SPEC.md section 11.2).
 *   assert.match(formatDigest(root), /^[0-9a-f]{64}$/);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export function formatDigest(root: Uint8Array): string {
  if (!(root instanceof Uint8Array) || root.length !== digestBytes) {
    throw new RangeError(`Cannot format a digest: it must be ${digestBytes} bytes`);
  }
  return root.toHex();
}

/**
 * Parses a digest written as 64 lowercase hex digits, as a peer sends it.
 *
 * @param text The hex text.
 * @returns The 32-byte digest.
 * @throws {ProtocolError} If `text` is not exactly 64 lowercase hex digits.
 *
 * @example Refuse a short digest
 * ```ts
 * import { parseDigest } from "./chunk_tree.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => parseDigest("abcd"), ProtocolError);
 * ```
 */
export function parseDigest(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== "string" || !digestTextPattern.test(text)) {
    const shown = typeof text === "string" ? `${text.length} characters` : typeof text;
    throw new ProtocolError(
      `Cannot parse a file digest: expected 64 lowercase hex digits, got ${shown}; ` +
        `the peer must send the digest as formatDigest() writes it`,
    );
  }
  return Uint8Array.fromHex(text);
}
