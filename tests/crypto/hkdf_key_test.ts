import assert from "node:assert/strict";
import { hkdf } from "../../crypto/hkdf.ts";
import { importHkdfKey } from "../../crypto/hkdf_key.ts";

Deno.test("importHkdfKey() gives a key that hkdf() derives RFC 5869 test case 1 from", async () => {
  const ikm = Uint8Array.fromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const salt = Uint8Array.fromHex("000102030405060708090a0b0c");
  const info = Uint8Array.fromHex("f0f1f2f3f4f5f6f7f8f9");
  const key = await importHkdfKey(ikm);
  ikm.fill(0); // the key holds its own copy
  assert.equal(
    (await hkdf(key, salt, info, 42)).toHex(),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  assert.equal(key.extractable, false);
  assert.deepEqual(key.usages, ["deriveBits"]);
});
