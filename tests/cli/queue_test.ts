import assert from "node:assert/strict";
import { join } from "node:path";
import { cliArgs, makeWorld, runCli, startServe, waitFor } from "./_cli.ts";

Deno.test("ovtp push queues items; ovtp pull --count prints them in order", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  const alice = world.env(world.aliceHome);
  try {
    let run = await runCli(["push", "--accept-new", server.address, "jobs", "one"], {
      env: alice,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"queued":1}\n');
    run = await runCli(["push", "--type", "json", server.address, "jobs", '{"n":2}'], {
      env: alice,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"queued":2}\n');
    run = await runCli(["push", server.address, "jobs", "-"], { env: alice, stdin: "three" });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"queued":3}\n');

    run = await runCli(["pull", "--count", "3", server.address, "jobs"], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      run.stdout.trim().split("\n").map((line) => JSON.parse(line)),
      [
        { queue: "jobs", message: "one", attempts: 1 },
        { queue: "jobs", message: { n: 2 }, attempts: 1 },
        { queue: "jobs", message: "three", attempts: 1 },
      ],
    );
    // All three were acknowledged: the queue is empty.
    run = await runCli(["push", server.address, "jobs", "four"], { env: alice });
    assert.equal(run.stdout, '{"queued":1}\n');

    run = await runCli(["push", server.address, "jobs.*", "x"], { env: alice });
    assert.equal(run.code, 2, run.stderr);
    run = await runCli(["pull", "--count", "0", server.address, "jobs"], { env: alice });
    assert.equal(run.code, 2, run.stderr);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp pull --exec acknowledges only what the command did; a failed item comes back after its back-off with the command's exit code and last stderr line", async () => {
  const world = await makeWorld();
  const server = await startServe(["--retry-delay", "0.2"], {
    env: world.env(world.serverHome),
  });
  const alice = world.env(world.aliceHome);
  const done = join(world.dir, "done.txt");
  try {
    for (const [index, item] of ["a", "b", "c"].entries()) {
      const run = await runCli(
        ["push", ...(index === 0 ? ["--accept-new"] : []), server.address, "jobs", item],
        { env: alice },
      );
      assert.equal(run.code, 0, run.stderr);
    }
    // Fails on "b": it waits its back-off while "c" goes on, then comes again (and fails again).
    let run = await runCli([
      "pull",
      "--count",
      "4",
      "--exec",
      `x=$(cat); if test "$x" = b; then echo "working on b" >&2; echo "b is broken" >&2; exit 3; fi; ` +
      `echo "$x $OVTP_QUEUE $OVTP_ATTEMPTS" >> '${done}'`,
      server.address,
      "jobs",
    ], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await Deno.readTextFile(done), "a jobs 1\nc jobs 1\n");
    assert.match(run.stderr, /the command exited with 3; the item goes back to jobs/);
    assert.match(run.stderr, /b is broken/); // the command's standard error is passed on

    run = await runCli(["pull", "--count", "1", server.address, "jobs"], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      queue: "jobs",
      message: "b",
      attempts: 3,
      error: "exit code 3: b is broken",
    });
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp push and pull exit 5 outside the key's topics= option", async () => {
  const world = await makeWorld();
  const bobKey = await Deno.readTextFile(join(world.bobHome, "id_ovtp.pub"));
  await Deno.writeTextFile(
    join(world.serverHome, "authorized_keys"),
    `topics="jobs.>" ${bobKey}`,
    { append: true },
  );
  const server = await startServe([], { env: world.env(world.serverHome) });
  const bob = world.env(world.bobHome);
  try {
    let run = await runCli(["push", "--accept-new", server.address, "jobs.resize", "1"], {
      env: bob,
    });
    assert.equal(run.code, 0, run.stderr);
    run = await runCli(["push", server.address, "other", "1"], { env: bob });
    assert.equal(run.code, 5, run.stderr);
    run = await runCli(["pull", server.address, "other"], { env: bob });
    assert.equal(run.code, 5, run.stderr);
    run = await runCli(["pull", "--count", "1", server.address, "jobs.resize"], { env: bob });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '{"queue":"jobs.resize","message":"1","attempts":1}\n');
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp pull stops cleanly on SIGTERM", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  const alice = world.env(world.aliceHome);
  let pull: Deno.ChildProcess | undefined;
  try {
    const run = await runCli(["push", "--accept-new", server.address, "jobs", "x"], { env: alice });
    assert.equal(run.code, 0, run.stderr);
    pull = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["pull", server.address, "jobs"]),
      env: { NO_COLOR: "1", ...alice },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stdout = "";
    let stderr = "";
    const child = pull;
    const reading = Promise.all([
      (async () => {
        for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) stdout += text;
      })(),
      (async () => {
        for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
      })(),
    ]);
    await waitFor(() => stdout.includes('"message":"x"'));
    pull.kill("SIGTERM");
    const status = await pull.status;
    pull = undefined;
    await reading;
    assert.equal(status.code, 0, stderr);
  } finally {
    if (pull !== undefined) {
      pull.kill("SIGKILL");
      await pull.status;
    }
    await server.stop();
    await world.cleanup();
  }
});
