import assert from "node:assert/strict";
import { makeWorld, runCli, startServe } from "./_cli.ts";

Deno.test("ovtp ping -c 2 prints the handshake, two round trips and the summary", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  try {
    const run = await runCli(
      ["ping", "--accept-new", "-c", "2", "--interval", "0.05", server.address],
      { env: world.env(world.aliceHome) },
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 4, run.stdout);
    assert.match(
      lines[0],
      new RegExp(`^connected to ${server.address} in [\\d.]+ ms \\(full handshake\\)$`),
    );
    assert.match(lines[1], new RegExp(`^reply from ${server.address}: seq=1 time=[\\d.]+ ms$`));
    assert.match(lines[2], new RegExp(`^reply from ${server.address}: seq=2 time=[\\d.]+ ms$`));
    assert.match(lines[3], /^2 sent, 2 received, min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms$/);
    const usage = await runCli(["ping", "-c", "0", server.address], {
      env: world.env(world.aliceHome),
    });
    assert.equal(usage.code, 2);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
