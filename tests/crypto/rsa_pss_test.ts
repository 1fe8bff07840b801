import assert from "node:assert/strict";
import { pssSaltBytes, signPss, verifyPss } from "../../crypto/rsa_pss.ts";
import { fixtureIdentity } from "../_fixtures.ts";

const data = new TextEncoder().encode("handshake transcript hash");

Deno.test("signPss() makes a modulus-length signature that verifyPss() accepts", async () => {
  const alice = await fixtureIdentity("alice");
  const signature = await signPss(alice.signKey, data);
  assert.equal(signature.length, 384);
  assert.equal(await verifyPss(alice.publicKey.verifyKey, signature, data), true);
});

Deno.test("signPss() salts: two signatures of the same data differ", async () => {
  const alice = await fixtureIdentity("alice");
  assert.notDeepEqual(await signPss(alice.signKey, data), await signPss(alice.signKey, data));
});

Deno.test("verifyPss() returns false for another key", async () => {
  const alice = await fixtureIdentity("alice");
  const bob = await fixtureIdentity("bob");
  const signature = await signPss(alice.signKey, data);
  assert.equal(await verifyPss(bob.publicKey.verifyKey, signature, data), false);
});

Deno.test("verifyPss() returns false for other data or an altered signature", async () => {
  const alice = await fixtureIdentity("alice");
  const signature = await signPss(alice.signKey, data);
  const otherData = data.slice();
  otherData[0] ^= 1;
  assert.equal(await verifyPss(alice.publicKey.verifyKey, signature, otherData), false);
  signature[100] ^= 1;
  assert.equal(await verifyPss(alice.publicKey.verifyKey, signature, data), false);
});

Deno.test("verifyPss() returns false, without throwing, for garbage of any length", async () => {
  const { publicKey } = await fixtureIdentity("alice");
  for (const length of [0, 1, 255, 383, 384, 385, 512]) {
    const garbage = crypto.getRandomValues(new Uint8Array(length));
    assert.equal(await verifyPss(publicKey.verifyKey, garbage, data), false, `length ${length}`);
  }
  assert.equal(await verifyPss(publicKey.verifyKey, new Uint8Array(384).fill(0xff), data), false);
});

Deno.test("verifyPss() requires the 32-byte salt", async () => {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSA-PSS",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    false,
    ["sign", "verify"],
  );
  const unsalted = new Uint8Array(
    await crypto.subtle.sign({ name: "RSA-PSS", saltLength: 0 }, pair.privateKey, data),
  );
  assert.equal(await verifyPss(pair.publicKey, unsalted, data), false);
  const salted = new Uint8Array(
    await crypto.subtle.sign({ name: "RSA-PSS", saltLength: pssSaltBytes }, pair.privateKey, data),
  );
  assert.equal(await verifyPss(pair.publicKey, salted, data), true);
});

Deno.test("signPss() and verifyPss() reject keys of the wrong kind", async () => {
  const alice = await fixtureIdentity("alice");
  await assert.rejects(signPss(alice.decryptKey, data), TypeError);
  await assert.rejects(signPss(alice.publicKey.verifyKey, data), TypeError);
  await assert.rejects(verifyPss(alice.publicKey.encryptKey, new Uint8Array(384), data), TypeError);
  await assert.rejects(verifyPss(alice.signKey, new Uint8Array(384), data), TypeError);
});
