import assert from "node:assert/strict";
import { hasScript, runCli, runCliInTerminal } from "./_cli.ts";

const demoPermissions = ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"];

Deno.test("ovtp demo runs a server and a client, moves a file, and cleans up", async () => {
  const run = await runCli(["demo"], { permissions: demoPermissions });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^server key +SHA256:\S{43}$/m);
  assert.match(run.stdout, /^client key +SHA256:\S{43}$/m);
  assert.match(run.stdout, /^message .*"status":true/m);
  assert.match(run.stdout, /^upload +32\.0 MiB in /m);
  assert.match(run.stdout, /^download +32\.0 MiB in .*; same digest/m);
  assert.doesNotMatch(run.stdout, /\r/, "no progress bar without a terminal");
  const dir = /\(in (\S+)\)/.exec(run.stdout)?.[1];
  assert.ok(dir !== undefined);
  assert.equal(await Deno.stat(dir).catch(() => null), null, "the temporary folder is gone");
});

Deno.test({
  name: "ovtp demo draws progress bars on a terminal",
  ignore: !hasScript,
  fn: async () => {
    const run = await runCliInTerminal(["demo"], { permissions: demoPermissions });
    assert.equal(run.code, 0, run.stdout);
    assert.match(run.stdout, /\rdemo\.bin \[#+\] 100% +32\.0 MiB\/32\.0 MiB/);
    assert.match(run.stdout, /\rcopy\.bin|\rdemo\.bin.*\r\n.*upload/s);
  },
});
