import assert from "node:assert/strict";
import { acceptLoop } from "../../wire/accept_loop.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { startServer, withClient } from "../_helpers.ts";
import { cliArgs, makeWorld, runCli } from "../cli/_cli.ts";

/**
 * Makes `count` connections to `port` that are reset (RST, SO_LINGER 0) at once, while this
 * process's event loop is blocked, so they sit reset in the listen backlog and accept() fails
 * on them (ENOTCONN). Deno cannot reset a socket itself; Node.js (which ./denow needs) can.
 */
function resetConnections(port: number, count: number): void {
  const script = `const net = require("net"); let left = ${count};
    for (let i = 0; i < ${count}; i++) {
      const s = net.connect(${port}, "127.0.0.1", () => { s.resetAndDestroy(); if (--left === 0) setTimeout(() => {}, 100); });
      s.on("error", () => {});
    }`;
  // outputSync blocks this thread: nothing here accepts until the resets are in the backlog.
  const { success, stderr } = new Deno.Command("node", { args: ["-e", script] }).outputSync();
  assert.ok(success, new TextDecoder().decode(stderr));
}

Deno.test("acceptLoop() goes on after connections reset before they were accepted", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const errors: unknown[] = [];
  let accepted = 0;
  const loop = acceptLoop(listener, (conn) => {
    accepted++;
    conn.close();
  }, { onError: (error) => errors.push(error) });
  try {
    resetConnections(port, 20);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    // The loop accepted the good connection (and closed it): read sees the end.
    assert.equal(await conn.read(new Uint8Array(1)), null);
    conn.close();
    assert.ok(accepted >= 1);
    assert.ok(errors.length >= 1, "the resets were expected to fail accept() at least once");
  } finally {
    listener.close();
    await loop;
  }
});

Deno.test("OvtpServer serves a good client after connections reset before accept", async () => {
  const alice = await fixtureIdentity("alice");
  const server = await startServer();
  try {
    resetConnections(server.address.port, 20);
    const reply = await withClient(
      server.address,
      server.clientOptions(alice, { handshakeTimeoutMs: 5000 }),
      (client) => client.sendMessage("still there?"),
    );
    assert.equal(reply.response, "still there?");
    assert.ok(server.events.some((event) => event.event === "accept_error"));
  } finally {
    await server.close();
  }
});

Deno.test({
  name: "ovtp serve goes on accepting after it ran out of file descriptors",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const world = await makeWorld();
    const fdLimit = 48;
    const [program, ...args] = [
      "bash",
      "-c",
      `ulimit -n ${fdLimit} && exec "$0" "$@"`,
      Deno.execPath(),
      ...cliArgs(["serve", "--listen", "127.0.0.1:0", "--root", world.root]),
    ];
    const child = new Deno.Command(program, {
      args,
      env: { NO_COLOR: "1", ...world.env(world.serverHome) },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const held: Deno.Conn[] = [];
    let stderr = "";
    const readingErr = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
    })();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!/listening on 127\.0\.0\.1:(\d+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`ovtp serve ended: ${stderr}`);
        out += value;
      }
      reader.releaseLock();
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]);
      // Silent connections, each holding a descriptor in the server, until it has none left.
      for (let i = 0; i < fdLimit; i++) {
        held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      }
      const deadline = Date.now() + 10_000;
      while (!/accept_error/.test(stderr) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.match(stderr, /accept_error/, "the server was expected to run out of descriptors");
      for (const conn of held.splice(0)) conn.close();
      const run = await runCli(
        ["send", "--accept-new", "--timeout", "8", `127.0.0.1:${port}`, "hello"],
        { env: world.env(world.aliceHome) },
      );
      // alice does not know the server key yet: pin it by trusting on first use.
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /"status":true/);
    } finally {
      for (const conn of held) conn.close();
      try {
        child.kill("SIGKILL");
      } catch {
        // Ended already.
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await readingErr;
      await world.cleanup();
    }
  },
});
