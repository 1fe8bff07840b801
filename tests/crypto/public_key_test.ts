import assert from "node:assert/strict";
import { KeyFileError } from "../../errors.ts";
import { encodeBase64 } from "../../crypto/base64.ts";
import {
  formatPublicKey,
  importPublicKey,
  maxRsaBits,
  maxSpkiBytes,
  minRsaBits,
  parsePublicKey,
  publicKeyType,
} from "../../crypto/public_key.ts";
import { fixtureIdentity, fixtureKeyPath } from "../_fixtures.ts";

async function rsaSpki(bits: number, exponent = new Uint8Array([1, 0, 1])): Promise<Uint8Array> {
  const pair = await crypto.subtle.generateKey(
    { name: "RSA-PSS", modulusLength: bits, publicExponent: exponent, hash: "SHA-256" },
    true,
    ["sign", "verify"],
  );
  return new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
}

async function assertKeyFileError(
  promise: Promise<unknown>,
  pattern: RegExp,
  secret?: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KeyFileError, String(error));
    assert.equal(error.name, "KeyFileError");
    assert.match(error.message, pattern);
    if (secret !== undefined) assert.ok(!error.message.includes(secret), "message quotes the key");
    return true;
  });
}

Deno.test("parsePublicKey() reads a .pub file line and formatPublicKey() writes it back", async () => {
  const line = await Deno.readTextFile(`${fixtureKeyPath("alice")}.pub`);
  const key = await parsePublicKey(line);
  const { publicKey } = await fixtureIdentity("alice");
  assert.equal(key.comment, "alice@test");
  assert.equal(key.bits, 3072);
  assert.equal(key.fingerprint, publicKey.fingerprint);
  assert.deepEqual(key.spki, publicKey.spki);
  assert.equal(formatPublicKey(key), line.trimEnd());
  assert.ok(!formatPublicKey(key).includes("\n"));
});

Deno.test("parsePublicKey() gives usable verify and encrypt keys", async () => {
  const { publicKey } = await fixtureIdentity("bob");
  const key = await parsePublicKey(formatPublicKey(publicKey));
  assert.equal(key.verifyKey.algorithm.name, "RSA-PSS");
  assert.deepEqual(key.verifyKey.usages, ["verify"]);
  assert.equal(key.encryptKey.algorithm.name, "RSA-OAEP");
  assert.deepEqual(key.encryptKey.usages, ["encrypt"]);
});

Deno.test("parsePublicKey() keeps the whole comment, spaces included, trimmed", async () => {
  const { publicKey } = await fixtureIdentity("bob");
  const base64 = encodeBase64(publicKey.spki);
  const key = await parsePublicKey(`  ${publicKeyType}   ${base64}   Bob's  work  laptop \r\n`);
  assert.equal(key.comment, "Bob's  work  laptop");
  assert.equal(formatPublicKey(key), `${publicKeyType} ${base64} Bob's  work  laptop`);
});

Deno.test("formatPublicKey() adds no trailing space without a comment", async () => {
  const { publicKey } = await fixtureIdentity("bob");
  const base64 = encodeBase64(publicKey.spki);
  const key = await parsePublicKey(`${publicKeyType} ${base64}`);
  assert.equal(key.comment, "");
  assert.equal(formatPublicKey(key), `${publicKeyType} ${base64}`);
});

