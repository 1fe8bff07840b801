import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureFingerprint, makeWorld, runCli, startServe } from "./_cli.ts";

Deno.test("ovtp known-hosts list and remove forget one server, keeping comments, other lines and the mode", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  try {
    const env = world.env(world.aliceHome);
    const path = join(world.aliceHome, "known_hosts");
    let run = await runCli(["send", "--accept-new", server.address, "hi"], { env });
    assert.equal(run.code, 0, run.stderr);
    const serverKey = await fixtureFingerprint("server");
    const recorded = await Deno.readTextFile(path);
    const keyText = recorded.trim().split(" ").slice(1).join(" ");
    await Deno.writeTextFile(
      path,
      `# my servers\n${recorded}[other.example]:4242 ${keyText} backup\n` +
        `[10.0.0.9]:4242,[127.0.0.1]:${server.port} ${keyText}\n`,
    );
    await Deno.chmod(path, 0o640);

    run = await runCli(["known-hosts", "list"], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      `${server.address} ${serverKey}`,
      `other.example:4242 ${serverKey} backup`,
      `10.0.0.9:4242,${server.address} ${serverKey}`,
    ]);

    run = await runCli(["known-hosts", "remove", server.address], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      `Removed ${server.address} ${serverKey}\n`.repeat(2),
    );
    assert.equal(
      await Deno.readTextFile(path),
      `# my servers\n[other.example]:4242 ${keyText} backup\n[10.0.0.9]:4242 ${keyText}\n`,
    );
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);

    run = await runCli(["known-hosts", "remove", server.address], { env });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `ovtp: ${server.address} is not in ${path}; ovtp known-hosts list shows it\n`,
    );
    run = await runCli(["send", server.address, "hi"], { env });
    assert.equal(run.code, 4, "the key is unknown again");
    run = await runCli(["known-hosts", "forget", "x"], { env });
    assert.equal(run.code, 2);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
