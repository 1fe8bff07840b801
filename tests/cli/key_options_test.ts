/**
 * Every authorized_keys option, enforced through the command line: a refused operation exits
 * 5, a refused connection (from=) exits 3.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { makeWorld, runCli, startServe, type World } from "./_cli.ts";

/** Runs `fn` against a server whose authorized_keys gives alice's key `options`. */
async function withOptions(
  options: string,
  fn: (world: World, address: string, env: Record<string, string>) => Promise<void>,
): Promise<void> {
  const world = await makeWorld();
  const keys = join(world.serverHome, "authorized_keys");
  await Deno.writeTextFile(keys, `${options} ${await Deno.readTextFile(keys)}`);
  await Deno.mkdir(join(world.root, "alice"));
  await Deno.writeTextFile(join(world.root, "shared.txt"), "shared");
  await Deno.writeTextFile(join(world.root, "alice", "mine.txt"), "mine");
  await Deno.writeTextFile(join(world.dir, "upload.txt"), "upload");
  const server = await startServe(["--root", world.root, "--forward-allow", "127.0.0.1:*"], {
    env: world.env(world.serverHome),
  });
  try {
    await fn(world, server.address, { ...world.env(world.aliceHome) });
  } finally {
    await server.stop();
    await world.cleanup();
  }
}

function expectCode(run: { code: number; stderr: string }, code: number, what: string): void {
  assert.equal(run.code, code, `${what}: ${run.stderr}`);
  assert.equal(run.stderr.trim().split("\n").length, 1, `${what}: one line on stderr`);
}

Deno.test("ovtp enforces read-only: uploads exit 5, downloads work", async () => {
  await withOptions("read-only", async (world, address, env) => {
    const get = await runCli(
      ["get", "--accept-new", `${address}:shared.txt`, join(world.dir, "a")],
      {
        env,
      },
    );
    expectCode(get, 0, "get");
    const put = await runCli(["put", join(world.dir, "upload.txt"), `${address}:u.txt`], { env });
    expectCode(put, 5, "put");
  });
});

Deno.test("ovtp enforces write-only: downloads and hashes exit 5, uploads work", async () => {
  await withOptions("write-only", async (world, address, env) => {
    const put = await runCli(
      ["put", "--accept-new", join(world.dir, "upload.txt"), `${address}:u.txt`],
      { env },
    );
    expectCode(put, 0, "put");
    expectCode(
      await runCli(["get", `${address}:shared.txt`, join(world.dir, "b")], { env }),
      5,
      "get",
    );
    expectCode(await runCli(["hash", `${address}:shared.txt`], { env }), 5, "hash");
  });
});

Deno.test("ovtp confines a key to its root=", async () => {
  await withOptions('root="alice"', async (world, address, env) => {
    const get = await runCli(["get", "--accept-new", `${address}:mine.txt`, join(world.dir, "m")], {
      env,
    });
    expectCode(get, 0, "get inside");
    assert.equal(await Deno.readTextFile(join(world.dir, "m")), "mine");
    expectCode(
      await runCli(["get", `${address}:../shared.txt`, join(world.dir, "s")], { env }),
      5,
      "get outside",
    );
  });
});

Deno.test("ovtp enforces restrict: no uploads, no forwarding; reads still work", async () => {
  await withOptions("restrict", async (world, address, env) => {
    expectCode(
      await runCli(["get", "--accept-new", `${address}:shared.txt`, join(world.dir, "r")], { env }),
      0,
      "get",
    );
    expectCode(
      await runCli(["put", join(world.dir, "upload.txt"), `${address}:u.txt`], { env }),
      5,
      "put",
    );
    expectCode(
      await runCli(["forward", "-L", "0:127.0.0.1:9", address], { env }),
      5,
      "forward",
    );
  });
});

Deno.test("ovtp refuses a connection from an address outside from= (exit 3)", async () => {
  await withOptions('from="10.*"', async (_world, address, env) => {
    expectCode(
      await runCli(["send", "--accept-new", address, "hello"], { env }),
      3,
      "send",
    );
  });
  await withOptions('from="127.0.0.*"', async (_world, address, env) => {
    expectCode(await runCli(["send", "--accept-new", address, "hello"], { env }), 0, "send");
  });
});

/** Whether this machine can listen on [::] (and so accept IPv4 clients as ::ffff:a.b.c.d). */
const hasDualStack = new Deno.Command(Deno.execPath(), {
  args: ["eval", "Deno.listen({ hostname: '::', port: 0 }).close()"],
  stdout: "null",
  stderr: "null",
}).outputSync().success;

Deno.test({
  name: "ovtp serve on [::] matches from= against an IPv4 client seen as ::ffff:127.0.0.1",
  ignore: !hasDualStack,
  fn: async () => {
    const world = await makeWorld();
    const keys = join(world.serverHome, "authorized_keys");
    const aliceLine = await Deno.readTextFile(keys);
    const server = await startServe(["--listen", "[::]:0"], { env: world.env(world.serverHome) });
    const env = world.env(world.aliceHome);
    try {
      assert.match(server.readyLine, /^listening on \[::\]:/);
      const cases: [string, number][] = [
        ['from="127.0.0.1"', 0],
        ['from="!127.0.0.1,*"', 3],
        ['from="127.0.0.0/8"', 0],
        ['from="10.0.0.0/8,::1"', 3],
        ['from="*,!127.0.0.0/8"', 3],
      ];
      for (const [options, code] of cases) {
        // The server reads the file again when it changes: no restart.
        await Deno.writeTextFile(keys, `${options} ${aliceLine}`);
        const run = await runCli(["send", "--accept-new", server.address, "hello"], { env });
        expectCode(run, code, options);
      }
      await server.waitForEvent({ event: "refused", reason: "from" });
      assert.match(server.stderr(), /not allowed from ::ffff:127\.0\.0\.1/);
    } finally {
      await server.stop();
      await world.cleanup();
    }
  },
});

Deno.test("ovtp refuses a key whose line has an option written for ssh (exit 3)", async () => {
  for (const options of ['command="date"', "no-port-forwarding", "readonly", "root"]) {
    await withOptions(options, async (_world, address, env) => {
      expectCode(await runCli(["send", "--accept-new", address, "hello"], { env }), 3, options);
    });
  }
});
