import assert from "node:assert/strict";
import { fingerprint } from "../../crypto/fingerprint.ts";
import { fixtureIdentity } from "../_fixtures.ts";

/**
 * Computed outside ovtp, with
 * `openssl pkey -in tests/fixtures/keys/NAME -pubout -outform DER | openssl dgst -sha256 -binary | base64`.
 */
const opensslFingerprints = {
  alice: "SHA256:FuEiwncp+kbFJxF+O1xRS7CSM2b9Y68Gou88cKafob8",
  bob: "SHA256:58mP1H4iWbrFkYeHKTJdLbcFsablnQ0kEvlunteteo4",
  server: "SHA256:AVXiNA5rycyxI4T6Y4sPXH2XIlo9ZoqiyNcCyBW8wEk",
};

Deno.test("fingerprint() is SHA256: and 43 unpadded base64 characters", async () => {
  const value = await fingerprint(crypto.getRandomValues(new Uint8Array(300)));
  assert.match(value, /^SHA256:[A-Za-z0-9+/]{43}$/);
});

Deno.test("fingerprint() matches fingerprints computed by OpenSSL", async () => {
  for (const name of ["alice", "bob", "server"] as const) {
    const { publicKey } = await fixtureIdentity(name);
    assert.equal(await fingerprint(publicKey.spki), opensslFingerprints[name]);
    assert.equal(publicKey.fingerprint, opensslFingerprints[name]);
  }
});

Deno.test("fingerprint() matches an independent SHA-256 and base64", async () => {
  const spki = crypto.getRandomValues(new Uint8Array(294));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
  const expected = `SHA256:${btoa(String.fromCharCode(...digest)).replace(/=+$/, "")}`;
  assert.equal(await fingerprint(spki), expected);
});
