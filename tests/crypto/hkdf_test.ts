import assert from "node:assert/strict";
import { hkdf } from "../../crypto/hkdf.ts";

Deno.test("hkdf() matches RFC 5869 test case 1", async () => {
  const ikm = Uint8Array.fromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const salt = Uint8Array.fromHex("000102030405060708090a0b0c");
  const info = Uint8Array.fromHex("f0f1f2f3f4f5f6f7f8f9");
  const okm = await hkdf(ikm, salt, info, 42);
  assert.equal(
    okm.toHex(),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
});

Deno.test("hkdf() matches RFC 5869 test case 3 (empty salt and info)", async () => {
  const ikm = Uint8Array.fromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const okm = await hkdf(ikm, new Uint8Array(0), "", 42);
  assert.equal(
    okm.toHex(),
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
  );
});

Deno.test("hkdf() encodes string info as UTF-8", async () => {
  const ikm = new Uint8Array(32).fill(1);
  const salt = new Uint8Array(32);
  assert.deepEqual(
    await hkdf(ikm, salt, "clé", 32),
    await hkdf(ikm, salt, new TextEncoder().encode("clé"), 32),
  );
});

Deno.test("hkdf() derives up to 8160 bytes", async () => {
  const okm = await hkdf(new Uint8Array(32), new Uint8Array(0), "max", 8160);
  assert.equal(okm.length, 8160);
});

Deno.test("hkdf() rejects lengths outside 1 to 8160", async () => {
  for (const length of [0, -1, 8161, 1.5, Number.NaN]) {
    await assert.rejects(hkdf(new Uint8Array(32), new Uint8Array(0), "", length), RangeError);
  }
});
