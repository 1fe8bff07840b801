import assert from "node:assert/strict";
import { basename, join } from "node:path";
import {
  isPartialName,
  isRandomPartialName,
  isReservedName,
  partialNames,
  type PartialState,
  partialSuffix,
  randomPartialPath,
  readPartialState,
  removeStalePartials,
  resumableBytes,
  writePartialState,
} from "../../files/partial_files.ts";
import { fileChunkBytes } from "../../files/chunk_tree.ts";
import { FileError } from "../../errors.ts";

const encoder = new TextEncoder();

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ovtp-partial-files-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}

const state: PartialState = {
  version: 2,
  data: ".0123456789abcdef0123456789abcdef.ovtp-part",
  owner: "SHA256:abcdef",
  name: "a.csv",
  size: 12345,
  mtimeMs: 1_700_000_000_000,
  createdMs: 17,
};

Deno.test("partialNames() names hidden data and state files with the owner tag", () => {
  assert.equal(partialSuffix, ".ovtp-part");
  assert.deepEqual(partialNames("/srv/in", "a.csv", "Tag_1-x"), {
    data: "/srv/in/.a.csv.Tag_1-x.ovtp-part",
    state: "/srv/in/.a.csv.Tag_1-x.ovtp-part.json",
  });
});

Deno.test("partialNames() keeps two tags apart", () => {
  assert.notEqual(partialNames("/d", "a", "one").data, partialNames("/d", "a", "two").data);
});

Deno.test("partialNames() refuses a bad tag or name", () => {
  for (const tag of ["", "a".repeat(33), "a.b", "a/b", "a b", "é"]) {
    assert.throws(() => partialNames("/d", "a", tag), RangeError, JSON.stringify(tag));
  }
  for (const name of ["", "a/b", "a\0b"]) {
    assert.throws(() => partialNames("/d", name, "tag"), RangeError, JSON.stringify(name));
  }
});

Deno.test("partialNames() shortens a long name to fit 255 bytes, keeping names distinct", () => {
  const tag = "t".repeat(32);
  const long = `${"é".repeat(120)}a`;
  const other = `${"é".repeat(120)}b`;
  const names = partialNames("/d", long, tag);
  for (const path of [names.data, `${names.state}.0123456789abcdef.tmp`]) {
    assert.ok(encoder.encode(basename(path)).length <= 255, path);
  }
  assert.notEqual(names.data, partialNames("/d", other, tag).data);
  assert.ok(isPartialName(basename(names.data)));
  assert.ok(basename(names.data).startsWith(".éé"));
  // A short name is left as it is.
  assert.equal(
    basename(partialNames("/d", "é".repeat(50), tag).data),
    `.${"é".repeat(50)}.${tag}.ovtp-part`,
  );
});

Deno.test("isPartialName() recognises partial, state and temporary state names only", () => {
  assert.ok(isPartialName(".a.t.ovtp-part"));
  assert.ok(isPartialName(".a.t.ovtp-part.json"));
  assert.ok(isPartialName(".a.t.ovtp-part.json.0123456789abcdef.tmp"));
  assert.equal(isPartialName("a.t.ovtp-part"), false);
  assert.equal(isPartialName(".a.t.ovtp-part.bak"), false);
  assert.equal(isPartialName(".a.t.ovtp-part.json.tmp"), false);
  assert.equal(isPartialName("report.csv"), false);
});

Deno.test("writePartialState() and readPartialState() round-trip, mode 0600, no temporary left", async () => {
  await withTempDir(async (dir) => {
    const { state: statePath } = partialNames(dir, "a", "tag");
    await writePartialState(statePath, state);
    assert.deepEqual(await readPartialState(statePath), state);
    await writePartialState(statePath, { ...state, mtimeMs: null });
    assert.deepEqual(await readPartialState(statePath), { ...state, mtimeMs: null });
    assert.deepEqual(names(dir), [basename(statePath)]);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(statePath)).mode! & 0o777, 0o600);
    }
  });
});

Deno.test("writePartialState() refuses a malformed state", async () => {
  await withTempDir(async (dir) => {
    const statePath = join(dir, ".a.t.ovtp-part.json");
    for (
      const bad of [
        { ...state, version: 1 },
        { ...state, data: "../x.ovtp-part" },
        { ...state, data: "a.txt" },
        { ...state, owner: 5 },
        { ...state, name: "a/b" },
        { ...state, size: -1 },
        { ...state, size: 1.5 },
        { ...state, mtimeMs: Number.NaN },
        { ...state, createdMs: undefined },
      ]
    ) {
      await assert.rejects(writePartialState(statePath, bad as PartialState), RangeError);
    }
    assert.deepEqual(names(dir), []);
  });
});

Deno.test("writePartialState() reports a missing folder as a FileError", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      writePartialState(join(dir, "missing", ".a.t.ovtp-part.json"), state),
      (error) => error instanceof FileError && error.reason === "not_found",
    );
  });
});

