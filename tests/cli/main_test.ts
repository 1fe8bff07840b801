import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import { runCli } from "./_cli.ts";

Deno.test("ovtp --help, --version and COMMAND --help exit 0", async () => {
  let run = await runCli(["--help"]);
  assert.equal(run.code, 0);
  for (
    const command of [
      "keygen",
      "fingerprint",
      "authorize",
      "serve",
      "send",
      "put",
      "get",
      "hash",
      "demo",
    ]
  ) {
    assert.match(run.stdout, new RegExp(`\\n  ${command} +\\S`), command);
  }
  assert.match(run.stdout, /Exit codes: 0 success, 1 other failure, 2 usage error, 3 /);
  run = await runCli(["--version"]);
  assert.equal(run.stdout, `${denoJson.version}\n`);
  run = await runCli(["put", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^Usage: ovtp put \[options\] LOCAL\.\.\. HOST\[:PORT\]:REMOTE/);
  run = await runCli(["help", "serve"]);
  assert.match(run.stdout, /^Usage: ovtp serve /);
});

Deno.test("ovtp exits 2 with one line for usage errors", async () => {
  for (
    const args of [[], ["frobnicate"], ["keygen", "--frobnicate"], ["get"], ["demo", "extra"]]
  ) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.equal(run.stdout, "");
    if (args.length > 0) assert.match(run.stderr, /^ovtp( \w+)?: .*--help\n$/);
  }
});

Deno.test("ovtp prints a stack trace only with --verbose", async () => {
  const env = { OVTP_HOME: "/nonexistent/ovtp" };
  let run = await runCli(["send", "127.0.0.1:1", "x"], { env });
  assert.equal(run.code, 1);
  assert.equal(run.stderr.split("\n").length, 2, run.stderr);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
  run = await runCli(["send", "--verbose", "127.0.0.1:1", "x"], { env });
  assert.equal(run.code, 1);
  assert.match(run.stderr, /^ovtp: There is no private key .*\nCliError: .*\n +at /);
  assert.match(run.stderr, /caused by:\nKeyFileError/);
});
