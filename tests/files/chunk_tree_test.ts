import assert from "node:assert/strict";
import {
  ChunkTreeHasher,
  chunkTreeRoot,
  fileChunkBytes,
  formatDigest,
  parseDigest,
} from "../../files/chunk_tree.ts";
import { ProtocolError } from "../../errors.ts";
import { expectedRoot, pattern, plainSha256 } from "./_chunk_vectors.ts";

async function hashInPieces(bytes: Uint8Array, pieceBytes: number): Promise<Uint8Array> {
  const hasher = new ChunkTreeHasher();
  for (let offset = 0; offset < bytes.length; offset += pieceBytes) {
    await hasher.update(bytes.subarray(offset, offset + pieceBytes));
  }
  return hasher.digest();
}

const vectorBytes = pattern(2.5 * 1048576);

Deno.test("fileChunkBytes is 1 MiB", () => {
  assert.equal(fileChunkBytes, 1048576);
});

Deno.test("chunkTreeRoot() matches a root built by hand for 2.5 MiB", async () => {
  const leaves = [
    await plainSha256(vectorBytes.slice(0, 1048576)),
    await plainSha256(vectorBytes.slice(1048576, 2097152)),
    await plainSha256(vectorBytes.slice(2097152)),
  ];
  const root = await chunkTreeRoot(leaves, vectorBytes.length);
  assert.deepEqual(root, await expectedRoot(vectorBytes));
});

Deno.test("chunkTreeRoot() of the empty file hashes the label and a zero size", async () => {
  const input = new Uint8Array(24);
  input.set(new TextEncoder().encode("ovtp/1 file tree"));
  assert.deepEqual(await chunkTreeRoot([], 0), await plainSha256(input));
});

Deno.test("chunkTreeRoot() refuses a leaf count that does not match the size", () => {
  const leaf = new Uint8Array(32);
  assert.throws(() => chunkTreeRoot([], 1), RangeError);
  assert.throws(() => chunkTreeRoot([leaf], 0), RangeError);
  assert.throws(() => chunkTreeRoot([leaf], fileChunkBytes + 1), RangeError);
  assert.throws(() => chunkTreeRoot([new Uint8Array(31)], 10), RangeError);
  assert.throws(() => chunkTreeRoot([], -1), RangeError);
  assert.throws(() => chunkTreeRoot([leaf], 1.5), RangeError);
});

Deno.test("chunkTreeRoot() puts the size in the root", async () => {
  const leaf = new Uint8Array(32);
  assert.notDeepEqual(await chunkTreeRoot([leaf], 1), await chunkTreeRoot([leaf], 2));
});

Deno.test("ChunkTreeHasher gives the same root however the input is split", async () => {
  const expected = await expectedRoot(vectorBytes);
  for (const pieceBytes of [7, fileChunkBytes + 3, 65536, vectorBytes.length]) {
    assert.deepEqual(
      await hashInPieces(vectorBytes, pieceBytes),
      expected,
      `pieces of ${pieceBytes}`,
    );
  }
});

Deno.test("ChunkTreeHasher takes 1-byte pieces", async () => {
  const bytes = vectorBytes.subarray(0, fileChunkBytes + 100);
  assert.deepEqual(await hashInPieces(bytes, 1), await expectedRoot(bytes.slice()));
});

Deno.test("ChunkTreeHasher takes pieces in call order without awaiting each", async () => {
  const hasher = new ChunkTreeHasher();
  const pending: Promise<void>[] = [];
  for (let offset = 0; offset < vectorBytes.length; offset += 300_000) {
    pending.push(hasher.update(vectorBytes.subarray(offset, offset + 300_000)));
  }
  const root = await hasher.digest();
  await Promise.all(pending);
  assert.deepEqual(root, await expectedRoot(vectorBytes));
});

Deno.test("ChunkTreeHasher hashes sizes around one chunk", async () => {
  for (const size of [0, 1, fileChunkBytes - 1, fileChunkBytes, fileChunkBytes + 1]) {
    const bytes = vectorBytes.slice(0, size);
    const hasher = new ChunkTreeHasher();
    await hasher.update(bytes);
    assert.deepEqual(await hasher.digest(), await expectedRoot(bytes), `size ${size}`);
    assert.equal(hasher.size, size);
    assert.equal(hasher.leaves.length, Math.ceil(size / fileChunkBytes));
  }
});

Deno.test("ChunkTreeHasher.leaves holds every chunk digest after digest()", async () => {
  const hasher = new ChunkTreeHasher();
  await hasher.update(vectorBytes);
  await hasher.digest();
  assert.deepEqual(hasher.leaves, [
    await plainSha256(vectorBytes.slice(0, 1048576)),
    await plainSha256(vectorBytes.slice(1048576, 2097152)),
    await plainSha256(vectorBytes.slice(2097152)),
  ]);
});

Deno.test("ChunkTreeHasher.digest() returns the same root twice and refuses later updates", async () => {
  const hasher = new ChunkTreeHasher();
  await hasher.update(new Uint8Array(5));
  const root = await hasher.digest();
  assert.deepEqual(await hasher.digest(), root);
  await assert.rejects(hasher.update(new Uint8Array(1)), TypeError);
});

Deno.test("ChunkTreeHasher.resume() from a verified prefix gives the same root", async () => {
  const whole = new ChunkTreeHasher();
  await whole.update(vectorBytes);
  const root = await whole.digest();
  for (const chunks of [0, 1, 2]) {
    const resumed = ChunkTreeHasher.resume(whole.leaves.slice(0, chunks));
    assert.equal(resumed.size, chunks * fileChunkBytes);
    await resumed.update(vectorBytes.subarray(chunks * fileChunkBytes));
    assert.deepEqual(await resumed.digest(), root, `resumed after ${chunks} chunks`);
  }
});

Deno.test("ChunkTreeHasher.resume() refuses a leaf that is not 32 bytes", () => {
  assert.throws(() => ChunkTreeHasher.resume([new Uint8Array(16)]), RangeError);
});

Deno.test("formatDigest() and parseDigest() round-trip lowercase hex", () => {
  const root = pattern(32);
  const text = formatDigest(root);
  assert.match(text, /^[0-9a-f]{64}$/);
  assert.deepEqual(parseDigest(text), root);
});

Deno.test("formatDigest() refuses a digest that is not 32 bytes", () => {
  assert.throws(() => formatDigest(new Uint8Array(31)), RangeError);
});

Deno.test("parseDigest() refuses anything but 64 lowercase hex digits", () => {
  const good = "ab".repeat(32);
  for (
    const bad of [
      "",
      good.slice(2),
      `${good}00`,
      good.toUpperCase(),
      `${good.slice(1)}g`,
      ` ${good.slice(1)}`,
      `${good}\n`,
    ]
  ) {
    assert.throws(() => parseDigest(bad), ProtocolError, JSON.stringify(bad));
  }
  assert.throws(() => parseDigest(42 as unknown as string), ProtocolError);
});
