import assert from "node:assert/strict";
import { join } from "node:path";
import { makeWorld, runCli, startServe } from "./_cli.ts";

// The permissions the README lists for each command; each must be enough on its own.
const net = "--allow-net";
const read = "--allow-read";
const write = "--allow-write";
const env = "--allow-env";

Deno.test("each command runs with the permissions the README lists", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], {
    env: world.env(world.serverHome),
    permissions: [net, read, write, env],
  });
  const alice = world.env(world.aliceHome);
  const file = join(world.dir, "a.txt");
  await Deno.writeTextFile(file, "content");
  const cases: [string[], string[], Record<string, string>][] = [
    [["keygen", "--bits", "2048", "-f", join(world.dir, "k")], [read, write, env], {}],
    [["fingerprint", join(world.dir, "k.pub")], [read], {}],
    [["authorize", join(world.dir, "k.pub")], [read, write, env], world.env(world.serverHome)],
    [["send", "--accept-new", server.address, "hi"], [net, read, write, env], alice],
    [["send", server.address, "hi"], [net, read, env], alice],
    [["put", file, `${server.address}:`], [net, read, env], alice],
    [
      ["get", `${server.address}:a.txt`, join(world.dir, "copy.txt")],
      [net, read, write, env],
      alice,
    ],
    [["hash", `${server.address}:a.txt`, file], [net, read, env], alice],
    [["ls", "-l", `${server.address}:`], [net, read, env], alice],
    [["stat", `${server.address}:a.txt`], [net, read, env], alice],
    [["mkdir", "-p", `${server.address}:d/e`], [net, read, env], alice],
    [["mv", `${server.address}:a.txt`, "d/b.txt"], [net, read, env], alice],
    [["rm", "-r", `${server.address}:d`], [net, read, env], alice],
    [["ping", "-c", "1", server.address], [net, read, env], alice],
    [["known-hosts", "list"], [read, env], alice],
    [["known-hosts", "remove", server.address], [read, write, env], alice],
  ];
  try {
    for (const [args, permissions, environment] of cases) {
      const run = await runCli(args, { env: environment, permissions });
      assert.equal(run.code, 0, `${args.join(" ")} with ${permissions.join(" ")}: ${run.stderr}`);
    }
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp serve with --queue-db :memory: and without --root needs no write permission; --exec needs only run=sh", async () => {
  const world = await makeWorld();
  const server = await startServe(["--exec", "cat", "--queue-db", ":memory:"], {
    env: world.env(world.serverHome),
    permissions: [net, read, env, "--allow-run=sh"],
  });
  try {
    const run = await runCli(["send", "--accept-new", server.address, "echo"], {
      env: world.env(world.aliceHome),
    });
    assert.equal(run.stdout, '{"status":true,"response":"echo"}\n', run.stderr);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
