/**
 * Crash safety, with real processes: `kill -9` the server, or the client, in the middle of a
 * transfer. The destination must stay untouched (nothing under the final name), the transfer
 * must resume after a restart, and the server must come back on the same key and state.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileChunkBytes } from "../files/chunk_tree.ts";
import { cliArgs, exists, makeWorld, runCli, startServe, waitFor } from "./cli/_cli.ts";

const fileBytes = 192 * fileChunkBytes;

async function writeRandomFile(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(fileChunkBytes);
  for (let written = 0; written < size; written += block.length) {
    for (let i = 0; i < block.length; i += 65536) {
      crypto.getRandomValues(block.subarray(i, i + 65536));
    }
    await file.write(block.subarray(0, Math.min(block.length, size - written)));
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** The size of the first partial file in `dir` (0 when there is none). */
async function partialBytes(dir: string): Promise<number> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.endsWith(".ovtp-part")) return (await Deno.stat(join(dir, entry.name))).size;
  }
  return 0;
}

/** Starts `ovtp ARGS` in the background; the caller kills it. */
function spawnCli(args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: cliArgs(args),
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("kill -9 of the server mid-upload: nothing under the final name, then a resume", async () => {
  const world = await makeWorld();
  let server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  try {
    const source = join(world.dir, "big.bin");
    await writeRandomFile(source, fileBytes);
    const remote = `127.0.0.1:${server.port}:big.bin`;
    const put = spawnCli(
      ["put", "--accept-new", "--resume", source, remote],
      world.env(world.aliceHome),
    );
    try {
      await waitFor(async () => await partialBytes(world.root) >= 24 * fileChunkBytes);
      const fingerprint = /SHA256:[A-Za-z0-9+/]{43}/.exec(server.readyLine)![0];
      await server.stop("SIGKILL");
      assert.notEqual((await put.status).code, 0);
      assert.equal(await exists(join(world.root, "big.bin")), false);
      assert.ok(await partialBytes(world.root) > 0, "the partial upload was not kept");

      // The server comes back on the same key and state.
      server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
      assert.ok(server.readyLine.includes(fingerprint));
      // Pinning the old fingerprint proves the new process holds the same key.
      const again = await runCli(
        [
          "put",
          "--fingerprint",
          fingerprint,
          "--resume",
          source,
          `127.0.0.1:${server.port}:big.bin`,
        ],
        { env: world.env(world.aliceHome) },
      );
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /resumed/);
      assert.ok(await sameFile(source, join(world.root, "big.bin")));
      assert.equal(await partialBytes(world.root), 0);
    } finally {
      try {
        put.kill("SIGKILL");
      } catch {
        // Ended already.
      }
      await put.status;
    }
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("kill -9 of the client mid-upload: the server keeps serving, then a resume", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  try {
    const source = join(world.dir, "big.bin");
    await writeRandomFile(source, fileBytes);
    const remote = `127.0.0.1:${server.port}:big.bin`;
    const put = spawnCli(
      ["put", "--accept-new", "--resume", source, remote],
      world.env(world.aliceHome),
    );
    await waitFor(async () => await partialBytes(world.root) >= 24 * fileChunkBytes);
    put.kill("SIGKILL");
    await put.status;
    await server.waitForEvent({ event: "connection", result: "error" });
    assert.equal(await exists(join(world.root, "big.bin")), false);
    const again = await runCli(["put", "--resume", source, remote], {
      env: world.env(world.aliceHome),
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed/);
    assert.ok(await sameFile(source, join(world.root, "big.bin")));
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("kill -9 of the client mid-download: no file under the final name, then a resume", async () => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  try {
    await writeRandomFile(join(world.root, "big.bin"), fileBytes);
    const local = join(world.dir, "download");
    await Deno.mkdir(local);
    const destination = join(local, "big.bin");
    const remote = `127.0.0.1:${server.port}:big.bin`;
    const get = spawnCli(
      ["get", "--accept-new", "--resume", remote, destination],
      world.env(world.aliceHome),
    );
    await waitFor(async () => await partialBytes(local) >= 24 * fileChunkBytes);
    get.kill("SIGKILL");
    await get.status;
    assert.equal(await exists(destination), false);
    const again = await runCli(["get", "--resume", remote, destination], {
      env: world.env(world.aliceHome),
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /resumed/);
    assert.ok(await sameFile(join(world.root, "big.bin"), destination));
    assert.equal(await partialBytes(local), 0);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
