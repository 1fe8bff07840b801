import assert from "node:assert/strict";
import { join } from "node:path";
import { AtomicFileWriter } from "../../files/atomic_writer.ts";
import { fileCalls } from "../../files/file_calls.ts";
import { FileError, type FileErrorReason } from "../../errors.ts";

const encoder = new TextEncoder();

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ovtp-atomic-writer-" });
  try {
    await body(dir);
  } finally {
    await Deno.chmod(dir, 0o755).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

function isFileError(...reasons: FileErrorReason[]): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof FileError, `expected a FileError, got ${error}`);
    assert.ok(reasons.includes(error.reason), `${error.reason}: ${error.message}`);
    return true;
  };
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}

function pattern(length: number, seed = 0): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) % 256;
  return bytes;
}

Deno.test("AtomicFileWriter writes many pieces, then commit() moves exactly those bytes", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.bin.part");
    const destination = join(dir, "a.bin");
    const bytes = pattern(3 * 1048576 + 12345);
    const writer = await AtomicFileWriter.open({ partialPath });
    try {
      // Small pieces, pieces that straddle the buffer, and one larger than the buffer.
      const sizes = [1, 100, 65536, 1048576 + 7, 2 * 1048576, 5000];
      let offset = 0;
      for (let i = 0; offset < bytes.length; i++) {
        const size = sizes[i % sizes.length];
        await writer.write(bytes.subarray(offset, offset + size));
        offset += size;
      }
      assert.equal(writer.bytesWritten, bytes.length);
      assert.deepEqual(names(dir), [".a.bin.part"]);
      await writer.commit(destination, { overwrite: false });
    } finally {
      await writer.abort();
    }
    assert.deepEqual(await Deno.readFile(destination), bytes);
    assert.deepEqual(names(dir), ["a.bin"]);
  });
});

Deno.test("AtomicFileWriter takes writes in call order without awaiting each", async () => {
  await withTempDir(async (dir) => {
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".p"), bufferBytes: 10 });
    const pending = [];
    for (let i = 0; i < 50; i++) pending.push(writer.write(encoder.encode(`${i},`)));
    await writer.commit(join(dir, "out"), { overwrite: false });
    await Promise.all(pending);
    const expected = Array.from({ length: 50 }, (_, i) => `${i},`).join("");
    assert.equal(await Deno.readTextFile(join(dir, "out")), expected);
  });
});

Deno.test("AtomicFileWriter.commit() without overwrite keeps an existing destination", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    const destination = join(dir, "a.txt");
    await Deno.writeTextFile(destination, "old");
    const writer = await AtomicFileWriter.open({ partialPath });
    try {
      await writer.write(encoder.encode("new"));
      await assert.rejects(writer.commit(destination, { overwrite: false }), isFileError("exists"));
      assert.equal(await Deno.readTextFile(destination), "old");
      assert.equal(await Deno.readTextFile(partialPath), "new");
      await assert.rejects(writer.write(encoder.encode("more")), TypeError);
    } finally {
      await writer.abort();
    }
    assert.deepEqual(names(dir), ["a.txt"]);
  });
});

Deno.test("AtomicFileWriter.commit() with overwrite replaces the destination", async () => {
  await withTempDir(async (dir) => {
    const destination = join(dir, "a.txt");
    await Deno.writeTextFile(destination, "old content");
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
    await writer.write(encoder.encode("new"));
    await writer.commit(destination, { overwrite: true });
    await writer.abort();
    assert.equal(await Deno.readTextFile(destination), "new");
    assert.deepEqual(names(dir), ["a.txt"]);
  });
});

Deno.test("AtomicFileWriter.commit() refuses to replace a folder", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "d"));
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".d.part") });
    try {
      await writer.write(encoder.encode("x"));
      await assert.rejects(
        writer.commit(join(dir, "d"), { overwrite: true }),
        isFileError("unsupported_type"),
      );
    } finally {
      await writer.abort();
    }
    assert.deepEqual(names(dir), ["d"]);
  });
});

Deno.test("AtomicFileWriter.commit() applies mode and mtime", async () => {
  await withTempDir(async (dir) => {
    const destination = join(dir, "a.txt");
    const mtime = new Date("2001-02-03T04:05:06.000Z");
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
    await writer.write(encoder.encode("x"));
    await writer.commit(destination, { overwrite: false, mode: 0o640, mtime });
    const info = await Deno.stat(destination);
    assert.equal(info.mtime?.getTime(), mtime.getTime());
    if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777, 0o640);
  });
});

