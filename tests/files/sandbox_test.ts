import assert from "node:assert/strict";
import { join } from "node:path";
import { fileCalls } from "../../files/file_calls.ts";
import { Sandbox } from "../../files/sandbox.ts";
import { FileError, type FileErrorReason } from "../../errors.ts";

/** A served root and a folder outside it, both removed afterwards. */
interface Dirs {
  root: string;
  outside: string;
  sandbox: Sandbox;
}

/**
 * Runs `body` twice, in fresh folders each time: with a sandbox whose calls are threaded (the
 * default) and with one whose calls are inline (a server's default), which must refuse the same.
 */
async function withDirs(body: (dirs: Dirs) => Promise<void> | void): Promise<void> {
  for (const mode of ["threaded", "inline"] as const) {
    const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "ovtp-sandbox-" }));
    try {
      const root = join(base, "root");
      const outside = join(base, "outside");
      await Deno.mkdir(root);
      await Deno.mkdir(outside);
      await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
      await body({ root, outside, sandbox: await Sandbox.open(root, { calls: fileCalls(mode) }) });
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  }
}

function isFileError(reason: FileErrorReason): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof FileError, `expected a FileError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  };
}

async function commandExists(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

Deno.test("Sandbox.open() stores the real path and refuses a file or a missing folder", async () => {
  await withDirs(async ({ root, outside }) => {
    await Deno.symlink(root, `${root}-link`);
    try {
      assert.equal((await Sandbox.open(`${root}-link`)).root, root);
    } finally {
      await Deno.remove(`${root}-link`);
    }
    await assert.rejects(
      Sandbox.open(join(outside, "secret.txt")),
      isFileError("unsupported_type"),
    );
    await assert.rejects(Sandbox.open(join(outside, "missing")), isFileError("not_found"));
    await assert.rejects(Sandbox.open(""), isFileError("bad_path"));
  });
});

Deno.test("Sandbox.resolveForRead() resolves relative paths, . and repeated slashes", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "a"));
    await Deno.writeTextFile(join(root, "a", "b.txt"), "hi");
    for (const path of ["a/b.txt", "./a//b.txt", "a/./b.txt", "a/b.txt/"]) {
      const resolved = await sandbox.resolveForRead(path);
      assert.equal(resolved.path, join(root, "a", "b.txt"), path);
      assert.equal(resolved.info.size, 2);
    }
  });
});

Deno.test("Sandbox.resolveForRead() refuses .. components", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "a"));
    await Deno.writeTextFile(join(root, "x"), "inside");
    for (const path of ["..", "../outside/secret.txt", "a/../../x", "a/../x", "a/..", "/.."]) {
      await assert.rejects(sandbox.resolveForRead(path), isFileError("outside_root"), path);
    }
  });
});

Deno.test("Sandbox.resolveForRead() refuses malformed paths", async () => {
  await withDirs(async ({ sandbox }) => {
    for (
      const path of ["", "a\0b", "x".repeat(256), `${"a/".repeat(2048)}b`, "é".repeat(128)]
    ) {
      await assert.rejects(sandbox.resolveForRead(path), isFileError("bad_path"));
    }
    await assert.rejects(
      sandbox.resolveForRead(undefined as unknown as string),
      isFileError("bad_path"),
    );
  });
});

Deno.test("Sandbox.resolveForRead() accepts an absolute path inside and refuses one outside", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    await Deno.writeTextFile(join(root, "in.txt"), "in");
    assert.equal((await sandbox.resolveForRead(join(root, "in.txt"))).path, join(root, "in.txt"));
    assert.equal(
      (await sandbox.resolveForRead(`${root}//./in.txt`)).path,
      join(root, "in.txt"),
    );
    await assert.rejects(
      sandbox.resolveForRead(join(outside, "secret.txt")),
      isFileError("outside_root"),
    );
    await assert.rejects(sandbox.resolveForRead("/etc/passwd"), isFileError("outside_root"));
    // A sibling whose name starts with the root's name is not inside it.
    await Deno.mkdir(`${root}2`);
    await Deno.writeTextFile(join(`${root}2`, "x"), "x");
    await assert.rejects(
      sandbox.resolveForRead(join(`${root}2`, "x")),
      isFileError("outside_root"),
    );
  });
});

