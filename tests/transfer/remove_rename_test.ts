/**
 * REMOVE and RENAME (SPEC.md 11.7, 11.8) through a real server and client: what they do, and
 * every refusal an attacker could try (symlinks out, `..`, reserved names, the root, a read-only
 * key, another key's partial upload, an existing destination).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys, parseAuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { formatPublicKey } from "../../crypto/public_key.ts";
import { FileError, type FileErrorReason } from "../../errors.ts";
import { fileChunkBytes } from "../../files/chunk_tree.ts";
import { maxRemoveDepth } from "../../transfer/serve_remove.ts";
import { fixtureIdentity, withTempDir } from "../_fixtures.ts";
import { startServer } from "../_helpers.ts";

interface Setup {
  dir: string;
  root: string;
  outside: string;
  alice: OvtpClient;
  bob: OvtpClient;
}

/**
 * A server serving `<tmp>/root` to alice (with `aliceOptions`) and bob, and a folder
 * `<tmp>/outside` with a file `keep.txt` that nothing may touch.
 */
async function withServer(fn: (setup: Setup) => Promise<void>, aliceOptions = ""): Promise<void> {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    const outside = join(dir, "outside");
    await Deno.mkdir(root);
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "keep.txt"), "keep");
    const [aliceId, bobId] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
    const lines = [
      `${aliceOptions ? aliceOptions + " " : ""}${formatPublicKey(aliceId.publicKey)}`,
      formatPublicKey(bobId.publicKey),
    ].join("\n");
    const { keys } = await parseAuthorizedKeys(lines);
    const server = await startServer(undefined, {
      root,
      authorizedKeys: AuthorizedKeys.fromKeys(keys),
    });
    const alice = new OvtpClient(server.address, server.clientOptions(aliceId));
    const bob = new OvtpClient(server.address, server.clientOptions(bobId));
    try {
      await fn({ dir, root, outside, alice, bob });
      assert.equal(await Deno.readTextFile(join(outside, "keep.txt")), "keep");
    } finally {
      await Promise.all([alice.close(), bob.close()]);
      await server.close();
    }
  });
}

function refusedWith(reason: FileErrorReason): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof FileError, String(error));
    assert.equal(error.reason, reason, error.message);
    assert.equal(error.remote, true);
    return true;
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("OvtpClient.remove() removes a file, a symlink itself, an empty folder and a tree", async () => {
  await withServer(async ({ root, outside, alice }) => {
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    await Deno.symlink(join(outside, "keep.txt"), join(root, "link"));
    await Deno.mkdir(join(root, "empty"));
    await Deno.mkdir(join(root, "tree", "sub"), { recursive: true });
    await Deno.writeTextFile(join(root, "tree", "sub", "b.txt"), "b");
    await Deno.writeTextFile(join(root, "tree", "c.txt"), "c");
    assert.equal(await alice.remove("a.txt"), 1);
    assert.equal(await alice.remove("link"), 1);
    assert.equal(await alice.remove("empty/"), 1);
    assert.equal(await alice.remove("./tree", { recursive: true }), 4);
    assert.deepEqual([...Deno.readDirSync(root)], []);
    await assert.rejects(alice.remove("a.txt"), refusedWith("not_found"));
  });
});

Deno.test("OvtpClient.remove() refuses a folder that is not empty unless recursive", async () => {
  await withServer(async ({ root, alice }) => {
    await Deno.mkdir(join(root, "d"));
    await Deno.writeTextFile(join(root, "d", "x"), "x");
    await assert.rejects(alice.remove("d"), refusedWith("not_empty"));
    assert.ok(await exists(join(root, "d", "x")));
  });
});

Deno.test("OvtpClient.remove() of a tree with a symlink to outside removes the link, not the outside", async () => {
  await withServer(async ({ root, outside, alice }) => {
    await Deno.mkdir(join(root, "tree"));
    await Deno.symlink(outside, join(root, "tree", "out"));
    await Deno.symlink(join(outside, "keep.txt"), join(root, "tree", "file-out"));
    await Deno.symlink("..", join(root, "tree", "up"));
    assert.equal(await alice.remove("tree", { recursive: true }), 4);
    assert.ok(!(await exists(join(root, "tree"))));
    assert.ok(await exists(join(outside, "keep.txt")));
  });
});

