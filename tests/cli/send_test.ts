import assert from "node:assert/strict";
import { join } from "node:path";
import { exists, fixtureFingerprint, makeWorld, runCli, startServe } from "./_cli.ts";

Deno.test("ovtp send prints the reply as one JSON line and exits by its status", async (t) => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  const alice = world.env(world.aliceHome);
  try {
    await t.step("an unknown server key exits 4 and records nothing", async () => {
      const run = await runCli(["send", server.address, "hello"], { env: alice });
      assert.equal(run.code, 4, run.stderr);
      assert.equal(run.stdout, "");
      const serverKey = await fixtureFingerprint("server");
      assert.match(
        run.stderr,
        new RegExp(`^ovtp: .*unknown key ${escape(serverKey)}.*--accept-new`),
      );
      assert.equal(run.stderr.trim().split("\n").length, 1);
      await assert.rejects(Deno.stat(join(world.aliceHome, "known_hosts")));
    });

    await t.step("--accept-new records the key, then it is trusted", async () => {
      let run = await runCli(["send", "--accept-new", server.address, "hello"], { env: alice });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, '{"status":true,"response":"received 5 bytes"}\n');
      assert.match(run.stderr, /recorded the key SHA256:/);
      assert.match(
        await Deno.readTextFile(join(world.aliceHome, "known_hosts")),
        /^\[127\.0\.0\.1\]:/,
      );
      run = await runCli(["send", server.address, "again"], { env: alice });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stderr, "");
      const event = await server.waitForEvent({ event: "message", type: "text", bytes: 5 });
      assert.equal(event.comment, "alice@test");
      assert.equal(event.fingerprint, await fixtureFingerprint("alice"));
      assert.match(String(event.remote), /^127\.0\.0\.1:\d+$/);
      assert.equal(event.status, true);
      assert.equal(event.preview, undefined, "no content in the log without --verbose");
    });

    await t.step("a message from standard input, and --type json", async () => {
      let run = await runCli(["send", server.address, "-"], { env: alice, stdin: "from stdin\n" });
      assert.equal(run.stdout, '{"status":true,"response":"received 11 bytes"}\n');
      run = await runCli(["send", "--type", "json", server.address, '{"job": 7}'], { env: alice });
      assert.equal(run.code, 0, run.stderr);
      await server.waitForEvent({ event: "message", type: "json", bytes: 9 });
      run = await runCli(["send", "--type", "json", server.address, "{nope"], { env: alice });
      assert.equal(run.code, 2);
    });

    await t.step("--fingerprint pins the key: the right one passes, another exits 4", async () => {
      const serverKey = await fixtureFingerprint("server");
      const aliceKey = await fixtureFingerprint("alice");
      const env = world.env(world.bobHome); // no known_hosts at all
      const asAlice = ["--identity", join(world.aliceHome, "id_ovtp")];
      const knownHosts = ["--known-hosts", join(world.dir, "pinned_known_hosts")];
      let run = await runCli(
        ["send", "--fingerprint", serverKey, ...asAlice, ...knownHosts, server.address, "x"],
        { env },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await exists(join(world.dir, "pinned_known_hosts")), false);
      run = await runCli(
        [
          "send",
          "--fingerprint",
          serverKey,
          "--accept-new",
          ...asAlice,
          ...knownHosts,
          server.address,
          "x",
        ],
        { env },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /recorded the key/, "with --accept-new the pinned key is recorded");
      run = await runCli(["send", ...asAlice, ...knownHosts, server.address, "x"], { env });
      assert.equal(run.code, 0, run.stderr);
      run = await runCli(["send", "--fingerprint", aliceKey, server.address, "x"], { env });
      assert.equal(run.code, 4);
      assert.match(run.stderr, new RegExp(`${escape(serverKey)}.*${escape(aliceKey)}`));
      run = await runCli(["send", "--fingerprint", "SHA256:short", server.address, "x"], { env });
      assert.equal(run.code, 2);
    });

    await t.step(
      "a changed server key exits 4 naming both keys and the line to remove",
      async () => {
        const knownHosts = join(world.dir, "changed_known_hosts");
        const bobLine = (await Deno.readTextFile(join(world.bobHome, "id_ovtp.pub"))).trim();
        await Deno.writeTextFile(knownHosts, `# comment\n[127.0.0.1]:${server.port} ${bobLine}\n`);
        const run = await runCli(
          ["send", "--known-hosts", knownHosts, server.address, "x"],
          { env: alice },
        );
        assert.equal(run.code, 4);
        const lines = run.stderr.trim().split("\n");
        assert.equal(lines.length, 1, run.stderr);
        assert.ok(lines[0].includes(await fixtureFingerprint("server")), run.stderr);
        assert.ok(lines[0].includes(await fixtureFingerprint("bob")), run.stderr);
        assert.ok(lines[0].includes(`line 2 of ${knownHosts}`), run.stderr);
        assert.doesNotMatch(run.stderr, /\n\s+at /);
      },
    );

    await t.step("a key the server does not authorize exits 3", async () => {
      const run = await runCli(
        ["send", "--fingerprint", await fixtureFingerprint("server"), server.address, "x"],
        { env: world.env(world.bobHome) },
      );
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, /refused our key .*ovtp authorize/);
      const event = await server.waitForEvent({ event: "refused", reason: "authentication" });
      assert.equal(event.fingerprint, await fixtureFingerprint("bob"));
    });

    await t.step("a missing identity exits 1 and says how to make one", async () => {
      const run = await runCli(["send", server.address, "x"], {
        env: world.env(join(world.dir, "nobody")),
      });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /ovtp keygen -f /);
    });

    await t.step("bad usage exits 2", async () => {
      for (
        const args of [
          ["send"],
          ["send", server.address],
          ["send", "--nope", server.address, "x"],
          ["send", "--timeout", "soon", server.address, "x"],
          ["send", "a:b:c", "x"],
        ]
      ) {
        const run = await runCli(args, { env: alice });
        assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, /^ovtp send: .*see ovtp send --help\n$/);
      }
    });
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp send exits 6 when nothing listens or the server never answers", async () => {
  const world = await makeWorld();
  const env = world.env(world.aliceHome);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silentPort = (listener.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (closed.addr as Deno.NetAddr).port;
    closed.close();
    let run = await runCli(["send", "--accept-new", `127.0.0.1:${closedPort}`, "x"], { env });
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /^ovtp: Cannot connect to 127\.0\.0\.1:\d+: .*ovtp serve/);

    run = await runCli(
      ["send", "--accept-new", "--timeout", "0.5", `127.0.0.1:${silentPort}`, "x"],
      { env },
    );
    assert.equal(run.code, 6, run.stderr);
    assert.match(run.stderr, /--timeout/);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
    await world.cleanup();
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
