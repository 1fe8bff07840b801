import assert from "node:assert/strict";
import { join } from "node:path";
import { cliArgs, makeWorld, runCli, startServe, waitFor } from "./_cli.ts";

Deno.test("ovtp sub prints published messages as JSON lines; ovtp pub publishes (- reads standard input)", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  const alice = world.env(world.aliceHome);
  let sub: Deno.ChildProcess | undefined;
  try {
    // Record the server key first.
    let run = await runCli(["pub", "--accept-new", server.address, "warmup", "x"], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"delivered":0}\n');

    sub = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["sub", "--count", "3", server.address, "metrics.*", "alerts.>"]),
      env: { NO_COLOR: "1", ...alice },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    let stdout = "";
    const child = sub;
    const readingErr = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
    })();
    const readingOut = (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) stdout += text;
    })();
    await waitFor(() => /subscribed to metrics\.\* alerts\.>/.test(stderr));

    run = await runCli(["pub", server.address, "metrics.cpu", "0.5"], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"delivered":1}\n');
    run = await runCli(["pub", server.address, "logs.x", "unseen"], { env: alice });
    assert.equal(run.stdout, '{"delivered":0}\n');
    run = await runCli(
      ["pub", "--type", "json", server.address, "alerts.disk.full", '{"host":"a"}'],
      { env: alice },
    );
    assert.equal(run.code, 0, run.stderr);
    // MESSAGE - reads standard input, as send and push do.
    run = await runCli(["pub", server.address, "metrics.mem", "-"], { env: alice, stdin: "1" });
    assert.equal(run.code, 0, run.stderr);

    const status = await sub.status;
    sub = undefined;
    await Promise.all([readingErr, readingOut]);
    assert.equal(status.code, 0, stderr);
    assert.deepEqual(
      stdout.trim().split("\n").map((line) => JSON.parse(line)),
      [
        { topic: "metrics.cpu", message: "0.5" },
        { topic: "alerts.disk.full", message: { host: "a" } },
        { topic: "metrics.mem", message: "1" },
      ],
    );

    run = await runCli(["pub", server.address, "metrics.*", "x"], { env: alice });
    assert.equal(run.code, 2, run.stderr);
    run = await runCli(["sub", server.address, "a.>.b"], { env: alice });
    assert.equal(run.code, 2, run.stderr);
  } finally {
    if (sub !== undefined) {
      sub.kill("SIGKILL");
      await sub.status;
    }
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp pub and sub exit 5 outside the key's topics= option", async () => {
  const world = await makeWorld();
  const bobKey = await Deno.readTextFile(join(world.bobHome, "id_ovtp.pub"));
  await Deno.writeTextFile(
    join(world.serverHome, "authorized_keys"),
    `topics="metrics.>" ${bobKey}`,
    { append: true },
  );
  const server = await startServe([], { env: world.env(world.serverHome) });
  const bob = world.env(world.bobHome);
  try {
    let run = await runCli(["pub", "--accept-new", server.address, "metrics.cpu", "1"], {
      env: bob,
    });
    assert.equal(run.code, 0, run.stderr);
    run = await runCli(["pub", server.address, "logs.x", "1"], { env: bob });
    assert.equal(run.code, 5, run.stderr);
    assert.match(
      run.stderr,
      /^ovtp: the server refused to publish to "logs\.x": not allowed for this key \(not covered by its authorized_keys option topics=\);/,
    );
    run = await runCli(["sub", server.address, ">"], { env: bob });
    assert.equal(run.code, 5, run.stderr);
    assert.match(
      run.stderr,
      /^ovtp: the server refused to subscribe to ">": not allowed for this key \(not covered by its authorized_keys option topics=\);/,
    );
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
