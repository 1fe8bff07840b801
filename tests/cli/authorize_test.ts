import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureKeyPath } from "../_fixtures.ts";
import { fixtureFingerprint, installKey, runCli } from "./_cli.ts";

Deno.test("ovtp authorize adds keys from files and folders, skipping duplicates", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ovtp_cli_authorize_" });
  const env = { OVTP_HOME: join(dir, "home") };
  const authorizedKeys = join(dir, "home", "authorized_keys");
  try {
    const keys = join(dir, "keys");
    await Deno.mkdir(keys);
    await Deno.copyFile(`${fixtureKeyPath("alice")}.pub`, join(keys, "alice.pub"));
    await Deno.copyFile(`${fixtureKeyPath("bob")}.pub`, join(keys, "bob.pub"));
    await Deno.writeTextFile(join(keys, "notes.txt"), "not a key");

    let run = await runCli(["authorize", join(keys, "alice.pub")], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^added SHA256:\S+ alice@test \(RSA-3072\) from .*alice\.pub\n$/);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(authorizedKeys)).mode! & 0o777, 0o600);
    }

    run = await runCli(["authorize", keys], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^already authorized SHA256:\S+ alice@test .*\nadded SHA256:\S+ bob@test/,
    );
    const lines = (await Deno.readTextFile(authorizedKeys)).trim().split("\n");
    assert.equal(lines.length, 2);

    run = await runCli(["authorize", "--json", join(keys, "bob.pub")], { env });
    assert.deepEqual(JSON.parse(run.stdout), {
      fingerprint: await fixtureFingerprint("bob"),
      comment: "bob@test",
      file: join(keys, "bob.pub"),
      added: false,
    });

    // A private key, an empty folder or a missing file: exit 1, nothing added.
    const other = join(dir, "other_keys");
    await installKey("server", join(dir, "server"));
    const empty = join(dir, "empty");
    await Deno.mkdir(empty);
    for (const path of [join(dir, "server", "id_ovtp"), empty, join(dir, "missing.pub")]) {
      run = await runCli(["authorize", "--authorized-keys", other, path], { env });
      assert.equal(run.code, 1, `${path}: ${run.stderr}`);
      assert.equal(run.stderr.split("\n").length, 2, run.stderr);
    }
    assert.match(run.stderr, /missing\.pub: No such file or directory\n$/);
    assert.equal(await Deno.stat(other).catch(() => null), null);

    run = await runCli(["authorize"], { env });
    assert.equal(run.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