Deno.test("AtomicFileWriter.open() creates the partial file with mode 0600", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    const writer = await AtomicFileWriter.open({ partialPath });
    try {
      assert.equal((await Deno.stat(partialPath)).mode! & 0o777, 0o600);
    } finally {
      await writer.abort();
    }
  });
});

Deno.test("AtomicFileWriter.commit() calls beforeCommit() and stops if it throws", async () => {
  await withTempDir(async (dir) => {
    const destination = join(dir, "a.txt");
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
    try {
      await writer.write(encoder.encode("x"));
      const refused = new FileError("moved", { reason: "outside_root", path: dir });
      await assert.rejects(
        writer.commit(destination, {
          overwrite: false,
          beforeCommit: () => Promise.reject(refused),
        }),
        (error) => error === refused,
      );
      assert.deepEqual(names(dir), [".a.part"]);
    } finally {
      await writer.abort();
    }
    assert.deepEqual(names(dir), []);

    let called = false;
    const second = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
    await second.commit(destination, {
      overwrite: false,
      beforeCommit: () => {
        called = true;
        return Promise.resolve();
      },
    });
    assert.ok(called);
    assert.equal((await Deno.stat(destination)).size, 0);
  });
});

Deno.test("AtomicFileWriter.abort() deletes the partial file and may be called twice", async () => {
  await withTempDir(async (dir) => {
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
    await writer.write(encoder.encode("data"));
    await writer.abort();
    await writer.abort();
    assert.deepEqual(names(dir), []);
    await assert.rejects(writer.write(encoder.encode("x")), TypeError);
  });
});

Deno.test("AtomicFileWriter.abort() after commit() leaves the destination alone", async () => {
  await withTempDir(async (dir) => {
    const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
    await writer.write(encoder.encode("data"));
    await writer.commit(join(dir, "a"), { overwrite: false });
    await writer.abort();
    assert.deepEqual(names(dir), ["a"]);
    assert.equal(await Deno.readTextFile(join(dir, "a")), "data");
  });
});

Deno.test("AtomicFileWriter.abort({ keepPartial }) keeps the partial file with its buffered bytes", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    const writer = await AtomicFileWriter.open({ partialPath });
    await writer.write(encoder.encode("kept"));
    await writer.abort({ keepPartial: true });
    assert.equal(await Deno.readTextFile(partialPath), "kept");
  });
});

Deno.test("AtomicFileWriter.flush() puts the bytes in the partial file", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    const writer = await AtomicFileWriter.open({ partialPath });
    try {
      await writer.write(encoder.encode("abc"));
      assert.equal((await Deno.stat(partialPath)).size, 0);
      await writer.flush();
      assert.equal(await Deno.readTextFile(partialPath), "abc");
    } finally {
      await writer.abort();
    }
  });
});

Deno.test("AtomicFileWriter.open() with keepBytes keeps the prefix and truncates the rest", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    await Deno.writeTextFile(partialPath, "0123456789");
    const writer = await AtomicFileWriter.open({ partialPath, keepBytes: 4 });
    assert.equal(writer.bytesWritten, 4);
    assert.equal((await Deno.stat(partialPath)).size, 4);
    await writer.write(encoder.encode("ab"));
    assert.equal(writer.bytesWritten, 6);
    await writer.commit(join(dir, "a"), { overwrite: false });
    assert.equal(await Deno.readTextFile(join(dir, "a")), "0123ab");
  });
});

Deno.test("AtomicFileWriter.open() without keepBytes starts an existing partial file afresh", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    await Deno.writeTextFile(partialPath, "stale content");
    const writer = await AtomicFileWriter.open({ partialPath });
    try {
      assert.equal(writer.bytesWritten, 0);
      assert.equal((await Deno.stat(partialPath)).size, 0);
    } finally {
      await writer.abort();
    }
  });
});

Deno.test("AtomicFileWriter.open() does not write through a symlink at the partial path", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const victim = join(dir, "victim");
    const partialPath = join(dir, ".a.part");
    await Deno.writeTextFile(victim, "precious");
    await Deno.symlink(victim, partialPath);
    const writer = await AtomicFileWriter.open({ partialPath });
    await writer.write(encoder.encode("x"));
    await writer.abort();
    assert.equal(await Deno.readTextFile(victim), "precious");
    await Deno.symlink(victim, partialPath);
    await assert.rejects(
      AtomicFileWriter.open({ partialPath, keepBytes: 1 }),
      isFileError("unsupported_type"),
    );
    assert.equal(await Deno.readTextFile(victim), "precious");
  });
});

