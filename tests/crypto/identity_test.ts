import assert from "node:assert/strict";
import { join } from "node:path";
import { KeyFileError } from "../../errors.ts";
import {
  defaultRsaBits,
  formatPrivateKeyPem,
  generateIdentity,
  identityFromPkcs8,
  loadIdentity,
  parsePrivateKeyPem,
  saveIdentity,
} from "../../crypto/identity.ts";
import { formatPublicKey, parsePublicKey } from "../../crypto/public_key.ts";
import { oaepDecrypt, oaepEncrypt } from "../../crypto/rsa_oaep.ts";
import { signPss, verifyPss } from "../../crypto/rsa_pss.ts";
import { copyFixtureKey, fixtureIdentity, fixtureKeyPath, withTempDir } from "../_fixtures.ts";

const isWindows = Deno.build.os === "windows";
const message = new TextEncoder().encode("prove it");

async function assertKeyFileError(promise: Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KeyFileError, String(error));
    for (const pattern of patterns) assert.match(error.message, pattern);
    assert.ok(!error.message.includes("MII"), "the message quotes key material");
    return true;
  });
}

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

/** A 2048-bit identity, generated once for the tests that need an extractable key. */
const generated = generateIdentity({ bits: 2048, comment: "generated@test" });

Deno.test("generateIdentity() makes a working RSA identity", async () => {
  const identity = await generated;
  assert.equal(identity.publicKey.bits, 2048);
  assert.equal(identity.publicKey.comment, "generated@test");
  assert.equal(identity.signKey.extractable, true);
  assert.equal(identity.decryptKey.extractable, false);
  const signature = await signPss(identity.signKey, message);
  assert.equal(await verifyPss(identity.publicKey.verifyKey, signature, message), true);
  const ciphertext = await oaepEncrypt(identity.publicKey.encryptKey, message);
  assert.deepEqual(await oaepDecrypt(identity.decryptKey, ciphertext), message);
  assert.equal(defaultRsaBits, 3072);
});

Deno.test("generateIdentity() rejects sizes that are not multiples of 8 from 2048 to 8192", async () => {
  for (const bits of [0, 1024, 2047, 2052, 8200, 16384, 3072.5, Number.NaN]) {
    await assert.rejects(generateIdentity({ bits }), RangeError, `bits ${bits}`);
  }
});

Deno.test("identityFromPkcs8() loads the fixture with non-extractable keys", async () => {
  const pem = await Deno.readTextFile(fixtureKeyPath("alice"));
  const identity = await identityFromPkcs8(parsePrivateKeyPem(pem), "alice@test");
  assert.equal(identity.signKey.extractable, false);
  assert.equal(identity.decryptKey.extractable, false);
  assert.equal(identity.publicKey.bits, 3072);
  const publicLine = await Deno.readTextFile(`${fixtureKeyPath("alice")}.pub`);
  assert.equal(formatPublicKey(identity.publicKey), publicLine.trimEnd());
});

