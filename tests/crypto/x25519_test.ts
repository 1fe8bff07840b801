import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import { generateX25519, x25519, x25519PublicKeyBytes } from "../../crypto/x25519.ts";

/** PKCS#8 header for a raw X25519 private key (RFC 8410). */
const x25519Pkcs8Prefix = Uint8Array.fromHex("302e020100300506032b656e04220420");

async function importPrivateScalar(hex: string): Promise<CryptoKey> {
  const pkcs8 = new Uint8Array([...x25519Pkcs8Prefix, ...Uint8Array.fromHex(hex)]);
  return await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, ["deriveBits"]);
}

/** RFC 7748 §6.1. */
const rfc7748 = {
  alicePrivate: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  alicePublic: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  bobPrivate: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
  bobPublic: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
};

/** Points of small order on Curve25519 (and their non-canonical encodings). */
const lowOrderPoints = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

Deno.test("x25519() matches the RFC 7748 §6.1 vector from both sides", async () => {
  const alice = await importPrivateScalar(rfc7748.alicePrivate);
  const bob = await importPrivateScalar(rfc7748.bobPrivate);
  const fromAlice = await x25519(alice, Uint8Array.fromHex(rfc7748.bobPublic));
  const fromBob = await x25519(bob, Uint8Array.fromHex(rfc7748.alicePublic));
  assert.equal(fromAlice.toHex(), rfc7748.shared);
  assert.equal(fromBob.toHex(), rfc7748.shared);
});

Deno.test("generateX25519() makes a raw 32-byte public key and a private key that stays inside", async () => {
  const pair = await generateX25519();
  assert.equal(pair.publicKey.length, x25519PublicKeyBytes);
  assert.equal(pair.privateKey.extractable, false);
  assert.equal(pair.privateKey.type, "private");
  assert.notDeepEqual((await generateX25519()).publicKey, pair.publicKey);
});

Deno.test("x25519() gives both sides the same secret", async () => {
  const alice = await generateX25519();
  const bob = await generateX25519();
  const secret = await x25519(alice.privateKey, bob.publicKey);
  assert.equal(secret.length, 32);
  assert.deepEqual(await x25519(bob.privateKey, alice.publicKey), secret);
});

Deno.test("x25519() refuses low-order points", async () => {
  const { privateKey } = await generateX25519();
  for (const point of lowOrderPoints) {
    await assert.rejects(x25519(privateKey, Uint8Array.fromHex(point)), (error: unknown) => {
      assert.ok(error instanceof ProtocolError, point);
      assert.match(error.message, /low-order point/);
      return true;
    });
  }
});

Deno.test("x25519() refuses a peer key that is not 32 bytes", async () => {
  const { privateKey, publicKey } = await generateX25519();
  for (const length of [0, 31, 33, 65]) {
    const peer = new Uint8Array(length);
    peer.set(publicKey.subarray(0, Math.min(length, 32)));
    await assert.rejects(x25519(privateKey, peer), ProtocolError);
  }
});

Deno.test("x25519() rejects a private key of another kind", async () => {
  const { publicKey } = await generateX25519();
  const ecdh = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, [
    "deriveBits",
  ]);
  await assert.rejects(x25519(ecdh.privateKey, publicKey), TypeError);
});