Deno.test("Sandbox.resolveForRead() refuses symlinks to outside, file and folder", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    await Deno.symlink(join(outside, "secret.txt"), join(root, "file-link"));
    await Deno.symlink(outside, join(root, "dir-link"));
    await Deno.symlink("../outside/secret.txt", join(root, "relative-link"));
    for (const path of ["file-link", "dir-link/secret.txt", "relative-link"]) {
      await assert.rejects(sandbox.resolveForRead(path), isFileError("outside_root"), path);
    }
    await assert.rejects(
      sandbox.resolveForRead("dir-link", { allowDirectory: true }),
      isFileError("outside_root"),
    );
  });
});

Deno.test("Sandbox.resolveForRead() follows symlinks that stay inside", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "real"));
    await Deno.writeTextFile(join(root, "real", "f.txt"), "f");
    await Deno.symlink("real", join(root, "dir-link"));
    await Deno.symlink("real/f.txt", join(root, "file-link"));
    assert.equal(
      (await sandbox.resolveForRead("dir-link/f.txt")).path,
      join(root, "real", "f.txt"),
    );
    assert.equal((await sandbox.resolveForRead("file-link")).path, join(root, "real", "f.txt"));
    const listed = await sandbox.resolveForRead("dir-link", { allowDirectory: true });
    assert.equal(listed.path, join(root, "real"));
    assert.ok(listed.info.isDirectory);
  });
});

Deno.test("Sandbox.resolveForRead() refuses a dangling symlink", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.symlink("nowhere", join(root, "dangling"));
    await Deno.symlink("loop-b", join(root, "loop-a"));
    await Deno.symlink("loop-a", join(root, "loop-b"));
    await assert.rejects(sandbox.resolveForRead("dangling"), isFileError("outside_root"));
    await assert.rejects(sandbox.resolveForRead("dangling/x"), isFileError("outside_root"));
    await assert.rejects(sandbox.resolveForRead("loop-a"), isFileError("outside_root"));
  });
});

Deno.test("Sandbox.resolveForRead() reports a missing file and a file used as a folder", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.writeTextFile(join(root, "f"), "f");
    await assert.rejects(sandbox.resolveForRead("missing.txt"), isFileError("not_found"));
    await assert.rejects(sandbox.resolveForRead("missing/x.txt"), isFileError("not_found"));
    await assert.rejects(sandbox.resolveForRead("f/x.txt"), isFileError("not_found"));
  });
});

Deno.test("Sandbox.resolveForRead() refuses a folder unless allowed, and the root only when allowed", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "d"));
    await assert.rejects(sandbox.resolveForRead("d"), isFileError("unsupported_type"));
    assert.ok((await sandbox.resolveForRead("d", { allowDirectory: true })).info.isDirectory);
    await assert.rejects(sandbox.resolveForRead("."), isFileError("unsupported_type"));
    await assert.rejects(sandbox.resolveForRead(root), isFileError("unsupported_type"));
    // An absolute "/" is the system's root, not the served one.
    await assert.rejects(sandbox.resolveForRead("/"), isFileError("outside_root"));
    assert.equal((await sandbox.resolveForRead(root, { allowDirectory: true })).path, root);
  });
});

Deno.test("Sandbox.resolveForRead() refuses a FIFO", async () => {
  if (!(await commandExists("mkfifo"))) {
    // deno-lint-ignore no-console
    console.warn("mkfifo is missing: skipping the FIFO check");
    return;
  }
  await withDirs(async ({ root, sandbox }) => {
    const { success } = await new Deno.Command("mkfifo", { args: [join(root, "fifo")] }).output();
    assert.ok(success);
    await assert.rejects(sandbox.resolveForRead("fifo"), isFileError("unsupported_type"));
    await assert.rejects(sandbox.resolveForWrite("fifo"), isFileError("unsupported_type"));
  });
});

