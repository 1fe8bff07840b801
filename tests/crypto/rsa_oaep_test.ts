import assert from "node:assert/strict";
import { oaepDecrypt, oaepEncrypt } from "../../crypto/rsa_oaep.ts";
import { fixtureIdentity } from "../_fixtures.ts";

Deno.test("oaepEncrypt() and oaepDecrypt() round-trip a secret", async () => {
  const server = await fixtureIdentity("server");
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const ciphertext = await oaepEncrypt(server.publicKey.encryptKey, secret);
  assert.equal(ciphertext.length, 384);
  assert.deepEqual(await oaepDecrypt(server.decryptKey, ciphertext), secret);
});

Deno.test("oaepEncrypt() is randomized", async () => {
  const server = await fixtureIdentity("server");
  const secret = new Uint8Array(32);
  assert.notDeepEqual(
    await oaepEncrypt(server.publicKey.encryptKey, secret),
    await oaepEncrypt(server.publicKey.encryptKey, secret),
  );
});

Deno.test("oaepEncrypt() accepts up to modulus - 66 bytes and refuses more", async () => {
  const server = await fixtureIdentity("server");
  const longest = new Uint8Array(384 - 66).fill(7);
  const ciphertext = await oaepEncrypt(server.publicKey.encryptKey, longest);
  assert.deepEqual(await oaepDecrypt(server.decryptKey, ciphertext), longest);
  await assert.rejects(
    oaepEncrypt(server.publicKey.encryptKey, new Uint8Array(384 - 65)),
    RangeError,
  );
});

Deno.test("oaepDecrypt() returns undefined for another key's ciphertext", async () => {
  const server = await fixtureIdentity("server");
  const alice = await fixtureIdentity("alice");
  const ciphertext = await oaepEncrypt(alice.publicKey.encryptKey, new Uint8Array(32));
  assert.equal(await oaepDecrypt(server.decryptKey, ciphertext), undefined);
});

Deno.test("oaepDecrypt() returns undefined, without throwing, for garbage", async () => {
  const server = await fixtureIdentity("server");
  for (const length of [0, 1, 32, 383, 384, 385, 768]) {
    const garbage = crypto.getRandomValues(new Uint8Array(length));
    assert.equal(await oaepDecrypt(server.decryptKey, garbage), undefined, `length ${length}`);
  }
  assert.equal(await oaepDecrypt(server.decryptKey, new Uint8Array(384).fill(0xff)), undefined);
});

Deno.test("oaepDecrypt() returns undefined for an altered ciphertext", async () => {
  const server = await fixtureIdentity("server");
  const ciphertext = await oaepEncrypt(server.publicKey.encryptKey, new Uint8Array(32));
  ciphertext[200] ^= 1;
  assert.equal(await oaepDecrypt(server.decryptKey, ciphertext), undefined);
});

Deno.test("oaepDecrypt() returns undefined for OAEP with SHA-1", async () => {
  const server = await fixtureIdentity("server");
  const sha1Key = await crypto.subtle.importKey(
    "spki",
    server.publicKey.spki as Uint8Array<ArrayBuffer>,
    { name: "RSA-OAEP", hash: "SHA-1" },
    false,
    ["encrypt"],
  );
  const ciphertext = await crypto.subtle.encrypt({ name: "RSA-OAEP" }, sha1Key, new Uint8Array(32));
  assert.equal(await oaepDecrypt(server.decryptKey, new Uint8Array(ciphertext)), undefined);
});

Deno.test("oaepEncrypt() and oaepDecrypt() reject keys of the wrong kind", async () => {
  const server = await fixtureIdentity("server");
  await assert.rejects(oaepEncrypt(server.publicKey.verifyKey, new Uint8Array(32)), TypeError);
  await assert.rejects(oaepDecrypt(server.signKey, new Uint8Array(384)), TypeError);
});
