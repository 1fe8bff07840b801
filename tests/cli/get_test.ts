import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cliArgs,
  exists,
  hasScript,
  makeWorld,
  runCli,
  runCliInTerminal,
  startServe,
  waitFor,
} from "./_cli.ts";

const mib = 1024 * 1024;

Deno.test("ovtp get downloads files and folders from the served root", async (t) => {
  const world = await makeWorld();
  const bytes = new Uint8Array(2 * mib).map((_, i) => i * 7);
  await Deno.writeFile(join(world.root, "data.bin"), bytes);
  const past = new Date("2024-01-02T03:04:05Z");
  await Deno.utime(join(world.root, "data.bin"), past, past);
  await Deno.mkdir(join(world.root, "www", "css"), { recursive: true });
  await Deno.writeTextFile(join(world.root, "www", "index.html"), "<h1>hi</h1>");
  await Deno.writeTextFile(join(world.root, "www", "css", "a.css"), "h1 {}");
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  const env = world.env(world.aliceHome);
  const out = join(world.dir, "out");
  await Deno.mkdir(out);
  try {
    await t.step("a file into a folder, printing only the result line", async () => {
      const run = await runCli(["get", "--accept-new", `${server.address}:data.bin`, out], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^127\.0\.0\.1:\d+:data\.bin -> \S+: 1 file, 2\.0 MiB in .*\n$/);
      assert.doesNotMatch(run.stdout, /\r|%/);
      assert.deepEqual(await Deno.readFile(join(out, "data.bin")), bytes);
    });

    await t.step("an existing local file exits 1 unless --force; -p keeps the time", async () => {
      let run = await runCli(["get", `${server.address}:data.bin`, out], { env });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /already exists here; pass --force to replace it\n$/);
      run = await runCli(["get", "-f", "-p", `${server.address}:data.bin`, out], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.equal((await Deno.stat(join(out, "data.bin"))).mtime?.getTime(), past.getTime());
    });

    await t.step("a missing or outside remote path exits 5", async () => {
      let run = await runCli(["get", `${server.address}:nope.bin`, out], { env });
      assert.equal(run.code, 5, run.stderr);
      run = await runCli(["get", `${server.address}:../server/id_ovtp`, out], { env });
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /Outside the folder the server serves/);
      assert.equal(await Deno.stat(join(out, "id_ovtp")).catch(() => null), null);
    });

    await t.step("-r downloads a folder; a folder without -r exits 5", async () => {
      let run = await runCli(["get", `${server.address}:www`, out], { env });
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /take -r for folders/);
      // HOST: is the served folder: it needs -r too, said before connecting.
      run = await runCli(["get", `${server.address}:`, out], { env });
      assert.equal(run.code, 1, run.stderr);
      assert.equal(
        run.stderr,
        `ovtp: ${server.address}: is the served folder; pass -r to download it\n`,
      );
      run = await runCli(["get", "-r", "--json", `${server.address}:www`, join(out, "site")], {
        env,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).files, 2);
      assert.equal(await Deno.readTextFile(join(out, "site", "css", "a.css")), "h1 {}");
      run = await runCli(["get", "-r", `${server.address}:www`], { env, cwd: out });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(join(out, "www", "index.html")), "<h1>hi</h1>");
    });

    await t.step({
      name: "on a terminal it draws a progress bar",
      ignore: !hasScript,
      fn: async () => {
        const run = await runCliInTerminal(
          ["get", "--force", "--resume", `${server.address}:data.bin`, out],
          { env },
        );
        assert.equal(run.code, 0, run.stdout);
        assert.match(run.stdout, /\rdata\.bin \[#+\] 100% +2\.0 MiB\/2\.0 MiB .*ETA 0:00/);
      },
    });
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp get resumes a cut download by default, and --no-resume starts over", async () => {
  const world = await makeWorld();
  const size = 96 * mib;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 0xff;
  await Deno.writeFile(join(world.root, "big.bin"), bytes);
  const server = await startServe(["--root", world.root, "--quiet"], {
    env: world.env(world.serverHome),
  });
  const env = world.env(world.aliceHome);
  const out = join(world.dir, "out");
  await Deno.mkdir(out);
  const partial = join(out, ".big.bin.get.ovtp-part");
  /** Starts a download and kills it once 4 MiB arrived; false if it finished first. */
  const cutDownload = async (): Promise<boolean> => {
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["get", "--accept-new", `${server.address}:big.bin`, out]),
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let ended = false;
    const status = child.status.finally(() => ended = true);
    await waitFor(async () =>
      ended || ((await Deno.stat(partial).catch(() => null))?.size ?? 0) >= 4 * mib
    );
    if (!ended) child.kill("SIGKILL");
    await status;
    if (!await exists(join(out, "big.bin"))) return true;
    // deno-lint-ignore no-console
    console.warn("the download finished before it could be cut; nothing to resume");
    return false;
  };
  try {
    if (!await cutDownload()) return;
    let run = await runCli(["get", `${server.address}:big.bin`, out], { env });
    assert.equal(run.code, 0, run.stderr);
    const resumed = /, resumed after (\d+(?:\.\d)?) MiB\n$/.exec(run.stdout);
    assert.ok(resumed !== null && Number(resumed[1]) >= 1, run.stdout);
    assert.deepEqual(await Deno.readFile(join(out, "big.bin")), bytes);
    assert.equal(await exists(partial), false);

    await Deno.remove(join(out, "big.bin"));
    if (!await cutDownload()) return;
    run = await runCli(["get", "--no-resume", "--json", `${server.address}:big.bin`, out], {
      env,
    });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.resumedBytes, 0, "--no-resume fetches everything");
    assert.equal(result.bytes, size);
    assert.deepEqual(await Deno.readFile(join(out, "big.bin")), bytes);
    assert.equal(await exists(partial), false);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
