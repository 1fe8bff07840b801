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

async function writeRandom(path: string, size: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  await Deno.writeFile(path, bytes);
  return bytes;
}

Deno.test("ovtp put uploads files and folders into the served root", async (t) => {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  const env = world.env(world.aliceHome);
  const local = join(world.dir, "data.bin");
  const bytes = await writeRandom(local, 3 * mib);
  try {
    await t.step("without a terminal it prints only the result line", async () => {
      const run = await runCli(["put", "--accept-new", local, `${server.address}:`], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /^\S+data\.bin -> 127\.0\.0\.1:\d+:data\.bin: 1 file, 3\.0 MiB in .*\/s\)\n$/,
      );
      assert.doesNotMatch(run.stdout, /\r|%/);
      assert.deepEqual(await Deno.readFile(join(world.root, "data.bin")), bytes);
    });

    await t.step("an existing file exits 5 unless --force", async () => {
      let run = await runCli(["put", local, `${server.address}:data.bin`], { env });
      assert.equal(run.code, 5, run.stderr);
      assert.equal(
        run.stderr,
        `ovtp: data.bin already exists on the server; pass --force to replace it\n`,
      );
      run = await runCli(["put", "--force", "--quiet", local, `${server.address}:data.bin`], {
        env,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "", "--quiet prints nothing");
    });

    await t.step("a path outside the root exits 5", async () => {
      for (const remote of ["../escape.bin", "/etc/escape.bin"]) {
        const run = await runCli(["put", local, `${server.address}:${remote}`], { env });
        assert.equal(run.code, 5, run.stderr);
        assert.match(run.stderr, /Outside the folder the server serves/);
      }
      assert.equal(await Deno.stat(join(world.dir, "escape.bin")).catch(() => null), null);
    });

    await t.step("a trailing slash keeps the local name; --json prints the result", async () => {
      await Deno.mkdir(join(world.root, "in"));
      const run = await runCli(["put", "--json", "-p", local, `${server.address}:in/`], { env });
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.files, 1);
      assert.equal(result.bytes, 3 * mib);
      assert.match(result.digest, /^[0-9a-f]{64}$/);
      const [source, copy] = await Promise.all([
        Deno.stat(local),
        Deno.stat(join(world.root, "in", "data.bin")),
      ]);
      assert.equal(copy.mtime?.getTime(), source.mtime?.getTime(), "-p keeps the time");
    });

    await t.step("-r uploads a folder; --sync skips what matches", async () => {
      const site = join(world.dir, "site");
      await Deno.mkdir(join(site, "css"), { recursive: true });
      await Deno.writeTextFile(join(site, "index.html"), "<h1>hi</h1>");
      await Deno.writeTextFile(join(site, "css", "a.css"), "h1 {}");
      let run = await runCli(["put", site, `${server.address}:www`], { env });
      assert.equal(run.code, 1, "a folder needs -r");
      assert.match(run.stderr, /pass -r/);
      run = await runCli(["put", "-r", site, `${server.address}:www`], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /: 2 files,/);
      assert.equal(await Deno.readTextFile(join(world.root, "www", "css", "a.css")), "h1 {}");
      // Into the root (an existing folder, as scp goes): root/site, then nothing more to move.
      run = await runCli(["put", "-r", "--sync", site, `${server.address}:`], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /: 2 files,/);
      run = await runCli(["put", "-r", "--sync", site, `${server.address}:`], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /: 0 files, 2 already up to date/);
    });

    await t.step("--resume uploads a new file whole", async () => {
      const run = await runCli(["put", "--resume", local, `${server.address}:resumed.bin`], {
        env,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(await Deno.readFile(join(world.root, "resumed.bin")), bytes);
    });

    await t.step("a missing local file exits 1; bad usage exits 2", async () => {
      let run = await runCli(["put", join(world.dir, "nope"), `${server.address}:x`], { env });
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^ovtp: .*nope: No such file or directory\n$/);
      for (
        const args of [["put", local], ["put", local, "no-server-here"], [
          "put",
          "-z",
          local,
          `${server.address}:`,
        ]]
      ) {
        run = await runCli(args, { env });
        assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      }
    });

    await t.step({
      name: "on a terminal it draws a progress bar",
      ignore: !hasScript,
      fn: async () => {
        const run = await runCliInTerminal(
          ["put", "--force", local, `${server.address}:tty.bin`],
          { env },
        );
        assert.equal(run.code, 0, run.stdout);
        assert.match(
          run.stdout,
          /\rdata\.bin \[#+\] 100% +3\.0 MiB\/3\.0 MiB +\S+ \S+\/s ETA 0:00/,
        );
        assert.match(run.stdout, /tty\.bin: 1 file, 3\.0 MiB in/);
        const quiet = await runCliInTerminal(
          ["put", "--force", "--quiet", local, `${server.address}:tty.bin`],
          { env },
        );
        assert.equal(quiet.code, 0, quiet.stdout);
        assert.equal(quiet.stdout, "", "--quiet draws nothing");
      },
    });
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp put resumes a cut upload by default, and --no-resume starts over", async () => {
  const world = await makeWorld();
  const size = 96 * mib;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) & 0xff;
  const local = join(world.dir, "big.bin");
  await Deno.writeFile(local, bytes);
  const server = await startServe(["--root", world.root, "--quiet"], {
    env: world.env(world.serverHome),
  });
  const env = world.env(world.aliceHome);
  const partialSize = async () => {
    for await (const entry of Deno.readDir(world.root)) {
      if (entry.name.startsWith(".") && entry.name.endsWith(".ovtp-part")) {
        return (await Deno.stat(join(world.root, entry.name))).size;
      }
    }
    return 0;
  };
  /** Starts an upload and kills it once 4 MiB arrived; false if it finished first. */
  const cutUpload = async (): Promise<boolean> => {
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["put", "--accept-new", local, `${server.address}:big.bin`]),
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let ended = false;
    const status = child.status.finally(() => ended = true);
    await waitFor(async () => ended || await partialSize() >= 4 * mib);
    if (!ended) child.kill("SIGKILL");
    await status;
    if (!await exists(join(world.root, "big.bin"))) return true;
    // deno-lint-ignore no-console
    console.warn("the upload finished before it could be cut; nothing to resume");
    return false;
  };
  try {
    if (!await cutUpload()) return;
    // Run again as it was, with no flag: it continues.
    let run = await runCli(["put", local, `${server.address}:big.bin`], { env });
    assert.equal(run.code, 0, run.stderr);
    const resumed = /, resumed after (\d+(?:\.\d)?) MiB\n$/.exec(run.stdout);
    assert.ok(resumed !== null && Number(resumed[1]) >= 1, run.stdout);
    assert.deepEqual(await Deno.readFile(join(world.root, "big.bin")), bytes);

    await Deno.remove(join(world.root, "big.bin"));
    if (!await cutUpload()) return;
    run = await runCli(["put", "--no-resume", "--json", local, `${server.address}:big.bin`], {
      env,
    });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.resumedBytes, 0, "--no-resume sends everything");
    assert.equal(result.bytes, size);
    assert.deepEqual(await Deno.readFile(join(world.root, "big.bin")), bytes);

    // --resume, the old way to ask for it, is still accepted.
    run = await runCli(["put", "--resume", "--force", local, `${server.address}:big.bin`], {
      env,
    });
    assert.equal(run.code, 0, run.stderr);
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
