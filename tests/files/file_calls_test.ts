import assert from "node:assert/strict";
import { join } from "node:path";
import { fileCalls, maxInlineReadBytes, maxInlineWriteBytes } from "../../files/file_calls.ts";

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ovtp-file-calls-" }));
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What a call settled with, in a form two modes can be compared by. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    const value = await call();
    if (value === null || value === undefined) return String(value);
    if (typeof value === "object" && "isFile" in value) {
      const info = value as Deno.FileInfo;
      return `info ${info.isFile ? "file" : info.isDirectory ? "dir" : "other"} ${info.size}`;
    }
    return `value ${typeof value === "object" ? "object" : String(value)}`;
  } catch (error) {
    return `error ${(error as Error).name}`;
  }
}

Deno.test("fileCalls() inline and threaded calls answer alike, errors included", async () => {
  const results: Record<string, string[]> = {};
  for (const mode of ["threaded", "inline"] as const) {
    await withTempDir(async (dir) => {
      const calls = fileCalls(mode);
      assert.equal(calls.mode, mode);
      const a = join(dir, "a");
      const seen: string[] = [];
      const file = await calls.open(a, { write: true, createNew: true, mode: 0o600 });
      try {
        seen.push(await outcome(() => calls.write(file, new Uint8Array(10))));
        seen.push(await outcome(() => calls.stat(file)));
        seen.push(await outcome(() => calls.utime(file, new Date(0), new Date(0))));
      } finally {
        file.close();
      }
      seen.push(await outcome(() => calls.open(a, { write: true, createNew: true })));
      seen.push(await outcome(() => calls.lstat(a)));
      seen.push(await outcome(() => calls.lstat(join(dir, "missing"))));
      seen.push(await outcome(() => calls.lstatOrNull(join(dir, "missing"))));
      // Only "missing" answers null: a path through a file is an error.
      seen.push(await outcome(() => calls.lstatOrNull(join(a, "under-a-file"))));
      seen.push(await outcome(async () => (await calls.realPath(a)) === a));
      seen.push(await outcome(() => calls.chmod(a, 0o640)));
      seen.push(await outcome(() => calls.mkdir(join(dir, "d"), 0o755)));
      seen.push(await outcome(() => calls.mkdir(join(dir, "d"), 0o755)));
      seen.push(await outcome(() => calls.link(a, join(dir, "b"))));
      seen.push(await outcome(() => calls.link(a, join(dir, "b"))));
      seen.push(await outcome(() => calls.rename(join(dir, "b"), join(dir, "c"))));
      seen.push(await outcome(() => calls.remove(join(dir, "c"))));
      seen.push(await outcome(() => calls.remove(join(dir, "c"))));
      assert.equal((await Deno.stat(a)).mode! & 0o777, 0o640);
      assert.equal((await Deno.stat(a)).mtime?.getTime(), 0);
      results[mode] = seen;
    });
  }
  assert.deepEqual(results.inline, results.threaded);
  assert.ok(results.inline.includes("error AlreadyExists"), results.inline.join(", "));
  assert.ok(results.inline.includes("error NotFound"), results.inline.join(", "));
});

Deno.test("fileCalls() inline calls settle as promises and never throw where they are called", () => {
  const calls = fileCalls("inline");
  // A call that fails rejects its promise instead of throwing synchronously.
  const missing = calls.lstat("/nonexistent-ovtp-path/x");
  assert.ok(missing instanceof Promise);
  return assert.rejects(missing, Deno.errors.NotFound);
});

Deno.test("fileCalls() inline lstatOrNull() of a missing path restores the stack trace limit", async () => {
  await withTempDir(async (dir) => {
    const before = Error.stackTraceLimit;
    assert.equal(await fileCalls("inline").lstatOrNull(join(dir, "missing")), null);
    assert.equal(Error.stackTraceLimit, before);
    // And after an error it lets through.
    await Deno.writeTextFile(join(dir, "f"), "");
    await assert.rejects(fileCalls("inline").lstatOrNull(join(dir, "f", "x")));
    assert.equal(Error.stackTraceLimit, before);
  });
});

Deno.test("fileCalls() inline writes a small piece inline and a large one on a worker thread", async () => {
  await withTempDir(async (dir) => {
    const calls = fileCalls("inline");
    const file = await calls.open(join(dir, "f"), { write: true, createNew: true });
    try {
      // A small write is done when the call returns: the file has the bytes before any await.
      const small = calls.write(file, new Uint8Array(100));
      assert.equal(Deno.statSync(join(dir, "f")).size, 100);
      assert.equal(await small, 100);
      let written = 0;
      const large = new Uint8Array(maxInlineWriteBytes + 1);
      while (written < large.length) written += await calls.write(file, large.subarray(written));
      assert.equal((await Deno.stat(join(dir, "f"))).size, 100 + large.length);
    } finally {
      file.close();
    }
  });
});

Deno.test("fileCalls() reads a small piece inline and a large one alike, either way", async () => {
  await withTempDir(async (dir) => {
    const bytes = crypto.getRandomValues(new Uint8Array(maxInlineReadBytes));
    await Deno.writeFile(join(dir, "f"), Uint8Array.of(...bytes.subarray(0, 100), ...bytes));
    for (const mode of ["inline", "threaded"] as const) {
      const calls = fileCalls(mode);
      const file = await calls.open(join(dir, "f"), { read: true });
      try {
        const small = new Uint8Array(100);
        const pending = calls.read(file, small);
        // Inline, the bytes are there when the call returns, before any await.
        if (mode === "inline") assert.deepEqual(small, bytes.subarray(0, 100));
        assert.equal(await pending, 100);
        const large = new Uint8Array(maxInlineReadBytes + 1);
        let filled = 0;
        for (;;) {
          const count = await calls.read(file, large.subarray(filled));
          if (count === null) break;
          filled += count;
        }
        assert.equal(filled, maxInlineReadBytes, mode);
        assert.deepEqual(large.subarray(0, filled), bytes, mode);
      } finally {
        file.close();
      }
    }
  });
});

Deno.test("fileCalls() refuses an unknown mode", () => {
  assert.throws(() => fileCalls("fast" as "inline"), RangeError);
});
