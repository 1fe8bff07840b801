import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ChunkTreeHasher,
  chunkTreeRoot,
  fileChunkBytes,
  formatDigest,
  hashFile,
  parseDigest,
} from "../../files/chunk_tree.ts";
import { FileError, ProtocolError } from "../../errors.ts";

/** A deterministic pattern: byte i is (i * 31 + (i >> 20)) mod 251. */
function pattern(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 20)) % 251;
  return bytes;
}

async function plainSha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** The root computed independently of files/chunk_tree.ts, straight from the definition. */
async function expectedRoot(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
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

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ovtp-chunk-tree-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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

Deno.test("hashFile() matches the hand-built root for 2.5 MiB", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "vector.bin");
    await Deno.writeFile(path, vectorBytes);
    const digest = await hashFile(path);
    assert.equal(digest.size, vectorBytes.length);
    assert.equal(digest.leaves.length, 3);
    assert.deepEqual(digest.root, await expectedRoot(vectorBytes));
  });
});

Deno.test("hashFile() hashes the empty file and sizes around one chunk", async () => {
  await withTempDir(async (dir) => {
    for (const size of [0, fileChunkBytes - 1, fileChunkBytes, fileChunkBytes + 1]) {
      const path = join(dir, `file-${size}`);
      const bytes = vectorBytes.slice(0, size);
      await Deno.writeFile(path, bytes);
      const digest = await hashFile(path);
      assert.equal(digest.size, size);
      assert.deepEqual(digest.root, await expectedRoot(bytes), `size ${size}`);
    }
  });
});

Deno.test("hashFile() with a length hashes a prefix of whole chunks", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "vector.bin");
    await Deno.writeFile(path, vectorBytes);
    const digest = await hashFile(path, { length: 2 * fileChunkBytes });
    assert.equal(digest.size, 2 * fileChunkBytes);
    assert.deepEqual(digest.root, await expectedRoot(vectorBytes.slice(0, 2 * fileChunkBytes)));
    const resumed = ChunkTreeHasher.resume(digest.leaves);
    await resumed.update(vectorBytes.subarray(2 * fileChunkBytes));
    assert.deepEqual(await resumed.digest(), await expectedRoot(vectorBytes));
  });
});

Deno.test("hashFile() refuses a length that is not whole chunks nor the whole file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "vector.bin");
    await Deno.writeFile(path, vectorBytes);
    await assert.rejects(hashFile(path, { length: 1000 }), RangeError);
    await assert.rejects(hashFile(path, { length: -1 }), RangeError);
    const whole = await hashFile(path, { length: vectorBytes.length });
    assert.equal(whole.size, vectorBytes.length);
  });
});

Deno.test("hashFile() reports a file shorter than the length as changed", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "short.bin");
    await Deno.writeFile(path, new Uint8Array(10));
    await assert.rejects(
      hashFile(path, { length: fileChunkBytes }),
      (error) => error instanceof FileError && error.reason === "changed",
    );
  });
});

Deno.test("hashFile() reports a missing file and a folder", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      hashFile(join(dir, "missing")),
      (error) => error instanceof FileError && error.reason === "not_found",
    );
    await assert.rejects(
      hashFile(dir),
      (error) => error instanceof FileError && error.reason === "unsupported_type",
    );
  });
});

Deno.test("hashFile() stops when its signal aborts", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "vector.bin");
    await Deno.writeFile(path, vectorBytes);
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(hashFile(path, { signal: controller.signal }), /stop/);
  });
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