Deno.test("AtomicFileWriter.open() refuses to resume a partial file that is short, missing or linked", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    await assert.rejects(
      AtomicFileWriter.open({ partialPath, keepBytes: 1 }),
      isFileError("changed"),
    );
    await Deno.writeTextFile(partialPath, "abc");
    await assert.rejects(
      AtomicFileWriter.open({ partialPath, keepBytes: 4 }),
      isFileError("changed"),
    );
    await Deno.link(partialPath, join(dir, "other"));
    await assert.rejects(
      AtomicFileWriter.open({ partialPath, keepBytes: 2 }),
      isFileError("changed"),
    );
    assert.equal(await Deno.readTextFile(join(dir, "other")), "abc");
  });
});

Deno.test("AtomicFileWriter.open() refuses bad numbers", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    await assert.rejects(AtomicFileWriter.open({ partialPath, keepBytes: -1 }), RangeError);
    await assert.rejects(AtomicFileWriter.open({ partialPath, keepBytes: 0.5 }), RangeError);
    await assert.rejects(AtomicFileWriter.open({ partialPath, bufferBytes: 0 }), RangeError);
    await assert.rejects(AtomicFileWriter.open({ partialPath: "" }), TypeError);
    assert.deepEqual(names(dir), []);
  });
});

/** Runs a command, returning whether it ran and succeeded. */
async function run(command: string, ...args: string[]): Promise<boolean> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return output.success;
  } catch {
    return false;
  }
}

/**
 * Makes `folder` read-only and returns how to undo it, or `undefined` if that cannot be done
 * here. chmod 0555 stops ordinary users; root ignores mode bits, so as root the folder is made
 * immutable with `chattr +i` instead, when the file system and capabilities allow it.
 */
async function makeReadOnly(folder: string): Promise<(() => Promise<void>) | undefined> {
  await Deno.chmod(folder, 0o555);
  const undoChmod = () => Deno.chmod(folder, 0o755);
  try {
    await Deno.writeTextFile(join(folder, "probe"), "");
    await Deno.remove(join(folder, "probe"));
  } catch {
    return undoChmod; // An ordinary user: the mode bits are enough.
  }
  // Running as root: the mode bits do not stop writes.
  if (await run("chattr", "+i", folder)) {
    return async () => {
      await run("chattr", "-i", folder);
      await undoChmod();
    };
  }
  await undoChmod();
  return undefined;
}

Deno.test("AtomicFileWriter reports a read-only folder as permission or io", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const folder = join(dir, "ro");
    await Deno.mkdir(folder);
    const undo = await makeReadOnly(folder);
    if (undo === undefined) {
      // deno-lint-ignore no-console
      console.warn("cannot make a folder read-only here (root without chattr): skipped");
      return;
    }
    try {
      await assert.rejects(
        AtomicFileWriter.open({ partialPath: join(folder, ".a.part") }),
        isFileError("permission", "io"),
      );
    } finally {
      await undo();
    }
  });
});

Deno.test("AtomicFileWriter.commit() reports a folder made read-only before the move", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const folder = join(dir, "in");
    await Deno.mkdir(folder);
    const writer = await AtomicFileWriter.open({ partialPath: join(folder, ".a.part") });
    try {
      await writer.write(encoder.encode("x"));
      const undo = await makeReadOnly(folder);
      if (undo === undefined) {
        // deno-lint-ignore no-console
        console.warn("cannot make a folder read-only here (root without chattr): skipped");
        return;
      }
      try {
        // Without overwrite: the hard link fails, and so does the rename tried after it.
        const error = await writer.commit(join(folder, "a"), { overwrite: false }).then(
          () => undefined,
          (error) => error,
        );
        isFileError("permission", "io")(error);
      } finally {
        await undo();
      }
      assert.deepEqual(names(folder), [".a.part"]);
    } finally {
      await writer.abort();
    }
    assert.deepEqual(names(folder), []);
  });
});

