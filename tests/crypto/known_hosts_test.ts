import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeBase64 } from "../../crypto/base64.ts";
import { formatHostPattern, KnownHosts } from "../../crypto/known_hosts.ts";
import { formatPublicKey } from "../../crypto/public_key.ts";
import { fixtureIdentity, withTempDir } from "../_fixtures.ts";

const isWindows = Deno.build.os === "windows";

async function keys() {
  const server = (await fixtureIdentity("server")).publicKey;
  const alice = (await fixtureIdentity("alice")).publicKey;
  return { server, alice };
}

Deno.test("formatHostPattern() brackets every host and keeps IPv6 unchanged", () => {
  assert.equal(formatHostPattern("127.0.0.1", 4242), "[127.0.0.1]:4242");
  assert.equal(formatHostPattern("localhost", 22), "[localhost]:22");
  assert.equal(formatHostPattern("::1", 4242), "[::1]:4242");
  assert.equal(formatHostPattern("[fe80::1%eth0]", 1), "[fe80::1%eth0]:1");
  assert.equal(formatHostPattern("Files.Example.COM", 65535), "[files.example.com]:65535");
});

Deno.test("formatHostPattern() rejects bad hosts and ports", () => {
  for (const host of ["", "[]", "a b", "a,b", "a]b", "#x", "münchen.de", "x\n"]) {
    assert.throws(() => formatHostPattern(host, 4242), TypeError, JSON.stringify(host));
  }
  for (const port of [0, -1, 65536, 1.5, Number.NaN]) {
    assert.throws(() => formatHostPattern("localhost", port), RangeError, String(port));
  }
});

Deno.test("KnownHosts.check() says unknown when the file is missing", async () => {
  const { server } = await keys();
  await withTempDir(async (dir) => {
    const knownHosts = new KnownHosts(join(dir, "known_hosts"));
    assert.deepEqual(await knownHosts.check("localhost", 4242, server), { status: "unknown" });
  });
});

Deno.test("KnownHosts.add() creates the file 0600 in a 0700 folder and check() then matches", async () => {
  const { server } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "ovtp", "known_hosts");
    const knownHosts = new KnownHosts(path);
    assert.equal(knownHosts.path, path);
    await knownHosts.add("localhost", 4242, server);
    assert.equal(await Deno.readTextFile(path), `[localhost]:4242 ${formatPublicKey(server)}\n`);
    if (!isWindows) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(dir, "ovtp"))).mode! & 0o077, 0);
    }
    assert.deepEqual(await knownHosts.check("localhost", 4242, server), { status: "match" });
    assert.deepEqual(await knownHosts.check("LOCALHOST", 4242, server), { status: "match" });
    assert.deepEqual(await knownHosts.check("localhost", 4243, server), { status: "unknown" });
    assert.deepEqual(await knownHosts.check("127.0.0.1", 4242, server), { status: "unknown" });
  });
});

Deno.test("KnownHosts.check() reports a mismatch with the line and the recorded fingerprint", async () => {
  const { server, alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    await Deno.writeTextFile(
      path,
      [
        "# known hosts",
        `[other]:4242 ${formatPublicKey(alice)}`,
        `[files]:4242 ${formatPublicKey(server)}`,
        `[files]:4242 ${formatPublicKey(alice)}`,
        "",
      ].join("\n"),
    );
    const knownHosts = new KnownHosts(path);
    assert.deepEqual(await knownHosts.check("files", 4242, alice), { status: "match" });
    assert.deepEqual(await knownHosts.check("other", 4242, server), {
      status: "mismatch",
      lineNumber: 2,
      expected: alice.fingerprint,
    });
    await Deno.writeTextFile(path, `[files]:4242 ${formatPublicKey(server)}\n`);
    assert.deepEqual(await knownHosts.check("files", 4242, alice), {
      status: "mismatch",
      lineNumber: 1,
      expected: server.fingerprint,
    });
  });
});

Deno.test("KnownHosts.check() reads lists of patterns and skips comments and bad lines", async () => {
  const { server, alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const serverBase64 = encodeBase64(server.spki);
    await Deno.writeTextFile(
      path,
      [
        "",
        "  # [files]:4242 ovtp-rsa AAAA",
        "[files]:4242",
        `[files]:4242 ssh-rsa ${encodeBase64(alice.spki)}`,
        "[files]:4242 ovtp-rsa not-base64!",
        `[a]:1,[files]:4242,[::1]:4242 ovtp-rsa ${serverBase64} server@test`,
      ].join("\n"),
    );
    const knownHosts = new KnownHosts(path);
    assert.deepEqual(await knownHosts.check("files", 4242, server), { status: "match" });
    assert.deepEqual(await knownHosts.check("::1", 4242, server), { status: "match" });
    assert.deepEqual(await knownHosts.check("a", 1, alice), {
      status: "mismatch",
      lineNumber: 6,
      expected: server.fingerprint,
    });
    assert.deepEqual(await knownHosts.check("b", 1, alice), { status: "unknown" });
  });
});

Deno.test("KnownHosts.add() starts a new line when the file does not end with one", async () => {
  const { server, alice } = await keys();
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    await Deno.writeTextFile(path, `[a]:1 ${formatPublicKey(alice)}`);
    const knownHosts = new KnownHosts(path);
    await knownHosts.add("::1", 4242, server);
    assert.equal(
      await Deno.readTextFile(path),
      `[a]:1 ${formatPublicKey(alice)}\n[::1]:4242 ${formatPublicKey(server)}\n`,
    );
    assert.deepEqual(await knownHosts.check("a", 1, alice), { status: "match" });
    assert.deepEqual(await knownHosts.check("::1", 4242, server), { status: "match" });
  });
});
