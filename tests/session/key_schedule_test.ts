import assert from "node:assert/strict";
import {
  clientAuthKey,
  epochKeys,
  handshakeIkm,
  recordNonce,
  sessionSecrets,
  transcriptHash,
} from "../../session/key_schedule.ts";
import { aesGcmOpen, aesGcmSeal } from "../../crypto/aes_gcm.ts";

const t2 = new Uint8Array(32).fill(0x22);

Deno.test("sessionSecrets() depends on the ephemeral X25519 secret", async () => {
  const wrapped = new Uint8Array(32).fill(0x11);
  const a = await sessionSecrets(handshakeIkm(new Uint8Array(32).fill(1), wrapped), t2);
  const b = await sessionSecrets(handshakeIkm(new Uint8Array(32).fill(2), wrapped), t2);
  assert.notDeepEqual(a.clientToServer, b.clientToServer);
  assert.notDeepEqual(a.serverToClient, b.serverToClient);
  assert.notDeepEqual(a.finished, b.finished);
});

Deno.test("sessionSecrets() depends on the wrapped secret and on the transcript", async () => {
  const ecdh = new Uint8Array(32).fill(1);
  const base = await sessionSecrets(handshakeIkm(ecdh, new Uint8Array(32)), t2);
  const otherSecret = await sessionSecrets(handshakeIkm(ecdh, new Uint8Array(32).fill(9)), t2);
  const otherTranscript = await sessionSecrets(
    handshakeIkm(ecdh, new Uint8Array(32)),
    new Uint8Array(32).fill(0x23),
  );
  assert.notDeepEqual(base.clientToServer, otherSecret.clientToServer);
  assert.notDeepEqual(base.clientToServer, otherTranscript.clientToServer);
});

Deno.test("sessionSecrets() is deterministic (both sides derive the same keys)", async () => {
  const ikm = handshakeIkm(new Uint8Array(32).fill(3), new Uint8Array(32).fill(4));
  assert.deepEqual(await sessionSecrets(ikm, t2), await sessionSecrets(ikm.slice(), t2.slice()));
});

Deno.test("clientAuthKey() keys differ per transcript", async () => {
  const ikm = new Uint8Array(64).fill(5);
  const nonce = new Uint8Array(12);
  const sealed = await aesGcmSeal(await clientAuthKey(ikm, t2), nonce, new Uint8Array([1]));
  await assert.rejects(() =>
    clientAuthKey(ikm, new Uint8Array(32)).then((key) => aesGcmOpen(key, nonce, sealed))
  );
});

Deno.test("epochKeys() ratchets to unrelated keys", async () => {
  const first = await epochKeys(new Uint8Array(32).fill(6));
  const second = await epochKeys(await first.next());
  assert.notDeepEqual(first.iv, second.iv);
  const nonce = recordNonce(first.iv, 0);
  const sealed = await aesGcmSeal(first.key, nonce, new Uint8Array([1, 2, 3]));
  await assert.rejects(() => aesGcmOpen(second.key, nonce, sealed));
});

Deno.test("recordNonce() XORs the 64-bit sequence into the IV's last 8 bytes", () => {
  const iv = new Uint8Array(12).fill(0xff);
  const nonce = recordNonce(iv, 2 ** 32 + 1);
  assert.deepEqual(
    nonce,
    new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xfe]),
  );
  assert.deepEqual(iv, new Uint8Array(12).fill(0xff));
  assert.throws(() => recordNonce(iv, -1), RangeError);
});

Deno.test("transcriptHash() frames each message so boundaries matter", async () => {
  const one = await transcriptHash([new Uint8Array([1, 2, 3])]);
  const two = await transcriptHash([new Uint8Array([1]), new Uint8Array([2, 3])]);
  assert.equal(one.length, 32);
  assert.notDeepEqual(one, two);
});
