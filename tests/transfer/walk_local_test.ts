import assert from "node:assert/strict";
import { join } from "node:path";
import { fileCalls } from "../../files/file_calls.ts";
import { walkLocal } from "../../transfer/walk_local.ts";
import { withTempDir } from "../_fixtures.ts";

/** A tree with a file, a folder, a link to a file, a dangling link, a cycle and a FIFO. */
async function makeTree(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "sub"));
  await Deno.writeTextFile(join(dir, "a.txt"), "abc");
  await Deno.writeTextFile(join(dir, "sub", "b.txt"), "hello");
  await Deno.symlink(join(dir, "a.txt"), join(dir, "link-a"));
  await Deno.symlink(join(dir, "missing"), join(dir, "dangling"));
  await Deno.symlink(dir, join(dir, "sub", "up")); // a cycle
  await Deno.symlink(join(dir, "sub"), join(dir, "link-sub"));
  const mkfifo = await new Deno.Command("mkfifo", { args: [join(dir, "fifo")] }).output();
  assert.ok(mkfifo.success, "mkfifo failed");
}

Deno.test({
  name: "walkLocal() follows links once, skips cycles, dangling links and FIFOs, either way",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeTree(dir);
      for (const mode of ["inline", "threaded"] as const) {
        const tree = await walkLocal(dir, false, fileCalls(mode));
        // "sub" is the folder "link-sub" already reached: walked once, under the first name.
        assert.deepEqual(tree.folders, ["link-sub"], mode);
        assert.deepEqual(
          tree.files.map((file) => [file.path, file.size]),
          [["a.txt", 3], ["link-a", 3], ["link-sub/b.txt", 5]],
          mode,
        );
        assert.deepEqual(tree.links, [], mode);
      }
    });
  },
});

Deno.test({
  name: "walkLocal() with keepSymlinks lists links as links and reads no file through them",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withTempDir(async (dir) => {
      await makeTree(dir);
      const tree = await walkLocal(dir, true, fileCalls("inline"));
      assert.deepEqual(tree.folders, ["sub"]);
      assert.deepEqual(tree.files.map((file) => [file.path, file.size]), [
        ["a.txt", 3],
        ["sub/b.txt", 5],
      ]);
      assert.deepEqual(tree.links.map((link) => link.path), [
        "dangling",
        "link-a",
        "link-sub",
        "sub/up",
      ]);
    });
  },
});
