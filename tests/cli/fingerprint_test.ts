import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureKeyPath } from "../_fixtures.ts";
import { fixtureFingerprint, installKey, runCli } from "./_cli.ts";

Deno.test("ovtp fingerprint prints the key of a public or private key file", async () => {
  const home = await Deno.makeTempDir({ prefix: "ovtp_cli_fingerprint_" });
  try {
    await installKey("alice", home);
    const alice = await fixtureFingerprint("alice");
    const expected = `${alice} alice@test (RSA-3072)\n`;
    let run = await runCli(["fingerprint", `${fixtureKeyPath("alice")}.pub`]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, expected);
    run = await runCli(["fingerprint", join(home, "id_ovtp")]);
    assert.equal(run.stdout, expected, "a private key gives its public half");
    run = await runCli(["fingerprint", "--json"], { env: { OVTP_HOME: home } });
    assert.equal(JSON.parse(run.stdout).fingerprint, alice);

    const list = join(home, "authorized_keys");
    const bobLine = await Deno.readTextFile(`${fixtureKeyPath("bob")}.pub`);
    await Deno.writeTextFile(
      list,
      `# team\nssh-ed25519 AAAA other\nread-only ${await Deno.readTextFile(
        `${fixtureKeyPath("alice")}.pub`,
      )}${bobLine}`,
    );
    run = await runCli(["fingerprint", list]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      `${alice} alice@test (RSA-3072) read-only`,
      `${await fixtureFingerprint("bob")} bob@test (RSA-3072)`,
    ]);

    run = await runCli(["fingerprint", join(home, "missing.pub")]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^ovtp: .*missing\.pub: No such file or directory\n$/);
    await Deno.writeTextFile(join(home, "bad.pub"), "ovtp-rsa AAAA broken\n");
    run = await runCli(["fingerprint", join(home, "bad.pub")]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^ovtp: .*bad\.pub: Cannot parse public key/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
