import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import {
  aesGcmKeyBytes,
  aesGcmNonceBytes,
  aesGcmOpen,
  aesGcmSeal,
  aesGcmTagBytes,
  importAesGcmKey,
} from "../../crypto/aes_gcm.ts";

const encoder = new TextEncoder();

async function setup() {
  const key = await importAesGcmKey(crypto.getRandomValues(new Uint8Array(aesGcmKeyBytes)));
  const nonce = crypto.getRandomValues(new Uint8Array(aesGcmNonceBytes));
  const plaintext = encoder.encode("a record of ovtp data");
  const additionalData = encoder.encode("header");
  const sealed = await aesGcmSeal(key, nonce, plaintext, additionalData);
  return { key, nonce, plaintext, additionalData, sealed };
}

async function assertAuthenticationFails(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /authentication failed/);
    assert.ok(error.cause instanceof DOMException);
    return true;
  });
}

Deno.test("aesGcmSeal() matches the GCM spec test case 14 (AES-256, zero key and nonce)", async () => {
  const key = await importAesGcmKey(new Uint8Array(32));
  const sealed = await aesGcmSeal(key, new Uint8Array(12), new Uint8Array(16));
  assert.equal(
    sealed.toHex(),
    "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919",
  );
});

Deno.test("aesGcmSeal() returns ciphertext followed by a 16-byte tag", async () => {
  const { plaintext, sealed } = await setup();
  assert.equal(sealed.length, plaintext.length + aesGcmTagBytes);
});

Deno.test("aesGcmOpen() round-trips with and without additional data", async () => {
  const { key, nonce, plaintext, additionalData, sealed } = await setup();
  assert.deepEqual(await aesGcmOpen(key, nonce, sealed, additionalData), plaintext);
  const withoutData = await aesGcmSeal(key, nonce, plaintext);
  assert.deepEqual(await aesGcmOpen(key, nonce, withoutData), plaintext);
});

Deno.test("aesGcmOpen() round-trips an empty plaintext", async () => {
  const { key, nonce } = await setup();
  const sealed = await aesGcmSeal(key, nonce, new Uint8Array(0));
  assert.equal(sealed.length, aesGcmTagBytes);
  assert.deepEqual(await aesGcmOpen(key, nonce, sealed), new Uint8Array(0));
});

Deno.test("aesGcmSeal() and aesGcmOpen() read views in place", async () => {
  const { key, nonce, plaintext } = await setup();
  const buffer = new Uint8Array(plaintext.length + 10);
  buffer.set(plaintext, 5);
  const sealedFromView = await aesGcmSeal(key, nonce, buffer.subarray(5, 5 + plaintext.length));
  assert.deepEqual(sealedFromView, await aesGcmSeal(key, nonce, plaintext));

  const frame = new Uint8Array(sealedFromView.length + 4);
  frame.set(sealedFromView, 4);
  assert.deepEqual(await aesGcmOpen(key, nonce, frame.subarray(4)), plaintext);
});

Deno.test("aesGcmOpen() rejects a flipped ciphertext byte", async () => {
  const { key, nonce, additionalData, sealed } = await setup();
  sealed[0] ^= 0x01;
  await assertAuthenticationFails(aesGcmOpen(key, nonce, sealed, additionalData));
});

Deno.test("aesGcmOpen() rejects a flipped tag byte", async () => {
  const { key, nonce, additionalData, sealed } = await setup();
  sealed[sealed.length - 1] ^= 0x80;
  await assertAuthenticationFails(aesGcmOpen(key, nonce, sealed, additionalData));
});

Deno.test("aesGcmOpen() rejects a truncated record", async () => {
  const { key, nonce, additionalData, sealed } = await setup();
  await assertAuthenticationFails(aesGcmOpen(key, nonce, sealed.subarray(1), additionalData));
});

Deno.test("aesGcmOpen() rejects other or missing additional data", async () => {
  const { key, nonce, sealed } = await setup();
  await assertAuthenticationFails(aesGcmOpen(key, nonce, sealed, encoder.encode("headex")));
  await assertAuthenticationFails(aesGcmOpen(key, nonce, sealed));
});

Deno.test("aesGcmOpen() rejects another nonce", async () => {
  const { key, nonce, additionalData, sealed } = await setup();
  const otherNonce = nonce.slice();
  otherNonce[11] ^= 0x01;
  await assertAuthenticationFails(aesGcmOpen(key, otherNonce, sealed, additionalData));
});

Deno.test("aesGcmOpen() rejects another key", async () => {
  const { nonce, additionalData, sealed } = await setup();
  const otherKey = await importAesGcmKey(new Uint8Array(aesGcmKeyBytes));
  await assertAuthenticationFails(aesGcmOpen(otherKey, nonce, sealed, additionalData));
});

Deno.test("aesGcmOpen() rejects a record shorter than the tag before decrypting", async () => {
  const { key, nonce } = await setup();
  for (const length of [0, 1, 15]) {
    await assert.rejects(aesGcmOpen(key, nonce, new Uint8Array(length)), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.cause, undefined);
      assert.match(error.message, /shorter than the 16-byte tag/);
      return true;
    });
  }
});

Deno.test("aesGcmSeal() and aesGcmOpen() reject nonces that are not 12 bytes", async () => {
  const { key, sealed } = await setup();
  for (const length of [0, 8, 11, 13, 16]) {
    await assert.rejects(aesGcmSeal(key, new Uint8Array(length), new Uint8Array(1)), RangeError);
    await assert.rejects(aesGcmOpen(key, new Uint8Array(length), sealed), RangeError);
  }
});

Deno.test("importAesGcmKey() accepts only 32 bytes and makes a non-extractable key", async () => {
  for (const length of [0, 16, 24, 31, 33]) {
    await assert.rejects(importAesGcmKey(new Uint8Array(length)), RangeError);
  }
  const key = await importAesGcmKey(new Uint8Array(32));
  assert.equal(key.extractable, false);
  assert.deepEqual([...key.usages].sort(), ["decrypt", "encrypt"]);
});

Deno.test("aesGcmSeal() rejects a key for another algorithm", async () => {
  const hmacKey = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(32),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  await assert.rejects(aesGcmSeal(hmacKey, new Uint8Array(12), new Uint8Array(1)), TypeError);
});