Deno.test("Sandbox.resolveForRead() refuses /dev/null through a symlink, and devices in /dev", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.symlink("/dev/null", join(root, "null"));
    await assert.rejects(sandbox.resolveForRead("null"), isFileError("outside_root"));
  });
  let dev: Sandbox;
  try {
    dev = await Sandbox.open("/dev");
    await Deno.lstat("/dev/null");
  } catch {
    return; // No readable /dev here (not Unix).
  }
  await assert.rejects(dev.resolveForRead("null"), isFileError("unsupported_type"));
  await assert.rejects(dev.resolveForRead("/dev/zero"), isFileError("unsupported_type"));
  await assert.rejects(dev.resolveForWrite("null"), isFileError("unsupported_type"));
});

Deno.test("Sandbox.resolveForWrite() returns the parent, the name and the existing file", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "in"));
    await Deno.writeTextFile(join(root, "in", "old.txt"), "old");
    const fresh = await sandbox.resolveForWrite("in/new.txt");
    assert.deepEqual(
      { dir: fresh.dir, name: fresh.name, path: fresh.path, existing: fresh.existing },
      { dir: join(root, "in"), name: "new.txt", path: join(root, "in", "new.txt"), existing: null },
    );
    const old = await sandbox.resolveForWrite(join(root, "in", "old.txt"));
    assert.equal(old.existing?.size, 3);
    assert.equal((await sandbox.resolveForWrite("top.txt")).dir, root);
  });
});

Deno.test("Sandbox.resolveForWrite() refuses .. components", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "a"));
    for (const path of ["../x", "a/../../x", "a/../x", "a/.."]) {
      await assert.rejects(
        sandbox.resolveForWrite(path, { createParents: true }),
        isFileError("outside_root"),
        path,
      );
    }
  });
});

Deno.test("Sandbox.resolveForWrite() refuses a destination that is a folder or a symlink", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    await Deno.mkdir(join(root, "d"));
    await Deno.writeTextFile(join(root, "f"), "f");
    await Deno.symlink("f", join(root, "inside-link"));
    await Deno.symlink(join(outside, "secret.txt"), join(root, "outside-link"));
    await Deno.symlink("nowhere", join(root, "dangling"));
    for (const path of ["d", "inside-link", "outside-link", "dangling"]) {
      await assert.rejects(sandbox.resolveForWrite(path), isFileError("unsupported_type"), path);
    }
  });
});

Deno.test("Sandbox.resolveForWrite() refuses the root itself", async () => {
  await withDirs(async ({ root, sandbox }) => {
    for (const path of [".", "./", ".//.", root, `${root}/.`]) {
      await assert.rejects(sandbox.resolveForWrite(path), isFileError("unsupported_type"), path);
    }
  });
});

Deno.test("Sandbox.resolveForWrite() reports a missing parent unless createParents", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await assert.rejects(sandbox.resolveForWrite("a/b/c.txt"), isFileError("not_found"));
    const resolved = await sandbox.resolveForWrite("a/b/c.txt", { createParents: true });
    assert.equal(resolved.dir, join(root, "a", "b"));
    const info = await Deno.stat(join(root, "a", "b"));
    assert.ok(info.isDirectory);
    if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777 & ~0o755, 0);
    // Nothing but the folders was created.
    assert.deepEqual([...Deno.readDirSync(join(root, "a", "b"))], []);
  });
});

Deno.test("Sandbox.resolveForWrite() with createParents refuses a symlink to outside on the way", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    await Deno.symlink(outside, join(root, "escape"));
    await assert.rejects(
      sandbox.resolveForWrite("escape/new/x.txt", { createParents: true }),
      isFileError("outside_root"),
    );
    await assert.rejects(
      sandbox.resolveForWrite("escape/x.txt", { createParents: true }),
      isFileError("outside_root"),
    );
    assert.deepEqual([...Deno.readDirSync(outside)].map((entry) => entry.name), ["secret.txt"]);
    await Deno.symlink("nowhere", join(root, "dangling"));
    await assert.rejects(
      sandbox.resolveForWrite("dangling/x.txt", { createParents: true }),
      isFileError("outside_root"),
    );
    await assert.rejects(Deno.lstat(join(root, "nowhere")), Deno.errors.NotFound);
  });
});