Deno.test("identityFromPkcs8() rejects what is not an RSA private key", async () => {
  await assertKeyFileError(identityFromPkcs8(new Uint8Array(0)), /the key is empty/);
  await assertKeyFileError(
    identityFromPkcs8(crypto.getRandomValues(new Uint8Array(1200))),
    /not a DER PKCS#8 RSA private key/,
  );
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const ecPkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", ec.privateKey));
  await assertKeyFileError(identityFromPkcs8(ecPkcs8), /not a DER PKCS#8 RSA private key/);
});

Deno.test("identityFromPkcs8() rejects a 1024-bit key", async () => {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSA-PSS",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  await assertKeyFileError(identityFromPkcs8(pkcs8), /^Cannot import private key: .*1024 bits/);
});

Deno.test("formatPrivateKeyPem() writes 64-column lines and a final line break", async () => {
  const pem = await Deno.readTextFile(fixtureKeyPath("bob"));
  const pkcs8 = parsePrivateKeyPem(pem);
  const formatted = formatPrivateKeyPem(pkcs8);
  assert.equal(formatted, pem);
  const lines = formatted.split("\n");
  assert.equal(lines[0], "-----BEGIN PRIVATE KEY-----");
  assert.equal(lines.at(-2), "-----END PRIVATE KEY-----");
  assert.equal(lines.at(-1), "");
  for (const line of lines.slice(1, -3)) assert.equal(line.length, 64);
  assert.ok(lines.at(-3)!.length <= 64);
});

Deno.test("parsePrivateKeyPem() accepts CRLF line breaks and surrounding whitespace", async () => {
  const pem = await Deno.readTextFile(fixtureKeyPath("bob"));
  const crlf = `\n  ${pem.replaceAll("\n", "\r\n")}  \n`;
  assert.deepEqual(parsePrivateKeyPem(crlf), parsePrivateKeyPem(pem));
});

Deno.test("parsePrivateKeyPem() refuses other PEM kinds and says what to do", () => {
  const body = "\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n";
  const cases: [string, RegExp][] = [
    [`-----BEGIN RSA PRIVATE KEY-----${body}-----END RSA PRIVATE KEY-----`, /openssl pkcs8/],
    [
      `-----BEGIN ENCRYPTED PRIVATE KEY-----${body}-----END ENCRYPTED PRIVATE KEY-----`,
      /encrypted/,
    ],
    [`-----BEGIN OPENSSH PRIVATE KEY-----${body}-----END OPENSSH PRIVATE KEY-----`, /OpenSSH/],
    [`-----BEGIN PUBLIC KEY-----${body}-----END PUBLIC KEY-----`, /first line/],
    [`-----BEGIN PRIVATE KEY-----${body}`, /last line/],
    [`-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----`, /not valid base64/],
    [`-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----`, /empty/],
    ["", /first line/],
  ];
  for (const [pem, pattern] of cases) {
    assert.throws(() => parsePrivateKeyPem(pem), (error: unknown) => {
      assert.ok(error instanceof KeyFileError);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("MIIBOgIBAAJBAKj34"), "the message quotes the key");
      return true;
    });
  }
});

Deno.test("saveIdentity() writes the private key with mode 0600 and the public key with 0644", async () => {
  const identity = await generated;
  await withTempDir(async (dir) => {
    const path = join(dir, "keys", "id_ovtp");
    await saveIdentity(identity, path);
    const pem = await Deno.readTextFile(path);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const publicLine = await Deno.readTextFile(`${path}.pub`);
    assert.equal(publicLine, `${formatPublicKey(identity.publicKey)}\n`);
    if (!isWindows) {
      assert.equal(await modeOf(path), 0o600);
      // The umask may clear bits of 0644 and 0700, but never add any.
      const publicMode = await modeOf(`${path}.pub`);
      assert.equal(publicMode & ~0o644, 0, publicMode.toString(8));
      assert.equal(publicMode & 0o600, 0o600);
      assert.equal((await modeOf(join(dir, "keys"))) & 0o077, 0);
    }
    const reloaded = await identityFromPkcs8(parsePrivateKeyPem(pem));
    assert.equal(reloaded.publicKey.fingerprint, identity.publicKey.fingerprint);
  });
});

Deno.test("saveIdentity() refuses to overwrite either file", async () => {
  const identity = await generated;
  await withTempDir(async (dir) => {
    const path = join(dir, "id_ovtp");
    await Deno.writeTextFile(path, "keep me");
    await assertKeyFileError(saveIdentity(identity, path), /already exists/, /another path/);
    assert.equal(await Deno.readTextFile(path), "keep me");

    const other = join(dir, "other");
    await Deno.writeTextFile(`${other}.pub`, "keep me too");
    await assertKeyFileError(saveIdentity(identity, other), /other\.pub" already exists/);
    await assert.rejects(Deno.stat(other), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(`${other}.pub`), "keep me too");
  });
});

Deno.test("saveIdentity() with overwrite replaces the files and keeps mode 0600", async () => {
  const identity = await generated;
  await withTempDir(async (dir) => {
    const path = join(dir, "id_ovtp");
    await Deno.writeTextFile(path, "old", { mode: 0o644 });
    await Deno.writeTextFile(`${path}.pub`, "old");
    if (!isWindows) await Deno.chmod(path, 0o644);
    await saveIdentity(identity, path, { overwrite: true });
    assert.match(await Deno.readTextFile(path), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(
      await Deno.readTextFile(`${path}.pub`),
      `${formatPublicKey(identity.publicKey)}\n`,
    );
    if (!isWindows) assert.equal(await modeOf(path), 0o600);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "id_ovtp",
      "id_ovtp.pub",
    ]);
  });
});

Deno.test("saveIdentity() rejects an identity whose private key is not extractable", async () => {
  const identity = await fixtureIdentity("alice");
  await withTempDir(async (dir) => {
    await assert.rejects(saveIdentity(identity, join(dir, "id_ovtp")), TypeError);
  });
});

