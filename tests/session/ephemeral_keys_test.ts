import assert from "node:assert/strict";
import { EphemeralKeys } from "../../session/ephemeral_keys.ts";

Deno.test("EphemeralKeys.take() hands out the spare once, then makes new pairs", async () => {
  const keys = new EphemeralKeys();
  await keys.refill();
  await keys.refill(); // a spare is ready: nothing more is made
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const pair = await keys.take();
    assert.equal(pair.privateKey.extractable, false);
    seen.add(pair.publicKey.toHex());
  }
  assert.equal(seen.size, 4, "no pair is handed out twice");
});

Deno.test("EphemeralKeys.take() during a refill gets a pair of its own", async () => {
  const keys = new EphemeralKeys();
  const refilling = keys.refill();
  const taken = await keys.take();
  await refilling;
  const spare = await keys.take();
  assert.notDeepEqual(taken.publicKey, spare.publicKey);
});
