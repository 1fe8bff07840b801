import assert from "node:assert/strict";
import { KeyFileError } from "../../errors.ts";
import { importPublicKey } from "../../crypto/public_key.ts";
import { importSharedPublicKey, sharedPublicKey } from "../../crypto/shared_public_key.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { handshakePair } from "../_helpers.ts";

Deno.test("sharedPublicKey() returns the object already in use for the same key", async () => {
  const { publicKey } = await fixtureIdentity("bob");
  const first = sharedPublicKey(await importPublicKey(publicKey.spki));
  const again = await importPublicKey(publicKey.spki);
  assert.notEqual(again, first);
  assert.equal(sharedPublicKey(again), first);
  assert.equal(await importSharedPublicKey(publicKey.spki), first);
});

Deno.test("sharedPublicKey() keeps keys with other bytes or another comment apart", async () => {
  const [bob, alice] = await Promise.all([fixtureIdentity("bob"), fixtureIdentity("alice")]);
  const plain = sharedPublicKey(await importPublicKey(bob.publicKey.spki));
  const named = sharedPublicKey(await importPublicKey(bob.publicKey.spki, "bob@elsewhere"));
  assert.notEqual(named, plain);
  assert.equal(named.comment, "bob@elsewhere");
  const other = await importSharedPublicKey(alice.publicKey.spki);
  assert.notEqual(other, plain);
  assert.equal(other.fingerprint, alice.publicKey.fingerprint);
});

Deno.test("importSharedPublicKey() refuses what importPublicKey() refuses", async () => {
  await assert.rejects(importSharedPublicKey(new Uint8Array([0x30, 0x00])), KeyFileError);
  await assert.rejects(importSharedPublicKey(new Uint8Array(4096).fill(0x30)), KeyFileError);
});

Deno.test("clientHandshake() and serverHandshake() share one key object across connections", async () => {
  const first = await handshakePair();
  try {
    const second = await handshakePair();
    try {
      // Each connection holds its peer's key: one object per key, not one per connection.
      assert.equal(second.client.peerKey, first.client.peerKey);
      assert.equal(second.server.peerKey, first.server.peerKey);
    } finally {
      second.close();
    }
  } finally {
    first.close();
  }
});