Deno.test({
  name: "loadIdentity() refuses a key file readable by others and says to chmod 600",
  ignore: isWindows,
  async fn() {
    await withTempDir(async (dir) => {
      const path = await copyFixtureKey("alice", dir);
      for (const mode of [0o644, 0o640, 0o604, 0o660, 0o700 | 0o070]) {
        await Deno.chmod(path, mode);
        const octal = mode.toString(8).padStart(4, "0");
        await assertKeyFileError(
          loadIdentity(path),
          new RegExp(`"${path.replaceAll("\\", "\\\\")}"`),
          new RegExp(`\\(mode ${octal}\\)`),
          /chmod 600/,
        );
      }
    });
  },
});

Deno.test("loadIdentity() quotes a path with spaces in the chmod advice", {
  ignore: isWindows,
}, async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "my key");
    await Deno.copyFile(fixtureKeyPath("alice"), path);
    await Deno.chmod(path, 0o644);
    await assertKeyFileError(loadIdentity(path), /run: chmod 600 '.*my key'$/);
  });
});

Deno.test("loadIdentity() loads a 0600 key whose signatures the public key verifies", async () => {
  await withTempDir(async (dir) => {
    const path = await copyFixtureKey("alice", dir);
    const identity = await loadIdentity(path);
    assert.equal(identity.signKey.extractable, false);
    assert.equal(identity.publicKey.comment, "alice@test");
    const publicKey = await parsePublicKey(await Deno.readTextFile(`${path}.pub`));
    assert.equal(identity.publicKey.fingerprint, publicKey.fingerprint);
    const signature = await signPss(identity.signKey, message);
    assert.equal(await verifyPss(publicKey.verifyKey, signature, message), true);
    const ciphertext = await oaepEncrypt(publicKey.encryptKey, message);
    assert.deepEqual(await oaepDecrypt(identity.decryptKey, ciphertext), message);
  });
});

Deno.test("loadIdentity() takes the comment from the options, else from a matching .pub", async () => {
  await withTempDir(async (dir) => {
    const path = await copyFixtureKey("alice", dir);
    assert.equal((await loadIdentity(path, { comment: "chosen" })).publicKey.comment, "chosen");

    await Deno.copyFile(`${fixtureKeyPath("bob")}.pub`, `${path}.pub`);
    assert.equal((await loadIdentity(path)).publicKey.comment, "");

    await Deno.writeTextFile(`${path}.pub`, "garbage");
    assert.equal((await loadIdentity(path)).publicKey.comment, "");

    await Deno.remove(`${path}.pub`);
    assert.equal((await loadIdentity(path)).publicKey.comment, "");
  });
});

Deno.test("loadIdentity() reports a missing file by its path", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "nope");
    await assertKeyFileError(loadIdentity(path), /nope"/, /does not exist/);
  });
});

Deno.test("loadIdentity() reports a folder, a garbage file and a wrong PEM without quoting them", async () => {
  await withTempDir(async (dir) => {
    await assertKeyFileError(loadIdentity(dir), /not a regular file/);

    const path = join(dir, "id_ovtp");
    await Deno.writeTextFile(path, "MIIsecretsecret", { mode: 0o600 });
    await assertKeyFileError(loadIdentity(path), /id_ovtp": Cannot parse private key/);

    await Deno.writeFile(path, new Uint8Array([0xff, 0xfe, 0x00]));
    await assertKeyFileError(loadIdentity(path), /not UTF-8 text/);

    const pem = await Deno.readTextFile(fixtureKeyPath("bob"));
    await Deno.writeTextFile(path, pem.replace("PRIVATE KEY", "RSA PRIVATE KEY"));
    await assertKeyFileError(loadIdentity(path), /PKCS#1/, /openssl pkcs8/);
  });
});

Deno.test("saveIdentity() then loadIdentity() round-trips the identity and comment", async () => {
  const identity = await generated;
  await withTempDir(async (dir) => {
    const path = join(dir, "id_ovtp");
    await saveIdentity(identity, path);
    const loaded = await loadIdentity(path);
    assert.equal(loaded.publicKey.fingerprint, identity.publicKey.fingerprint);
    assert.equal(loaded.publicKey.comment, "generated@test");
    const signature = await signPss(loaded.signKey, message);
    assert.equal(await verifyPss(identity.publicKey.verifyKey, signature, message), true);
  });
});
