/**
 * `ovtp ls`, `stat`, `mkdir`, `mv` and `rm` as subprocesses against a real `ovtp serve`, on real
 * files: what each flag does, and that refusals read like scp/sftp (`x: No such file or
 * directory`), with no stream numbers and no server paths.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliRun, exists, makeWorld, runCli, startServe } from "./_cli.ts";

/** Checks a refusal: exit 5 and exactly `line` on standard error, naming no server path. */
function assertRefused(run: CliRun, line: string, root: string): void {
  assert.equal(run.code, 5, run.stderr);
  assert.equal(run.stderr, `ovtp: ${line}\n`);
  assert.doesNotMatch(run.stderr, /stream \d/);
  assert.ok(!run.stderr.includes(root), run.stderr);
}

Deno.test("ovtp ls, stat, mkdir, mv and rm work on the served folder", async (t) => {
  const world = await makeWorld();
  const { root } = world;
  const outside = join(world.dir, "outside");
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "keep.txt"), "keep");
  await Deno.writeTextFile(join(root, "data.txt"), "hello");
  await Deno.chmod(join(root, "data.txt"), 0o640);
  await Deno.writeTextFile(join(root, ".hidden"), "h");
  await Deno.mkdir(join(root, "www", "css"), { recursive: true });
  await Deno.writeTextFile(join(root, "www", "index.html"), "<h1>hi</h1>");
  await Deno.writeTextFile(join(root, "www", "css", "a.css"), "h1 {}");
  await Deno.symlink("data.txt", join(root, "link"));
  await Deno.symlink(outside, join(root, "out"));
  await Deno.writeTextFile(join(root, "evil\x1b[2J.txt"), "e");
  const server = await startServe(["--root", root], { env: world.env(world.serverHome) });
  const env = world.env(world.aliceHome);
  const host = server.address;
  const cli = (...args: string[]) => runCli(args, { env });
  try {
    await t.step("ls HOST: lists the served folder, one level, sorted, no dot files", async () => {
      const run = await runCli(["ls", "--accept-new", `${host}:`], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "data.txt\nevil\\x1b[2J.txt\nlink\nout\nwww\n");
      assert.equal((await cli("ls", `${host}:.`)).stdout, run.stdout);
    });

    await t.step("ls -a shows dot files", async () => {
      const run = await cli("ls", "-a", `${host}:`);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^\.hidden\ndata\.txt\n/);
    });

    await t.step("ls -l prints mode, size, time and name; links with their target", async () => {
      const run = await cli("ls", "-l", `${host}:`);
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trimEnd().split("\n");
      assert.match(lines[0], /^-rw-r----- +5 [A-Z][a-z]{2} [ \d]\d [ \d]\d:\d\d data\.txt$/);
      assert.match(lines[2], /^l[rwx-]{9} +\d+ .* link -> data\.txt$/);
      assert.match(lines[4], /^drwx.* www$/);
    });

    await t.step("ls -R lists every level in sections", async () => {
      const run = await cli("ls", "-R", `${host}:www`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, ".:\ncss\nindex.html\n\n./css:\na.css\n");
    });

    await t.step("ls --json prints one object per line", async () => {
      const run = await cli("ls", "--json", `${host}:www`);
      assert.equal(run.code, 0, run.stderr);
      const entries = run.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(entries.map((entry) => [entry.path, entry.type]), [
        ["css", "directory"],
        ["index.html", "file"],
      ]);
      assert.equal(entries[1].size, 11);
      assert.match(entries[1].mtime, /^\d{4}-\d\d-\d\dT/);
    });

    await t.step("ls of a file lists the file; a missing path reads like ls", async () => {
      let run = await cli("ls", `${host}:www/index.html`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "www/index.html\n");
      run = await cli("ls", `${host}:nope`);
      assertRefused(run, "nope: No such file or directory", root);
    });

    await t.step("stat prints type, size, mode and time; --json; HOST: is the root", async () => {
      let run = await cli("stat", `${host}:data.txt`);
      assert.equal(run.code, 0, run.stderr);
      assert.match(
        run.stdout,
        /^ {4}File: data\.txt\n {4}Type: regular file\n {4}Size: 5\n {2}Access: \(0640\/-rw-r-----\)\n {2}Modify: \d{4}-/,
      );
      run = await cli("stat", "--json", `${host}:`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout).type, "directory");
      assertRefused(await cli("stat", `${host}:x.csv`), "x.csv: No such file or directory", root);
    });

    await t.step("mkdir needs -p for missing parents and refuses an existing path", async () => {
      assertRefused(await cli("mkdir", `${host}:a/b`), "a/b: No such file or directory", root);
      let run = await cli("mkdir", "-p", `${host}:a/b`, `${host}:c`);
      assert.equal(run.code, 0, run.stderr);
      assert.ok((await Deno.stat(join(root, "a", "b"))).isDirectory);
      assert.ok((await Deno.stat(join(root, "c"))).isDirectory);
      assertRefused(await cli("mkdir", `${host}:c`), "c: File exists", root);
      run = await cli("mkdir", "-p", `${host}:c`);
      assert.equal(run.code, 0, run.stderr);
    });

    await t.step("mv renames, moves into a folder, and replaces only with -f", async () => {
      await Deno.writeTextFile(join(root, "x.txt"), "x");
      let run = await cli("mv", `${host}:x.txt`, "y.txt");
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(join(root, "y.txt")), "x");
      run = await cli("mv", `${host}:y.txt`, `${host}:c`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(join(root, "c", "y.txt")), "x");
      assertRefused(
        await cli("mv", `${host}:c/y.txt`, "data.txt"),
        "data.txt already exists on the server; pass -f to replace it",
        root,
      );
      run = await cli("mv", "-f", `${host}:c/y.txt`, "data.txt");
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(join(root, "data.txt")), "x");
      assertRefused(
        await cli("mv", `${host}:data.txt`, "out/data.txt"),
        "out/data.txt: Outside the folder the server serves; name a path inside it",
        root,
      );
      run = await cli("mv", `${host}:data.txt`, "other.example:data.txt");
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /on another server/);
    });

    await t.step("rm removes files and links, folders with -r, missing ones with -f", async () => {
      assertRefused(await cli("rm", `${host}:nope`), "nope: No such file or directory", root);
      let run = await cli("rm", "-f", `${host}:nope`);
      assert.equal(run.code, 0, run.stderr);
      assertRefused(await cli("rm", `${host}:www`), "www: Directory not empty", root);
      run = await cli("rm", `${host}:link`, `${host}:data.txt`);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!(await exists(join(root, "link"))) && !(await exists(join(root, "data.txt"))));
      run = await cli("rm", "-r", `${host}:www`, `${host}:a`);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!(await exists(join(root, "www"))) && !(await exists(join(root, "a"))));
    });

    await t.step("rm never leaves the served folder, nor removes it", async () => {
      assertRefused(
        await cli("rm", `${host}:out/keep.txt`),
        "out/keep.txt: Outside the folder the server serves; name a path inside it",
        root,
      );
      let run = await cli("rm", "-r", `${host}:`);
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /^ovtp: \.: It names the served folder itself/);
      // The link to outside goes; what it points to stays.
      run = await cli("rm", "-r", `${host}:out`);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(join(outside, "keep.txt")), "keep");
      assert.ok(await exists(root));
    });
  } finally {
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp rm and mv are refused to a read-only key", async () => {
  const world = await makeWorld();
  const authorized = join(world.serverHome, "authorized_keys");
  await Deno.writeTextFile(authorized, `read-only ${await Deno.readTextFile(authorized)}`);
  await Deno.writeTextFile(join(world.root, "a.txt"), "a");
  const server = await startServe(["--root", world.root], { env: world.env(world.serverHome) });
  const env = world.env(world.aliceHome);
  try {
    let run = await runCli(["ls", "--accept-new", `${server.address}:`], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "a.txt\n");
    run = await runCli(["rm", `${server.address}:a.txt`], { env });
    assertRefused(run, "a.txt: Permission denied (the server lets this key only read)", world.root);
    run = await runCli(["mv", `${server.address}:a.txt`, "b.txt"], { env });
    assertRefused(run, "a.txt: Permission denied (the server lets this key only read)", world.root);
    run = await runCli(["mkdir", `${server.address}:d`], { env });
    assertRefused(run, "d: Permission denied (the server lets this key only read)", world.root);
    assert.equal(await Deno.readTextFile(join(world.root, "a.txt")), "a");
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
