/**
 * `put` and `get` shaped as scp is: several sources into a folder, `-` for standard input and
 * output, `get -r` into an existing folder; and their progress on standard error only when it
 * is a terminal. Real server, real files, `cli.ts` as a subprocess.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatDigest } from "../../files/chunk_tree.ts";
import { hashFile } from "../../files/hash_file.ts";
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

const kib = 1024;

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

/** A served world with the server key already recorded by alice. */
async function servedWorld() {
  const world = await makeWorld();
  const server = await startServe(["--root", world.root, "--quiet"], {
    env: world.env(world.serverHome),
  });
  const env = world.env(world.aliceHome);
  // Record the server's key once, so that each command below connects without --accept-new.
  const seed = join(world.dir, "seed.txt");
  await Deno.writeTextFile(seed, "seed");
  const run = await runCli(["put", "--accept-new", seed, `${server.address}:seed.txt`], { env });
  assert.equal(run.code, 0, run.stderr);
  return {
    world,
    server,
    env,
    async [Symbol.asyncDispose]() {
      await server.stop();
      await world.cleanup();
    },
  };
}

Deno.test("ovtp put uploads several files into a remote folder, as scp does", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  const a = join(world.dir, "a.txt");
  const b = join(world.dir, "b.txt");
  await Deno.writeTextFile(a, "alpha");
  await Deno.writeTextFile(b, "beta");
  await Deno.mkdir(join(world.root, "in"));

  let run = await runCli(["put", a, b, `${server.address}:in/`], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /a\.txt .*b\.txt -> 127\.0\.0\.1:\d+:in\/: 2 files, 9 B in/);
  assert.equal(await Deno.readTextFile(join(world.root, "in", "a.txt")), "alpha");
  assert.equal(await Deno.readTextFile(join(world.root, "in", "b.txt")), "beta");

  // An existing folder without the trailing slash receives one file under its own name too.
  run = await runCli(["put", "--force", a, `${server.address}:in`], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /-> 127\.0\.0\.1:\d+:in\/a\.txt: 1 file/);

  // Several sources need a folder.
  run = await runCli(["put", a, b, `${server.address}:in/a.txt`], { env });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /is not a folder on the server; several LOCALs go into a folder/);
});

Deno.test("ovtp get downloads several files into a local folder, as scp does", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  await Deno.writeTextFile(join(world.root, "a.txt"), "alpha");
  await Deno.writeTextFile(join(world.root, "b.txt"), "beta");
  const out = join(world.dir, "out");
  await Deno.mkdir(out);

  let run = await runCli(["get", `${server.address}:a.txt`, `${server.address}:b.txt`, out], {
    env,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /: 2 files, 9 B in/);
  assert.equal(await Deno.readTextFile(join(out, "a.txt")), "alpha");
  assert.equal(await Deno.readTextFile(join(out, "b.txt")), "beta");

  run = await runCli(
    ["get", `${server.address}:a.txt`, `${server.address}:b.txt`, join(out, "nope")],
    { env },
  );
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /nope is not a folder; several REMOTEs go into a folder/);
  run = await runCli(["get", `${server.address}:a.txt`, "elsewhere:b.txt", out], { env });
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /every REMOTE must be on the same server/);
});

Deno.test("ovtp get -r into an existing folder makes FOLDER/NAME, as scp -r does", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  await Deno.mkdir(join(world.root, "www", "css"), { recursive: true });
  await Deno.writeTextFile(join(world.root, "www", "index.html"), "<h1>hi</h1>");
  await Deno.writeTextFile(join(world.root, "www", "css", "a.css"), "h1 {}");
  const out = join(world.dir, "out");
  await Deno.mkdir(out);

  let run = await runCli(["get", "-r", `${server.address}:www`, out], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^127\.0\.0\.1:\d+:www -> \S+\/out\/www: 2 files,/);
  assert.equal(await Deno.readTextFile(join(out, "www", "css", "a.css")), "h1 {}");
  assert.equal(await exists(join(out, "css")), false, "not spread into the folder itself");

  // A LOCAL that does not exist becomes the copy.
  run = await runCli(["get", "-r", `${server.address}:www`, join(out, "site")], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await Deno.readTextFile(join(out, "site", "index.html")), "<h1>hi</h1>");

  // put -r is the mirror image: an existing remote folder receives the copy under its name.
  run = await runCli(["put", "-r", join(out, "site"), `${server.address}:www`], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await Deno.readTextFile(join(world.root, "www", "site", "css", "a.css")), "h1 {}");
});