Deno.test("AtomicFileWriter.commit() refuses a partial file swapped after writing", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    for (const overwrite of [false, true]) {
      const writer = await AtomicFileWriter.open({ partialPath, displayPath: "in/a.txt" });
      try {
        await writer.write(encoder.encode("verified bytes"));
        await writer.flush();
        // Someone replaces the partial file by its path between the write and the commit.
        await Deno.writeTextFile(join(dir, "planted"), "planted bytes");
        await Deno.rename(join(dir, "planted"), partialPath);
        await assert.rejects(
          writer.commit(join(dir, "a.txt"), { overwrite }),
          (error: unknown) => {
            assert.ok(isFileError("changed")(error));
            assert.equal((error as FileError).message.includes(dir), false);
            assert.match((error as FileError).message, /"in\/a\.txt"/);
            return true;
          },
        );
      } finally {
        await writer.abort();
      }
      await assert.rejects(Deno.lstat(join(dir, "a.txt")), Deno.errors.NotFound);
    }
  });
});

Deno.test("AtomicFileWriter.commit() refuses a partial file removed before the move", async () => {
  await withTempDir(async (dir) => {
    const partialPath = join(dir, ".a.part");
    const writer = await AtomicFileWriter.open({ partialPath });
    try {
      await writer.write(encoder.encode("x"));
      await assert.rejects(
        writer.commit(join(dir, "a.txt"), {
          overwrite: false,
          beforeCommit: () => Deno.remove(partialPath),
        }),
        isFileError("changed", "not_found"),
      );
    } finally {
      await writer.abort();
    }
    assert.deepEqual(names(dir), []);
  });
});

Deno.test({
  name: "AtomicFileWriter.commit() never applies set-id or sticky bits",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withTempDir(async (dir) => {
      const writer = await AtomicFileWriter.open({ partialPath: join(dir, ".a.part") });
      try {
        await writer.write(encoder.encode("#!/bin/sh\n"));
        await writer.commit(join(dir, "a.sh"), { overwrite: false, mode: 0o7755 });
      } finally {
        await writer.abort();
      }
      assert.equal((await Deno.stat(join(dir, "a.sh"))).mode! & 0o7777, 0o755);
    });
  },
});

Deno.test("AtomicFileWriter with inline calls moves only the verified file, as threaded calls do", async () => {
  await withTempDir(async (dir) => {
    const calls = fileCalls("inline");
    const partialPath = join(dir, ".a.part");
    // Commits: a new file by hard link, then a replacement by rename; an existing destination
    // is kept without overwrite.
    for (const overwrite of [false, true]) {
      const writer = await AtomicFileWriter.open({ partialPath, calls });
      await writer.write(encoder.encode(`take ${overwrite}`));
      await writer.commit(join(dir, "a.txt"), { overwrite, mode: 0o640, mtime: new Date(0) });
      await writer.abort();
      assert.equal(await Deno.readTextFile(join(dir, "a.txt")), `take ${overwrite}`);
      assert.equal((await Deno.stat(join(dir, "a.txt"))).mtime?.getTime(), 0);
    }
    const keeper = await AtomicFileWriter.open({ partialPath, calls });
    try {
      await keeper.write(encoder.encode("late"));
      await assert.rejects(
        keeper.commit(join(dir, "a.txt"), { overwrite: false }),
        isFileError("exists"),
      );
    } finally {
      await keeper.abort();
    }
    assert.equal(await Deno.readTextFile(join(dir, "a.txt")), "take true");
    // A partial file swapped after writing is never moved.
    const writer = await AtomicFileWriter.open({ partialPath, calls });
    try {
      await writer.write(encoder.encode("verified bytes"));
      await writer.flush();
      await Deno.writeTextFile(join(dir, "planted"), "planted bytes");
      await Deno.rename(join(dir, "planted"), partialPath);
      await assert.rejects(
        writer.commit(join(dir, "b.txt"), { overwrite: true }),
        isFileError("changed"),
      );
    } finally {
      await writer.abort();
    }
    await assert.rejects(Deno.lstat(join(dir, "b.txt")), Deno.errors.NotFound);
    // Never written through a symlink at the partial path.
    await Deno.remove(partialPath).catch(() => {});
    await Deno.writeTextFile(join(dir, "victim"), "victim");
    await Deno.symlink(join(dir, "victim"), partialPath);
    const fresh = await AtomicFileWriter.open({ partialPath, calls });
    await fresh.write(encoder.encode("new"));
    await fresh.abort();
    assert.equal(await Deno.readTextFile(join(dir, "victim")), "victim");
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name).sort(),
      ["a.txt", "victim"],
    );
  });
});