Deno.test("Sandbox.resolveForWrite() follows a symlinked folder that stays inside", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "real"));
    await Deno.symlink("real", join(root, "alias"));
    const resolved = await sandbox.resolveForWrite("alias/sub/x.txt", { createParents: true });
    assert.equal(resolved.dir, join(root, "real", "sub"));
  });
});

Deno.test("Sandbox.recheckDirectory() detects a folder swapped for a symlink", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    const resolved = await sandbox.resolveForWrite("in/x.txt", { createParents: true });
    await sandbox.recheckDirectory(resolved.dir);
    await Deno.rename(join(root, "in"), join(root, "moved"));
    await Deno.symlink(outside, join(root, "in"));
    await assert.rejects(sandbox.recheckDirectory(resolved.dir), isFileError("outside_root"));
  });
});

Deno.test("Sandbox.recheckDirectory() shared by concurrent commits still refuses a folder swapped after a check began", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    const resolved = await sandbox.resolveForWrite("in/x.txt", { createParents: true });
    // Many commits at once share checks, and all pass while the folder is itself.
    await Promise.all(Array.from({ length: 32 }, () => sandbox.recheckDirectory(resolved.dir)));
    for (let round = 0; round < 20; round++) {
      // A check is running (or about to) when the folder is swapped for a symlink; a commit
      // asking afterwards must get a check that starts after its call, never the running one.
      const earlier = sandbox.recheckDirectory(resolved.dir).catch(() => {});
      Deno.renameSync(join(root, "in"), join(root, "moved"));
      Deno.symlinkSync(outside, join(root, "in"));
      const later = Array.from({ length: 4 }, () => sandbox.recheckDirectory(resolved.dir));
      for (const check of later) await assert.rejects(check, isFileError("outside_root"));
      await earlier;
      Deno.removeSync(join(root, "in"));
      Deno.renameSync(join(root, "moved"), join(root, "in"));
      await sandbox.recheckDirectory(resolved.dir);
    }
  });
});

Deno.test("Sandbox.recheckDirectory() reports a folder that is gone", async () => {
  await withDirs(async ({ root, sandbox }) => {
    const resolved = await sandbox.resolveForWrite("in/x.txt", { createParents: true });
    await Deno.remove(join(root, "in"));
    await assert.rejects(sandbox.recheckDirectory(resolved.dir), isFileError("not_found"));
  });
});

Deno.test("Sandbox.recheckDirectory() refuses a folder outside the root", async () => {
  await withDirs(async ({ outside, sandbox }) => {
    await assert.rejects(sandbox.recheckDirectory(outside), isFileError("outside_root"));
  });
});

Deno.test("Sandbox.narrow() opens a sub-folder and refuses one outside", async () => {
  await withDirs(async ({ root, outside, sandbox }) => {
    await Deno.mkdir(join(root, "alice"));
    await Deno.writeTextFile(join(root, "alice", "a.txt"), "a");
    await Deno.writeTextFile(join(root, "top.txt"), "top");
    const alice = await sandbox.narrow("alice");
    assert.equal(alice.root, join(root, "alice"));
    assert.equal((await sandbox.narrow(join(root, "alice"))).root, join(root, "alice"));
    assert.equal((await alice.resolveForRead("a.txt")).path, join(root, "alice", "a.txt"));
    await assert.rejects(alice.resolveForRead("../top.txt"), isFileError("outside_root"));
    await assert.rejects(alice.resolveForRead(join(root, "top.txt")), isFileError("outside_root"));
    await assert.rejects(sandbox.narrow(outside), isFileError("outside_root"));
    await assert.rejects(sandbox.narrow(".."), isFileError("outside_root"));
    await Deno.symlink(outside, join(root, "escape"));
    await assert.rejects(sandbox.narrow("escape"), isFileError("outside_root"));
    await assert.rejects(sandbox.narrow("top.txt"), isFileError("unsupported_type"));
  });
});

