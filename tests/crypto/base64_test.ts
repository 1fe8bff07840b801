import assert from "node:assert/strict";
import { decodeBase64, encodeBase64 } from "../../crypto/base64.ts";

const encoder = new TextEncoder();

Deno.test("encodeBase64() matches the RFC 4648 test vectors", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg=="],
    ["fooba", "Zm9vYmE="],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [text, base64] of vectors) {
    assert.equal(encodeBase64(encoder.encode(text)), base64);
    assert.deepEqual(decodeBase64(base64), encoder.encode(text));
  }
});

Deno.test("encodeBase64() uses the standard alphabet", () => {
  assert.equal(encodeBase64(new Uint8Array([0xfb, 0xff, 0xbf])), "+/+/");
  assert.deepEqual(decodeBase64("+/+/"), new Uint8Array([0xfb, 0xff, 0xbf]));
});

Deno.test("decodeBase64() round-trips every byte value", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, index) => index);
  assert.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
});

Deno.test("decodeBase64() rejects anything but strict padded base64", () => {
  const invalid = [
    "Zg", // missing padding
    "Zg=", // short padding
    "Zg===", // too much padding
    "Z===",
    "Zm9v\n", // line break
    " Zm9v", // whitespace
    "Zm 9v",
    "Zm9v\t",
    "Zm-_", // URL-safe alphabet
    "Zm9v=Zm9", // padding in the middle
    "Zh==", // non-zero unused bits
    "Zm9=",
    "Zm9vé===",
  ];
  for (const text of invalid) {
    assert.throws(() => decodeBase64(text), TypeError, JSON.stringify(text));
  }
});
