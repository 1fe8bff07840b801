import assert from "node:assert/strict";
import { randomBytes } from "../../crypto/random.ts";

Deno.test("randomBytes() returns the requested number of bytes", () => {
  assert.equal(randomBytes(0).length, 0);
  assert.equal(randomBytes(32).length, 32);
  assert.equal(randomBytes(65_536).length, 65_536);
});

Deno.test("randomBytes() returns different bytes each time", () => {
  assert.notDeepEqual(randomBytes(32), randomBytes(32));
});

Deno.test("randomBytes() rejects lengths that are not integers from 0 to 65536", () => {
  for (const length of [-1, 1.5, 65_537, Number.NaN, Infinity]) {
    assert.throws(() => randomBytes(length), RangeError, `length ${length}`);
  }
});
