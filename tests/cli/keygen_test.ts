import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./_cli.ts";

Deno.test("ovtp keygen writes a private key (0600) and a .pub, and prints the fingerprint", async () => {
  const home = await Deno.makeTempDir({ prefix: "ovtp_cli_keygen_" });
  const env = { OVTP_HOME: join(home, "ovtp") };
  try {
    let run = await runCli(["keygen", "--bits", "2048", "-C", "alice@laptop"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^SHA256:[A-Za-z0-9+/]{43} alice@laptop \(RSA-2048\)\n$/);
    const path = join(home, "ovtp", "id_ovtp");
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(home, "ovtp"))).mode! & 0o777, 0o700);
    }
    assert.match(await Deno.readTextFile(`${path}.pub`), /^ovtp-rsa \S+ alice@laptop\n$/);

    const printed = await runCli(["fingerprint"], { env });
    assert.equal(printed.stdout, run.stdout, "fingerprint prints the same line");

    const before = await Deno.readTextFile(path);
    run = await runCli(["keygen", "--bits", "2048"], { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /already exists; ovtp keygen never overwrites a key/);
    assert.equal(await Deno.readTextFile(path), before, "the key is untouched");

    run = await runCli(["keygen", "--json", "--bits", "2048", "-f", join(home, "other")], { env });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.file, join(home, "other"));
    assert.equal(result.bits, 2048);

    for (const bits of ["1024", "2049", "lots"]) {
      run = await runCli(["keygen", "--bits", bits, "-f", join(home, "bad")], { env });
      assert.equal(run.code, 2, run.stderr);
    }
    run = await runCli(["keygen", "extra"], { env });
    assert.equal(run.code, 2, run.stderr);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