Deno.test("readPartialState() gives undefined for missing or malformed content", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "state.json");
    assert.equal(await readPartialState(path), undefined);
    const bad = [
      "",
      "not json",
      "null",
      "[]",
      "42",
      JSON.stringify({ ...state, version: 1 }),
      JSON.stringify({ ...state, data: "sub/.x.ovtp-part" }),
      JSON.stringify({ ...state, data: "report.csv" }),
      JSON.stringify({ ...state, name: "" }),
      JSON.stringify({ ...state, size: "12" }),
      JSON.stringify({ ...state, size: -3 }),
      JSON.stringify({ ...state, size: 2 ** 60 }),
      JSON.stringify({ ...state, mtimeMs: "yesterday" }),
      JSON.stringify({ version: 1, size: 1, mtimeMs: null }),
      JSON.stringify({ ...state, padding: "x".repeat(5000) }),
    ];
    for (const text of bad) {
      await Deno.writeTextFile(path, text);
      assert.equal(await readPartialState(path), undefined, text.slice(0, 60));
    }
    await Deno.writeFile(path, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
    assert.equal(await readPartialState(path), undefined);
    await Deno.remove(path);
    await Deno.mkdir(path);
    assert.equal(await readPartialState(path), undefined);
  });
});

Deno.test("readPartialState() ignores extra fields and returns only the known ones", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "state.json");
    await Deno.writeTextFile(path, JSON.stringify({ ...state, extra: true }));
    assert.deepEqual(await readPartialState(path), state);
  });
});

Deno.test("readPartialState() does not open a FIFO", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir(async (dir) => {
    const path = join(dir, "fifo.json");
    try {
      const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
      if (!success) return;
    } catch {
      return; // No mkfifo here.
    }
    assert.equal(await readPartialState(path), undefined);
  });
});

Deno.test("removeStalePartials() removes old partial files only", async () => {
  await withTempDir(async (dir) => {
    const old = new Date(Date.now() - 3_600_000);
    const stale = partialNames(dir, "old.bin", "tag");
    const fresh = partialNames(dir, "new.bin", "tag");
    const staleTemporary = `${stale.state}.0123456789abcdef.tmp`;
    const userFile = join(dir, "notes.ovtp-part");
    const other = join(dir, ".other");
    for (const path of [stale.data, stale.state, staleTemporary, fresh.data, fresh.state]) {
      await Deno.writeTextFile(path, "x");
    }
    await Deno.writeTextFile(userFile, "mine");
    await Deno.writeTextFile(other, "x");
    await Deno.mkdir(join(dir, ".dir.t.ovtp-part"));
    for (const path of [stale.data, stale.state, staleTemporary, userFile, other]) {
      await Deno.utime(path, old, old);
    }
    await Deno.utime(join(dir, ".dir.t.ovtp-part"), old, old);
    if (Deno.build.os !== "windows") {
      await Deno.symlink(userFile, join(dir, ".link.t.ovtp-part"));
    }

    assert.equal(await removeStalePartials(dir, 60_000), 3);
    const left = names(dir);
    for (const path of [stale.data, stale.state, staleTemporary]) {
      assert.equal(left.includes(basename(path)), false, path);
    }
    for (const path of [fresh.data, fresh.state, userFile, other]) {
      assert.ok(left.includes(basename(path)), path);
    }
    assert.ok(left.includes(".dir.t.ovtp-part"));
    assert.equal(await removeStalePartials(dir, 60_000), 0);
    const tenSecondsAgo = new Date(Date.now() - 10_000);
    await Deno.utime(fresh.data, tenSecondsAgo, tenSecondsAgo);
    await Deno.utime(fresh.state, tenSecondsAgo, tenSecondsAgo);
    assert.equal(await removeStalePartials(dir, 5_000), 2);
  });
});

Deno.test("removeStalePartials() refuses a bad age and reports a missing folder", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(removeStalePartials(dir, -1), RangeError);
    await assert.rejects(removeStalePartials(dir, Number.NaN), RangeError);
    await assert.rejects(
      removeStalePartials(join(dir, "missing"), 1000),
      (error) => error instanceof FileError && error.reason === "not_found",
    );
  });
});

Deno.test("resumableBytes() rounds down to whole chunks", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, ".a.t.ovtp-part");
    assert.equal(await resumableBytes(path), 0);
    const cases: [number, number][] = [
      [0, 0],
      [1, 0],
      [fileChunkBytes - 1, 0],
      [fileChunkBytes, fileChunkBytes],
      [2 * fileChunkBytes + 5, 2 * fileChunkBytes],
    ];
    for (const [size, expected] of cases) {
      const file = await Deno.open(path, { write: true, create: true });
      try {
        await file.truncate(size);
      } finally {
        file.close();
      }
      assert.equal(await resumableBytes(path), expected, `size ${size}`);
    }
    await Deno.remove(path);
    await Deno.mkdir(path);
    assert.equal(await resumableBytes(path), 0);
  });
});

Deno.test("randomPartialPath() gives fresh unguessable names that isReservedName() hides", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const path = randomPartialPath("/srv/in");
    const name = basename(path);
    assert.match(name, /^\.[0-9a-f]{32}\.ovtp-part$/);
    assert.ok(isRandomPartialName(name) && isReservedName(name) && isPartialName(name));
    seen.add(path);
  }
  assert.equal(seen.size, 100);
  assert.ok(isReservedName("report.ovtp-part") && isReservedName(".a.b.ovtp-part.json"));
  assert.ok(!isReservedName("report.csv") && !isReservedName("a.ovtp-part.bak"));
  assert.ok(!isRandomPartialName(".a.csv.tag.ovtp-part"));
});
