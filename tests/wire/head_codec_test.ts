import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import {
  decodeHead,
  decodeStartOffset,
  encodeHead,
  encodeStartOffset,
  headFlag,
  headInteger,
  headString,
  maxHeadBytes,
  startOffsetBytes,
} from "../../wire/head_codec.ts";

Deno.test("decodeHead() refuses anything but a JSON object within the size limit", () => {
  const encoder = new TextEncoder();
  assert.deepEqual(decodeHead(encodeHead({ path: "a" }), "open"), { path: "a" });
  for (const text of ["[1]", "null", "3", "{", "\uFFFF"]) {
    assert.throws(() => decodeHead(encoder.encode(text), "open"), ProtocolError, text);
  }
  const big = encoder.encode(JSON.stringify({ x: "y".repeat(maxHeadBytes) }));
  assert.throws(() => decodeHead(big, "reply"), /exceed/);
  assert.throws(() => encodeHead({ x: "y".repeat(maxHeadBytes) }), RangeError);
});

Deno.test("encodeStartOffset() and decodeStartOffset() carry 8 big-endian bytes up to 2^53 - 1", () => {
  const bytes = encodeStartOffset(0x0102030405);
  assert.equal(bytes.length, startOffsetBytes);
  assert.deepEqual([...bytes], [0, 0, 0, 1, 2, 3, 4, 5]);
  assert.equal(decodeStartOffset(bytes), 0x0102030405);
  assert.equal(
    decodeStartOffset(encodeStartOffset(Number.MAX_SAFE_INTEGER)),
    Number.MAX_SAFE_INTEGER,
  );
  assert.throws(() => decodeStartOffset(new Uint8Array([0, 32, 0, 0, 0, 0, 0, 0])), ProtocolError);
  assert.throws(() => decodeStartOffset(new Uint8Array(7)), ProtocolError);
  assert.throws(() => encodeStartOffset(-1), RangeError);
});

Deno.test("headString(), headInteger() and headFlag() name the field they refuse", () => {
  assert.throws(() => headString({ path: 1 }, "path"), /"path" as a string/);
  assert.throws(() => headString({ path: "x".repeat(5) }, "path", 4), /at most 4/);
  assert.throws(() => headInteger({ size: -1 }, "size", 10), /"size" as an integer/);
  assert.throws(() => headInteger({ size: 1.5 }, "size", 10), ProtocolError);
  assert.equal(headInteger({ size: null }, "size", 10, true), undefined);
  assert.throws(() => headFlag({ overwrite: "yes" }, "overwrite"), /"overwrite" as a boolean/);
});
