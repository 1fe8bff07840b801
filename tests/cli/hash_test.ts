import assert from "node:assert/strict";
import { join } from "node:path";
import { formatDigest } from "../../files/chunk_tree.ts";
import { hashFile } from "../../files/hash_file.ts";
import { makeWorld, runCli, startServe } from "./_cli.ts";

Deno.test("ovtp hash prints the remote digest, size and time, and compares", async () => {
  const world = await makeWorld();
  const remote = join(world.root, "a.txt");
  await Deno.writeTextFile(remote, "some content");
  const when = new Date("2024-05-06T07:08:09Z");
  await Deno.utime(remote, when, when);
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  const env = world.env(world.aliceHome);
  try {
    const digest = formatDigest((await hashFile(remote)).root);
    let run = await runCli(["hash", "--accept-new", `${server.address}:a.txt`], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${digest}  12  2024-05-06T07:08:09.000Z  ${server.address}:a.txt\n`);

    const same = join(world.dir, "same.txt");
    await Deno.writeTextFile(same, "some content");
    run = await runCli(["hash", `${server.address}:a.txt`, same], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\nsame content as .*same\.txt\n$/);

    const other = join(world.dir, "other.txt");
    await Deno.writeTextFile(other, "other content");
    run = await runCli(["hash", "--json", `${server.address}:a.txt`, other], { env });
    assert.equal(run.code, 1, "a different local file exits 1");
    const result = JSON.parse(run.stdout);
    assert.equal(result.digest, digest);
    assert.equal(result.size, 12);
    assert.equal(result.mtime, "2024-05-06T07:08:09.000Z");
    assert.equal(result.local.same, false);

    run = await runCli(["hash", `${server.address}:missing.txt`], { env });
    assert.equal(run.code, 5, run.stderr);
    run = await runCli(["hash", `${server.address}:a.txt`, join(world.dir, "missing")], { env });
    assert.equal(run.code, 1, run.stderr);
    run = await runCli(["hash"], { env });
    assert.equal(run.code, 2, run.stderr);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