Deno.test("OvtpClient.remove() and rename() refuse paths through a symlink out, .., absolute paths and the root", async () => {
  await withServer(async ({ root, outside, alice }) => {
    await Deno.symlink(outside, join(root, "out"));
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    await assert.rejects(alice.remove("out/keep.txt"), refusedWith("outside_root"));
    await assert.rejects(alice.remove("../outside/keep.txt"), refusedWith("outside_root"));
    await assert.rejects(alice.remove(join(outside, "keep.txt")), refusedWith("outside_root"));
    await assert.rejects(alice.remove("."), refusedWith("unsupported_type"));
    await assert.rejects(alice.remove("", { recursive: true }), refusedWith("bad_path"));
    await assert.rejects(alice.rename("a.txt", "out/a.txt"), refusedWith("outside_root"));
    await assert.rejects(alice.rename("out/keep.txt", "k.txt"), refusedWith("outside_root"));
    await assert.rejects(alice.rename("a.txt", "../a.txt"), refusedWith("outside_root"));
    await assert.rejects(
      alice.rename("a.txt", join(outside, "a.txt")),
      refusedWith("outside_root"),
    );
    await assert.rejects(alice.rename(".", "x"), refusedWith("unsupported_type"));
    assert.ok(await exists(join(root, "a.txt")));
    assert.ok(!(await exists(join(outside, "a.txt"))));
  });
});

Deno.test("OvtpClient.remove() and rename() refuse reserved partial-file names", async () => {
  await withServer(async ({ root, alice }) => {
    const partial = ".0123456789abcdef0123456789abcdef.ovtp-part";
    await Deno.writeTextFile(join(root, partial), "p");
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    await Deno.symlink(partial, join(root, "to-partial"));
    await assert.rejects(alice.remove(partial), refusedWith("bad_path"));
    await assert.rejects(alice.rename(partial, "stolen"), refusedWith("bad_path"));
    await assert.rejects(
      alice.rename("a.txt", partial, { overwrite: true }),
      refusedWith("bad_path"),
    );
    await assert.rejects(alice.rename("a.txt", "x.ovtp-part"), refusedWith("bad_path"));
    // The link itself is an ordinary entry: removing it leaves the partial file alone.
    assert.equal(await alice.remove("to-partial"), 1);
    assert.equal(await Deno.readTextFile(join(root, partial)), "p");
  });
});

Deno.test("OvtpClient.remove() and rename() are refused to a read-only key", async () => {
  await withServer(async ({ root, alice }) => {
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    await assert.rejects(alice.remove("a.txt"), refusedWith("permission"));
    await assert.rejects(alice.rename("a.txt", "b.txt"), refusedWith("permission"));
    await assert.rejects(alice.remove("missing"), refusedWith("permission"));
    assert.equal(await Deno.readTextFile(join(root, "a.txt")), "a");
  }, "read-only");
});

Deno.test("OvtpClient.rename() stays inside a key's root= folder", async () => {
  await withServer(async ({ root, alice }) => {
    await Deno.mkdir(join(root, "alice"));
    await Deno.writeTextFile(join(root, "alice", "a.txt"), "a");
    await Deno.writeTextFile(join(root, "top.txt"), "t");
    await alice.rename("a.txt", "b.txt");
    assert.ok(await exists(join(root, "alice", "b.txt")));
    await assert.rejects(alice.rename("b.txt", join(root, "b.txt")), refusedWith("outside_root"));
    await assert.rejects(alice.remove(join(root, "top.txt")), refusedWith("outside_root"));
    await assert.rejects(alice.remove("."), refusedWith("unsupported_type"));
    assert.ok(await exists(join(root, "top.txt")));
  }, 'root="alice"');
});

Deno.test("OvtpClient.remove() leaves a tree holding a partial upload whole", async () => {
  await withServer(async ({ root, dir, alice, bob }) => {
    // An interrupted upload's files (any key's), kept for resuming.
    await Deno.mkdir(join(root, "kept", "sub"), { recursive: true });
    await Deno.writeTextFile(join(root, "kept", "a.txt"), "a");
    await Deno.writeTextFile(join(root, "kept", "sub", ".b.txt.k3Yf1ngErpr1.ovtp-part.json"), "{}");
    await assert.rejects(bob.remove("kept", { recursive: true }), refusedWith("not_empty"));
    assert.ok(await exists(join(root, "kept", "a.txt")));
    // Another key's upload in progress.
    await Deno.mkdir(join(root, "in"));
    const source = join(dir, "big.bin");
    await Deno.writeFile(source, new Uint8Array(16 * fileChunkBytes).fill(7));
    let probe: Promise<void> | undefined;
    const upload = alice.sendFile(source, "in/big.bin", {
      onProgress: (progress) => {
        if (probe !== undefined || progress.bytesDone < 2 * fileChunkBytes) return;
        probe = assert.rejects(bob.remove("in", { recursive: true }), refusedWith("not_empty"));
      },
    });
    await upload;
    assert.ok(probe !== undefined, "the upload finished before the probe");
    await probe;
    assert.equal((await Deno.stat(join(root, "in", "big.bin"))).size, 16 * fileChunkBytes);
  });
});

Deno.test("OvtpClient.remove() refuses a tree deeper than maxRemoveDepth, untouched", async () => {
  await withServer(async ({ root, alice }) => {
    const deep = join(root, "deep", ...Array.from({ length: maxRemoveDepth + 1 }, () => "d"));
    await Deno.mkdir(deep, { recursive: true });
    await assert.rejects(
      alice.remove("deep", { recursive: true }),
      refusedWith("unsupported_type"),
    );
    assert.ok(await exists(deep));
    await Deno.remove(join(deep)); // one level less: now it may go
    assert.equal(await alice.remove("deep", { recursive: true }), maxRemoveDepth + 1);
  });
});

