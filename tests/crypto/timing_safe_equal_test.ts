import assert from "node:assert/strict";
import { timingSafeEqual } from "../../crypto/timing_safe_equal.ts";

Deno.test("timingSafeEqual() is true for equal bytes", () => {
  assert.equal(timingSafeEqual(new Uint8Array(0), new Uint8Array(0)), true);
  assert.equal(timingSafeEqual(new Uint8Array([9, 8, 7]), new Uint8Array([9, 8, 7])), true);
});

Deno.test("timingSafeEqual() is false when any byte differs", () => {
  const a = new Uint8Array(64).fill(5);
  for (const index of [0, 31, 63]) {
    const b = a.slice();
    b[index] ^= 0x80;
    assert.equal(timingSafeEqual(a, b), false);
  }
});

Deno.test("timingSafeEqual() is false for different lengths", () => {
  assert.equal(timingSafeEqual(new Uint8Array(3), new Uint8Array(4)), false);
  assert.equal(timingSafeEqual(new Uint8Array(0), new Uint8Array(1)), false);
});

Deno.test("timingSafeEqual() compares views, not whole buffers", () => {
  const buffer = new Uint8Array([1, 2, 3, 1, 2, 3]);
  assert.equal(timingSafeEqual(buffer.subarray(0, 3), buffer.subarray(3)), true);
});
