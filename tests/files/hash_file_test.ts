import assert from "node:assert/strict";
import { join } from "node:path";
import { ChunkTreeHasher, fileChunkBytes } from "../../files/chunk_tree.ts";
import { hashFile } from "../../files/hash_file.ts";
import { FileError } from "../../errors.ts";
import { withTempDir } from "../_fixtures.ts";
import { expectedRoot, pattern } from "./_chunk_vectors.ts";

const vectorBytes = pattern(2.5 * 1048576);

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
