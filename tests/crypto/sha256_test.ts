import assert from "node:assert/strict";
import { sha256 } from "../../crypto/sha256.ts";

const encoder = new TextEncoder();

Deno.test('sha256() matches the FIPS 180-2 vector for "abc"', async () => {
  const digest = await sha256(encoder.encode("abc"));
  assert.equal(digest.toHex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

Deno.test("sha256() hashes the empty input", async () => {
  const digest = await sha256(new Uint8Array(0));
  assert.equal(digest.toHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

Deno.test("sha256() hashes only the given view", async () => {
  const buffer = encoder.encode("xxabcxx");
  assert.deepEqual(await sha256(buffer.subarray(2, 5)), await sha256(encoder.encode("abc")));
});