Deno.test("ovtp put - uploads standard input, its digest checked by the server", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  const bytes = randomBytes(1536 * kib); // two chunks
  const tmp = join(world.dir, "tmp");
  await Deno.mkdir(tmp);
  const run = await runCli(["put", "--json", "-", `${server.address}:stdin.bin`], {
    env: { ...env, TMPDIR: tmp },
    stdin: bytes,
  });
  assert.deepEqual([...Deno.readDirSync(tmp)], [], "the spooled copy is removed");
  assert.equal(run.code, 0, run.stderr);
  const copy = join(world.root, "stdin.bin");
  assert.deepEqual(await Deno.readFile(copy), bytes);
  const result = JSON.parse(run.stdout);
  assert.equal(result.bytes, bytes.length);
  assert.equal(result.digest, formatDigest((await hashFile(copy)).root), "the server's digest");
  assert.equal((await Deno.stat(copy)).mode! & 0o777, 0o600, "private, as the spool was");

  for (
    const [args, problem] of [
      [["put", "-", `${server.address}:`], /put - needs the file's name/],
      [["put", "-", join(world.dir, "x"), `${server.address}:in/`], /must be the only LOCAL/],
    ] as const
  ) {
    const refused = await runCli([...args], { env, stdin: "x" });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, problem);
  }
});

Deno.test({
  name: "ovtp put - removes its temporary copy when Ctrl-C stops it",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using served = await servedWorld();
    const { world, server, env } = served;
    const tmp = join(world.dir, "tmp");
    await Deno.mkdir(tmp);
    const child = new Deno.Command(Deno.execPath(), {
      args: cliArgs(["put", "-", `${server.address}:never.bin`]),
      env: { NO_COLOR: "1", ...env, TMPDIR: tmp },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const writer = child.stdin.getWriter();
    try {
      await writer.write(randomBytes(64 * kib)); // and standard input stays open
      await waitFor(() => [...Deno.readDirSync(tmp)].length > 0);
      child.kill("SIGINT");
      assert.equal((await child.status).code, 130);
      assert.deepEqual([...Deno.readDirSync(tmp)], [], "the spooled copy is removed");
      assert.equal(await exists(join(world.root, "never.bin")), false);
    } finally {
      await writer.close().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // It ended.
      }
      await child.status;
    }
  },
});

