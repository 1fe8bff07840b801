import assert from "node:assert/strict";
import { derOid, derSmallInteger, derUnsignedInteger, derUtcTime } from "../../bench/_der.ts";

Deno.test("derOid() encodes ecdsa-with-SHA256", () => {
  assert.equal(derOid("1.2.840.10045.4.3.2").toHex(), "06082a8648ce3d040302");
});

Deno.test("derUnsignedInteger() keeps values positive and minimal", () => {
  assert.equal(derUnsignedInteger(Uint8Array.of(0x80)).toHex(), "02020080");
  assert.equal(derUnsignedInteger(Uint8Array.of(0, 0, 0x7f)).toHex(), "02017f");
  assert.equal(derUnsignedInteger(new Uint8Array(3)).toHex(), "020100");
  assert.equal(derSmallInteger(2).toHex(), "020102");
});

Deno.test("derUtcTime() writes YYMMDDHHMMSSZ", () => {
  const text = new TextDecoder().decode(derUtcTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5))));
  assert.equal(text.slice(2), "260102030405Z");
});
