import assert from "node:assert/strict";
import { join } from "node:path";
import { cliArgs, makeWorld, runCli, startServe, waitFor } from "./_cli.ts";

Deno.test("ovtp errors read as scp's: no such file, unknown option, a refused publish, a timeout as given", async () => {
  const world = await makeWorld();
  await Deno.writeTextFile(
    join(world.serverHome, "authorized_keys"),
    `topics="metrics.>" ${await Deno.readTextFile(join(world.aliceHome, "id_ovtp.pub"))}`,
  );
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  // A listener that accepts and never answers: the handshake times out.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  try {
    const env = world.env(world.aliceHome);
    let run = await runCli(["send", "--accept-new", server.address, "hi"], { env });
    assert.equal(run.code, 0, run.stderr);

    run = await runCli(["get", `${server.address}:x.csv`, join(world.dir, "x.csv")], { env });
    assert.equal(run.code, 5);
    assert.equal(run.stderr, "ovtp: x.csv: No such file or directory\n");

    run = await runCli(["pub", server.address, "x", "hello"], { env });
    assert.equal(run.code, 5);
    assert.equal(
      run.stderr,
      `ovtp: the server refused to publish to "x": not allowed for this key (not covered by its ` +
        `authorized_keys option topics=); the server's owner sets what it may do in ` +
        `authorized_keys\n`,
    );

    run = await runCli(["put", "--frob", "a", `${server.address}:b`], { env });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, "ovtp put: unknown option --frob; see ovtp put --help\n");
    run = await runCli(["get", "--identity"], { env });
    assert.equal(run.stderr, "ovtp get: option --identity needs a value; see ovtp get --help\n");

    const port = (silent.addr as Deno.NetAddr).port;
    run = await runCli(["send", "--timeout", "1.5", `127.0.0.1:${port}`, "hi"], { env });
    assert.equal(run.code, 6);
    assert.equal(
      run.stderr,
      `ovtp: 127.0.0.1:${port}: connection timed out after 1.5 s; check that the server is up, ` +
        `or allow more time with --timeout\n`,
    );
  } finally {
    silent.close();
    await accepting;
    for (const conn of held) conn.close();
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp put of a file under /dev says what to do instead of asking for --allow-all", async () => {
  const world = await makeWorld();
  try {
    const run = await runCli(["put", "/dev/stdin", "127.0.0.1:9:x"], {
      env: world.env(world.aliceHome),
      stdin: "data",
      permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
    });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      "ovtp: /dev/stdin: ovtp cannot open files under /dev; write - for standard input or output\n",
    );
    assert.doesNotMatch(run.stderr, /allow-all/);
  } finally {
    await world.cleanup();
  }
});

Deno.test("ovtp sub --no-reconnect exits 6 when the server stops gracefully", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["sub", "--no-reconnect", "--accept-new", server.address, "t.>"]),
    env: { NO_COLOR: "1", ...world.env(world.aliceHome) },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
  })();
  try {
    await waitFor(() => stderr.includes("subscribed to t.>"));
    await server.stop();
    const status = await child.status;
    await reading;
    assert.equal(status.code, 6, stderr);
    assert.match(
      stderr,
      /^ovtp: the server stopped the request to subscribe to "t\.>": .*closing/m,
    );
    assert.doesNotMatch(stderr, /stream \d/);
  } finally {
    try {
      child.kill();
    } catch {
      // It ended.
    }
    await child.status;
    await reading;
    await server.stop();
    await world.cleanup();
  }
});