Deno.test("ovtp get HOST:PATH - writes the verified content to standard output", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  const bytes = randomBytes(2048 * kib + 7);
  await Deno.writeFile(join(world.root, "data.bin"), bytes);

  const tmp = join(world.dir, "tmp");
  await Deno.mkdir(tmp);
  const child = new Deno.Command(Deno.execPath(), {
    args: cliArgs(["get", `${server.address}:data.bin`, "-"]),
    env: { NO_COLOR: "1", ...env, TMPDIR: tmp },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await child.output();
  const errors = new TextDecoder().decode(stderr);
  assert.equal(code, 0, errors);
  assert.deepEqual(stdout, bytes);
  // The result line goes to standard error; no progress in a pipe.
  assert.match(errors, /^127\.0\.0\.1:\d+:data\.bin -> -: 1 file, 2\.0 MiB in [^\r%]*\n$/);
  assert.equal(await exists(join(world.dir, "-")), false, "no local file named -");
  assert.deepEqual([...Deno.readDirSync(tmp)], [], "the temporary copy is removed");
});

Deno.test("ovtp get HOST:PATH - ends quietly when its reader closes the pipe", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  await Deno.writeFile(join(world.root, "data.bin"), randomBytes(4096 * kib));
  const command = [Deno.execPath(), ...cliArgs(["get", `${server.address}:data.bin`, "-"])]
    .map(shellQuote).join(" ");
  const { stdout, stderr } = await new Deno.Command("bash", {
    args: ["-c", `${command} | head -c 10 | wc -c; echo "exit \${PIPESTATUS[0]}"`],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [count, status] = new TextDecoder().decode(stdout).trim().split("\n");
  const errors = new TextDecoder().decode(stderr);
  assert.equal(count.trim(), "10");
  assert.equal(status, "exit 0", errors);
  assert.doesNotMatch(errors, /error|at .*\.ts:\d+/i);
});

Deno.test({
  name: "ovtp put -r and get -r on a terminal name the files and end at 100%",
  ignore: !hasScript,
  fn: async () => {
    await using served = await servedWorld();
    const { world, server, env } = served;
    const site = join(world.dir, "site");
    await Deno.mkdir(site);
    await Deno.writeFile(join(site, "big.bin"), randomBytes(3000 * kib));
    for (let i = 0; i < 40; i++) {
      await Deno.writeFile(join(site, `small${i}.txt`), randomBytes(1 + i * 997));
    }
    for (
      const args of [
        ["put", "-r", site, `${server.address}:www`],
        ["get", "-r", `${server.address}:www`, join(world.dir, "copy")],
      ]
    ) {
      const run = await runCliInTerminal(args, { env });
      assert.equal(run.code, 0, run.stdout);
      const frames = run.stdout.split("\r").map((frame) => frame.replace("\x1b[K", ""));
      const last = frames.findLast((frame) => frame.includes("%"))!;
      assert.match(last, / 100% .* 41\/41 files .*ETA 0:00/, JSON.stringify(frames.slice(-3)));
      assert.ok(
        frames.some((frame) => /^small\d+\.txt /.test(frame)),
        `a small file is named: ${JSON.stringify(frames)}`,
      );
    }
  },
});

Deno.test({
  name: "ovtp get HOST:PATH - | cmd draws its progress on standard error when it is a terminal",
  ignore: !hasScript,
  fn: async () => {
    await using served = await servedWorld();
    const { world, server, env } = served;
    await Deno.writeFile(join(world.root, "data.bin"), randomBytes(3000 * kib));
    const command = [Deno.execPath(), ...cliArgs(["get", `${server.address}:data.bin`, "-"])]
      .map(shellQuote).join(" ");
    const { code, stdout } = await new Deno.Command("script", {
      args: ["-qec", `${command} | wc -c`, "/dev/null"],
      env: { NO_COLOR: "1", TERM: "xterm", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const screen = new TextDecoder().decode(stdout);
    assert.equal(code, 0, screen);
    assert.match(
      screen,
      /\rdata\.bin .*100% +2\.9 MiB\/2\.9 MiB .*ETA 0:00/,
      JSON.stringify(screen),
    );
    assert.match(screen, /^3072000\r?$/m, "the content went through the pipe whole");
  },
});

Deno.test("ovtp put and get draw no progress when standard error is a pipe", async () => {
  await using served = await servedWorld();
  const { world, server, env } = served;
  const local = join(world.dir, "data.bin");
  await Deno.writeFile(local, randomBytes(3000 * kib));
  for (
    const args of [
      ["put", local, `${server.address}:data.bin`],
      ["get", `${server.address}:data.bin`, join(world.dir, "back.bin")],
    ]
  ) {
    const run = await runCli(args, { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "");
    assert.doesNotMatch(run.stdout, /\r|%/);
  }
});