Deno.test("Sandbox.relative() gives paths below the root with / separators", async () => {
  await withDirs(({ root, outside, sandbox }) => {
    assert.equal(sandbox.relative(root), "");
    assert.equal(sandbox.relative(join(root, "a", "b")), "a/b");
    assert.throws(() => sandbox.relative(outside), isFileError("outside_root"));
    assert.throws(() => sandbox.relative(`${root}2`), isFileError("outside_root"));
  });
});

Deno.test("Sandbox errors name the path as given and say what to do", async () => {
  await withDirs(async ({ sandbox }) => {
    const error = await sandbox.resolveForRead("a/../../etc").catch((error) => error);
    assert.ok(error instanceof FileError);
    assert.equal(error.path, "a/../../etc");
    assert.match(error.message, /"a\/\.\.\/\.\.\/etc"/);
    assert.match(error.message, /give a path inside/);
  });
});

Deno.test("Sandbox.checkLinkTarget() resolves targets through the links on the way", async () => {
  await withDirs(async ({ root, sandbox }) => {
    await Deno.mkdir(join(root, "sub", "deep"), { recursive: true });
    await Deno.symlink("..", join(root, "sub", "d")); // sub/d is the root: inside
    await Deno.symlink("deep", join(root, "sub", "down"));
    await Deno.symlink("loop", join(root, "loop"));
    // Inside: through links that stay inside, and a target that does not exist yet.
    for (const target of ["sub/d/sub", "sub/down/..", "sub/deep/../down", "missing", "sub/x/y"]) {
      await sandbox.checkLinkTarget(sandbox.root, target, "x");
    }
    await sandbox.checkLinkTarget(join(sandbox.root, "sub"), "d/sub", "sub/x");
    // Outside: the text looks inside, the real path does not.
    for (
      const [dir, target] of [
        [sandbox.root, "sub/d/.."],
        [sandbox.root, "sub/d/sub/d/.."],
        [join(sandbox.root, "sub"), "d/.."],
        [join(sandbox.root, "sub", "deep"), "../d/../.."],
        [sandbox.root, ".."],
        [sandbox.root, "missing/../.."],
        [sandbox.root, "missing/.."], // missing could later become a link
        [sandbox.root, "loop"],
        [sandbox.root, "/etc/passwd"],
      ]
    ) {
      await assert.rejects(
        sandbox.checkLinkTarget(dir, target, "x"),
        isFileError("outside_root"),
        target,
      );
    }
    await assert.rejects(sandbox.checkLinkTarget(sandbox.root, "", "x"), isFileError("bad_path"));
    await assert.rejects(
      sandbox.checkLinkTarget(sandbox.root, "sub/.0123.ovtp-part", "x"),
      isFileError("bad_path"),
    );
  });
});

Deno.test("Sandbox refuses names reserved for partial files, directly and through links", async () => {
  await withDirs(async ({ root, sandbox }) => {
    const partial = ".0123456789abcdef0123456789abcdef.ovtp-part";
    await Deno.writeTextFile(join(root, partial), "someone's upload");
    await Deno.symlink(partial, join(root, "alias"));
    for (const path of [partial, `${partial}.json`, "x.ovtp-part", `sub/${partial}/a`]) {
      await assert.rejects(sandbox.resolveForRead(path), isFileError("bad_path"), path);
      await assert.rejects(
        sandbox.resolveForWrite(path, { createParents: true }),
        isFileError("bad_path"),
        path,
      );
    }
    await assert.rejects(sandbox.resolveForRead("alias"), isFileError("bad_path"));
    // Nothing was created on the way.
    await assert.rejects(Deno.lstat(join(root, "sub")), Deno.errors.NotFound);
  });
});