Deno.test("OvtpClient.rename() moves files, links and folders, refusing an existing destination without overwrite", async () => {
  await withServer(async ({ root, outside, alice }) => {
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    await Deno.writeTextFile(join(root, "b.txt"), "b");
    await Deno.mkdir(join(root, "dir"));
    await Deno.symlink(join(outside, "keep.txt"), join(root, "link"));
    await assert.rejects(alice.rename("a.txt", "b.txt"), refusedWith("exists"));
    assert.equal(await Deno.readTextFile(join(root, "b.txt")), "b");
    await alice.rename("a.txt", "b.txt", { overwrite: true });
    assert.equal(await Deno.readTextFile(join(root, "b.txt")), "a");
    assert.ok(!(await exists(join(root, "a.txt"))));
    await alice.rename("b.txt", "dir/c.txt");
    assert.equal(await Deno.readTextFile(join(root, "dir", "c.txt")), "a");
    await alice.rename("dir", "moved");
    assert.equal(await Deno.readTextFile(join(root, "moved", "c.txt")), "a");
    // A link is moved itself: its target stays where it was.
    await alice.rename("link", "moved/link");
    assert.equal(await Deno.readLink(join(root, "moved", "link")), join(outside, "keep.txt"));
    await alice.rename("moved/c.txt", "moved/c.txt"); // the same entry: nothing happens
    await assert.rejects(alice.rename("missing", "x"), refusedWith("not_found"));
    await assert.rejects(alice.rename("moved/c.txt", "nowhere/c.txt"), refusedWith("not_found"));
  });
});

Deno.test("OvtpClient.rename() refuses a folder into itself and a folder over a file", async () => {
  await withServer(async ({ root, alice }) => {
    await Deno.mkdir(join(root, "dir", "sub"), { recursive: true });
    await Deno.writeTextFile(join(root, "f.txt"), "f");
    await Deno.mkdir(join(root, "full"));
    await Deno.writeTextFile(join(root, "full", "x"), "x");
    await assert.rejects(alice.rename("dir", "dir/sub/dir"), refusedWith("bad_path"));
    await assert.rejects(
      alice.rename("dir", "f.txt", { overwrite: true }),
      refusedWith("unsupported_type"),
    );
    await assert.rejects(
      alice.rename("f.txt", "dir", { overwrite: true }),
      refusedWith("unsupported_type"),
    );
    await assert.rejects(
      alice.rename("dir", "full", { overwrite: true }),
      refusedWith("not_empty"),
    );
    assert.ok(await exists(join(root, "dir", "sub")));
    assert.equal(await Deno.readTextFile(join(root, "full", "x")), "x");
  });
});

Deno.test('OvtpClient.list("") and stat("") name the served folder', async () => {
  await withServer(async ({ root, alice }) => {
    await Deno.writeTextFile(join(root, "a.txt"), "a");
    assert.deepEqual((await alice.list("")).map((entry) => entry.path), ["a.txt"]);
    assert.equal((await alice.stat("")).type, "directory");
  });
});

Deno.test('OvtpClient.getDirectory("") copies the served folder', async () => {
  await withServer(async ({ dir, root, alice }) => {
    await Deno.mkdir(join(root, "sub"));
    await Deno.writeTextFile(join(root, "sub", "a.txt"), "a");
    await alice.getDirectory("", join(dir, "copy"));
    assert.equal(await Deno.readTextFile(join(dir, "copy", "sub", "a.txt")), "a");
  });
});

Deno.test("OvtpClient.list() with depth lists only that many levels", async () => {
  await withServer(async ({ root, alice }) => {
    await Deno.mkdir(join(root, "a", "b", "c"), { recursive: true });
    await Deno.writeTextFile(join(root, "top.txt"), "t");
    const paths = async (depth?: number) =>
      (await alice.list(".", depth === undefined ? {} : { depth })).map((entry) => entry.path)
        .sort();
    assert.deepEqual(await paths(1), ["a", "top.txt"]);
    assert.deepEqual(await paths(2), ["a", "a/b", "top.txt"]);
    assert.deepEqual(await paths(), ["a", "a/b", "a/b/c", "top.txt"]);
    await assert.rejects(alice.list(".", { depth: 0 }), RangeError);
  });
});

Deno.test("OvtpClient.mkdir() makes parents unless parents is false", async () => {
  await withServer(async ({ root, alice }) => {
    await assert.rejects(alice.mkdir("a/b", { parents: false }), refusedWith("not_found"));
    assert.ok(!(await exists(join(root, "a"))));
    assert.equal(await alice.mkdir("a/b"), true);
    assert.equal(await alice.mkdir("a/b", { parents: false }), false);
    assert.equal(await alice.mkdir("a/c", { parents: false }), true);
  });
});