Deno.test("parsePublicKey() rejects malformed lines, saying what is expected", async () => {
  const { publicKey } = await fixtureIdentity("alice");
  const base64 = encodeBase64(publicKey.spki);
  const cases: [string, RegExp][] = [
    ["", /the line is empty/],
    ["   \n", /the line is empty/],
    [publicKeyType, /the key is missing/],
    [`ssh-rsa ${base64} alice@test`, /not an ovtp-rsa key/],
    [`OVTP-RSA ${base64}`, /not an ovtp-rsa key/],
    [`${publicKeyType} ${base64.slice(0, -1)}`, /not valid base64/],
    [`${publicKeyType} ${base64.replaceAll("+", "-")}`, /not valid base64/],
    [`${publicKeyType} ${base64} first\nsecond`, /more than one line/],
    [`${publicKeyType} ${base64}\n${publicKeyType} ${base64}`, /more than one line/],
    [`${publicKeyType} ${"A".repeat(4000)}`, /longer than the 2048-byte limit/],
    [`${publicKeyType} ${base64} ${"x".repeat(20_000)}`, /longer than 16384 characters/],
    [`${publicKeyType} ${base64} bell\u0007`, /control characters/],
  ];
  for (const [line, pattern] of cases) {
    await assertKeyFileError(parsePublicKey(line), pattern, base64);
    await assertKeyFileError(parsePublicKey(line), /expected one line "ovtp-rsa <base64 SPKI>/);
  }
});

Deno.test("parsePublicKey() rejects base64 that is not an RSA key", async () => {
  const notDer = encodeBase64(crypto.getRandomValues(new Uint8Array(300)));
  await assertKeyFileError(parsePublicKey(`${publicKeyType} ${notDer}`), /not a DER .* RSA key/);

  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const ecSpki = new Uint8Array(await crypto.subtle.exportKey("spki", ec.publicKey));
  await assertKeyFileError(
    parsePublicKey(`${publicKeyType} ${encodeBase64(ecSpki)}`),
    /not a DER .* RSA key/,
  );
});

Deno.test("importPublicKey() rejects an RSA key smaller than minRsaBits", async () => {
  const spki = await rsaSpki(1024);
  await assertKeyFileError(importPublicKey(spki), /the RSA key has 1024 bits; ovtp accepts 2048/);
  await assertKeyFileError(
    parsePublicKey(`${publicKeyType} ${encodeBase64(spki)}`),
    /the RSA key has 1024 bits/,
  );
  assert.equal(minRsaBits, 2048);
  assert.equal(maxRsaBits, 8192);
});

Deno.test("importPublicKey() rejects a public exponent other than 65537", async () => {
  await assertKeyFileError(
    importPublicKey(await rsaSpki(2048, new Uint8Array([3]))),
    /public exponent is not 65537/,
  );
});

Deno.test("importPublicKey() rejects keys over maxSpkiBytes, empty keys and trailing bytes", async () => {
  await assertKeyFileError(importPublicKey(new Uint8Array(maxSpkiBytes + 1)), /2048-byte limit/);
  await assertKeyFileError(importPublicKey(new Uint8Array(0)), /the key is empty/);
  const { publicKey } = await fixtureIdentity("alice");
  await assertKeyFileError(
    importPublicKey(new Uint8Array([...publicKey.spki, 0])),
    /not a DER SubjectPublicKeyInfo/,
  );
});

Deno.test("importPublicKey() rejects non-canonical encodings of a valid key", async () => {
  const { publicKey } = await fixtureIdentity("alice");
  const spki = publicKey.spki;
  assert.deepEqual([...spki.subarray(0, 4)], [0x30, 0x82, 0x01, 0xa2]);

  // The outer SEQUENCE length 0x82 0x01 0xa2 in the non-minimal form 0x83 0x00 0x01 0xa2:
  // Web Crypto itself refuses this.
  const longForm = new Uint8Array([0x30, 0x83, 0x00, 0x01, 0xa2, ...spki.subarray(4)]);
  await assertKeyFileError(importPublicKey(longForm), /not a DER SubjectPublicKeyInfo/);

  // rsaEncryption without its NULL parameters: Web Crypto accepts it, and the same key would
  // have a second fingerprint.
  const algorithmWithoutNull = [0x30, 0x0b, ...spki.subarray(6, 17)];
  const body = [...algorithmWithoutNull, ...spki.subarray(19)];
  const withoutNull = new Uint8Array([0x30, 0x82, body.length >> 8, body.length & 0xff, ...body]);
  await crypto.subtle.importKey("spki", withoutNull, { name: "RSA-PSS", hash: "SHA-256" }, true, [
    "verify",
  ]);
  await assertKeyFileError(importPublicKey(withoutNull), /not in canonical DER form/);
});

Deno.test("importPublicKey() copies the bytes it is given", async () => {
  const { publicKey } = await fixtureIdentity("alice");
  const spki = publicKey.spki.slice();
  const key = await importPublicKey(spki, "copy");
  spki.fill(0);
  assert.deepEqual(key.spki, publicKey.spki);
  assert.equal(key.fingerprint, publicKey.fingerprint);
});

Deno.test("importPublicKey() rejects a comment with a line break", async () => {
  const { publicKey } = await fixtureIdentity("alice");
  await assert.rejects(importPublicKey(publicKey.spki, "one\ntwo"), TypeError);
});

Deno.test("importPublicKey() accepts 2048- and 4096-bit keys", async () => {
  assert.equal((await importPublicKey(await rsaSpki(2048))).bits, 2048);
  assert.equal((await importPublicKey(await rsaSpki(4096))).bits, 4096);
});
