import assert from "node:assert/strict";
import { join } from "node:path";
import { cliArgs, runCli } from "./_cli.ts";

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

Deno.test("ovtp keygen without $USER names the key LOGNAME@host, else uid-N@host", async () => {
  const home = await Deno.makeTempDir({ prefix: "ovtp_cli_keygen_" });
  const { USER: _user, USERNAME: _username, LOGNAME: _logname, ...inherited } = Deno.env.toObject();
  const host = Deno.hostname();
  try {
    const keygen = async (file: string, env: Record<string, string>) => {
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: cliArgs(["keygen", "--bits", "2048", "-f", join(home, file)]),
        env: { ...inherited, NO_COLOR: "1", OVTP_HOME: join(home, "ovtp"), ...env },
        clearEnv: true,
        stdin: "null",
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      return new TextDecoder().decode(stdout);
    };
    assert.match(await keygen("a", { LOGNAME: "carol" }), new RegExp(` carol@${host} \\(RSA`));
    assert.match(await keygen("b", {}), new RegExp(` uid-${Deno.uid()}@${host} \\(RSA`));
    assert.match(await Deno.readTextFile(join(home, "b.pub")), /^ovtp-rsa \S+ uid-\d+@\S+\n$/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
