import assert from "node:assert/strict";
import { join } from "node:path";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys, parseAuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { formatPublicKey } from "../../crypto/public_key.ts";
import { FileError } from "../../errors.ts";
import { fileChunkBytes, formatDigest } from "../../files/chunk_tree.ts";
import { hashFile } from "../../files/hash_file.ts";
import { fixtureIdentity, withTempDir } from "../_fixtures.ts";
import { startServer, type TestServer } from "../_helpers.ts";
import { startRelay } from "../_relay.ts";
import type { TransferProgress } from "../../transfer/progress_counter.ts";

/** Random bytes of any size (getRandomValues fills at most 64 KiB per call). */
function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(out.subarray(offset, Math.min(size, offset + 65536)));
  }
  return out;
}

async function sameContent(a: string, b: string): Promise<void> {
  const [left, right] = await Promise.all([Deno.readFile(a), Deno.readFile(b)]);
  assert.equal(left.length, right.length, `${a} and ${b} differ in size`);
  assert.ok(left.every((byte, i) => byte === right[i]), `${a} and ${b} differ`);
}

interface Setup {
  dir: string;
  root: string;
  local: string;
  server: TestServer;
  client: OvtpClient;
}

/** A server serving `<tmp>/root`, a client as alice, and a local folder `<tmp>/local`. */
async function withFileServer(
  fn: (setup: Setup) => Promise<void>,
  options: { keyOptions?: string; clientIdentity?: "alice" | "bob" } = {},
): Promise<void> {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    const local = join(dir, "local");
    await Deno.mkdir(root);
    await Deno.mkdir(local);
    const alice = await fixtureIdentity("alice");
    const line = `${options.keyOptions ? options.keyOptions + " " : ""}${
      formatPublicKey(alice.publicKey)
    }`;
    const { keys } = await parseAuthorizedKeys(line);
    const server = await startServer(undefined, {
      root,
      authorizedKeys: AuthorizedKeys.fromKeys(keys),
    });
    const client = new OvtpClient(server.address, server.clientOptions(alice));
    try {
      await fn({ dir, root, local, server, client });
    } finally {
      await client.close();
      await server.close();
    }
  });
}

const sizes = [
  0,
  1,
  fileChunkBytes - 1,
  fileChunkBytes,
  fileChunkBytes + 1,
  3 * fileChunkBytes + 7,
];

Deno.test("OvtpClient.sendFile() and getFile() move every size byte for byte", async () => {
  await withFileServer(async ({ root, local, client }) => {
    for (const size of sizes) {
      const source = join(local, `up-${size}.bin`);
      await Deno.writeFile(source, randomBytes(size));
      const sent = await client.sendFile(source, `up-${size}.bin`);
      await sameContent(source, join(root, `up-${size}.bin`));
      assert.equal(sent.bytes, size);
      assert.equal(sent.digest, formatDigest((await hashFile(source)).root));

      const remote = join(root, `down-${size}.bin`);
      await Deno.writeFile(remote, randomBytes(size));
      const got = await client.getFile(`down-${size}.bin`, join(local, `down-${size}.bin`));
      await sameContent(remote, join(local, `down-${size}.bin`));
      assert.equal(got.digest, sent.digest === undefined ? undefined : got.digest);
    }
    // No partial files are left behind.
    for await (const entry of Deno.readDir(root)) assert.doesNotMatch(entry.name, /ovtp-part/);
    for await (const entry of Deno.readDir(local)) assert.doesNotMatch(entry.name, /ovtp-part/);
  });
});

Deno.test("OvtpClient.sendFile() moves 64 MiB intact while messages still get answers", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const source = join(local, "big.bin");
    await Deno.writeFile(source, randomBytes(64 * 1024 * 1024));
    let answeredDuringTransfer = false;
    let transferring = true;
    const upload = client.sendFile(source, "big.bin").finally(() => transferring = false);
    const ping = (async () => {
      while (transferring) {
        const reply = await client.sendMessage("still there?");
        if (transferring && reply.response === "still there?") answeredDuringTransfer = true;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await Promise.all([upload, ping]);
    assert.ok(answeredDuringTransfer, "no message was answered during the transfer");
    await sameContent(source, join(root, "big.bin"));
    const got = await client.getFile("big.bin", join(local, "back.bin"));
    assert.equal(got.bytes, 64 * 1024 * 1024);
    await sameContent(source, join(local, "back.bin"));
  });
});

Deno.test("OvtpClient.sendFile() refuses to overwrite unless asked, naming the overwrite option", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const source = join(local, "a.txt");
    await Deno.writeTextFile(source, "new");
    await Deno.writeTextFile(join(root, "a.txt"), "old");
    await assert.rejects(client.sendFile(source, "a.txt"), (error: unknown) => {
      assert.ok(error instanceof FileError);
      assert.equal(error.code, "FILE");
      assert.equal(error.reason, "exists");
      assert.equal(error.remote, true);
      assert.equal(
        error.message,
        'The server refused "a.txt": it already exists there; pass { overwrite: true } to replace it',
      );
      return true;
    });
    assert.equal(await Deno.readTextFile(join(root, "a.txt")), "old");
    await client.sendFile(source, "a.txt", { overwrite: true });
    assert.equal(await Deno.readTextFile(join(root, "a.txt")), "new");
    // Downloads too.
    await Deno.writeTextFile(join(local, "b.txt"), "mine");
    await assert.rejects(
      client.getFile("a.txt", join(local, "b.txt")),
      /b\.txt": it already exists; pass \{ overwrite: true \} to replace it$/,
    );
    assert.equal(await Deno.readTextFile(join(local, "b.txt")), "mine");
  });
});

Deno.test("OvtpClient.sendFile() with preserve keeps mode and modification time", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const source = join(local, "script.sh");
    await Deno.writeTextFile(source, "#!/bin/sh\n");
    await Deno.chmod(source, 0o750);
    const mtime = new Date("2020-01-02T03:04:05Z");
    await Deno.utime(source, mtime, mtime);
    await client.sendFile(source, "script.sh", { preserve: true });
    const info = await Deno.stat(join(root, "script.sh"));
    assert.equal(info.mode! & 0o777, 0o750);
    assert.equal(info.mtime?.getTime(), mtime.getTime());
    const back = join(local, "back.sh");
    await client.getFile("script.sh", back, { preserve: true });
    assert.equal((await Deno.stat(back)).mtime?.getTime(), mtime.getTime());
  });
});

Deno.test("OvtpClient refuses paths that leave the served folder", async () => {
  await withFileServer(async ({ dir, root, local, client }) => {
    const outside = join(dir, "outside");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
    await Deno.symlink(outside, join(root, "escape"));
    await Deno.symlink(join(outside, "secret.txt"), join(root, "secret-link"));
    const source = join(local, "x.txt");
    await Deno.writeTextFile(source, "x");
    const refused = async (promise: Promise<unknown>) =>
      await assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof FileError, String(error));
        assert.equal(error.reason, "outside_root");
        return true;
      });
    await refused(client.sendFile(source, "../x.txt"));
    await refused(client.sendFile(source, "a/../../x.txt"));
    await refused(client.sendFile(source, join(outside, "x.txt")));
    await refused(client.sendFile(source, "escape/x.txt"));
    await refused(client.getFile("escape/secret.txt", join(local, "s1")));
    await refused(client.getFile("secret-link", join(local, "s2")));
    await refused(client.getFile("../outside/secret.txt", join(local, "s3")));
    await refused(client.hash("escape/secret.txt"));
    await refused(client.list("escape"));
    // Nothing was written outside.
    const names = [];
    for await (const entry of Deno.readDir(outside)) names.push(entry.name);
    assert.deepEqual(names, ["secret.txt"]);
    // An absolute path inside the root is fine.
    await client.sendFile(source, join(root, "inside.txt"));
    assert.equal(await Deno.readTextFile(join(root, "inside.txt")), "x");
  });
});

Deno.test("OvtpClient refuses device files and FIFOs", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const mkfifo = await new Deno.Command("mkfifo", { args: [join(root, "pipe")] }).output()
      .catch(() => undefined);
    assert.ok(mkfifo?.success, "mkfifo is needed for this test");
    await assert.rejects(client.getFile("pipe", join(local, "p")), (error: unknown) => {
      assert.ok(error instanceof FileError);
      assert.equal(error.reason, "unsupported_type");
      return true;
    });
  });
});

Deno.test("OvtpClient.hash() and stat() describe a remote file like hashFile() does", async () => {
  await withFileServer(async ({ root, client }) => {
    const path = join(root, "data.bin");
    await Deno.writeFile(path, randomBytes(2 * fileChunkBytes + 5));
    const local = await hashFile(path);
    const remote = await client.hash("data.bin");
    assert.equal(remote.digest, formatDigest(local.root));
    assert.equal(remote.size, 2 * fileChunkBytes + 5);
    assert.equal(remote.type, "file");
    const info = await client.stat(".");
    assert.equal(info.type, "directory");
    await assert.rejects(
      client.stat("missing"),
      (error: unknown) => error instanceof FileError && error.reason === "not_found",
    );
  });
});

Deno.test("OvtpClient sends and receives files dated before 1970 without a time", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const old = new Date(-86_400_000);
    await Deno.writeFile(join(root, "old.bin"), randomBytes(10));
    await Deno.utime(join(root, "old.bin"), old, old);
    assert.equal((await Deno.stat(join(root, "old.bin"))).mtime?.getTime(), -86_400_000);
    assert.equal((await client.stat("old.bin")).mtime, null);
    const [entry] = await client.list(".");
    assert.equal(entry.mtimeMs, null);
    await client.getFile("old.bin", join(local, "old.bin"));
    await Deno.utime(join(local, "old.bin"), old, old);
    await client.sendFile(join(local, "old.bin"), "copy.bin", { preserve: true });
    await sameContent(join(root, "old.bin"), join(root, "copy.bin"));
  });
});

Deno.test("OvtpClient.sendFile() resumes an interrupted upload from its verified prefix", async () => {
  await withFileServer(async ({ root, local, client, server }) => {
    const size = 24 * fileChunkBytes + 123;
    const source = join(local, "big.bin");
    await Deno.writeFile(source, randomBytes(size));
    const controller = new AbortController();
    await assert.rejects(
      client.sendFile(source, "big.bin", {
        resume: true,
        signal: controller.signal,
        onProgress: (progress) => {
          if (progress.bytesDone >= 10 * fileChunkBytes) controller.abort(new Error("stop"));
        },
      }),
      /stop/,
    );
    // The destination does not exist; a partial file was kept beside it.
    await assert.rejects(Deno.stat(join(root, "big.bin")), Deno.errors.NotFound);
    // The server offers the partial file only once the cut upload let go of it (a fixed 100 ms
    // wait failed on a loaded machine).
    for (let waited = 0; server.server.held.fileHandles > 0; waited += 10) {
      assert.ok(waited < 10_000, "the cut upload still holds its file");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const result = await client.sendFile(source, "big.bin", { resume: true });
    assert.ok(result.resumedBytes > 0, "nothing was resumed");
    assert.equal(result.resumedBytes % fileChunkBytes, 0);
    assert.equal(result.resumedBytes + result.bytes, size);
    await sameContent(source, join(root, "big.bin"));
    for await (const entry of Deno.readDir(root)) assert.doesNotMatch(entry.name, /ovtp-part/);
    assert.equal(server.server.connectionCount, 1);
  });
});

Deno.test("OvtpClient.sendFile() restarts cleanly when the source changed since the partial", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const size = 8 * fileChunkBytes;
    const source = join(local, "big.bin");
    await Deno.writeFile(source, randomBytes(size));
    const controller = new AbortController();
    await assert.rejects(client.sendFile(source, "big.bin", {
      resume: true,
      signal: controller.signal,
      onProgress: (p) => p.bytesDone >= 4 * fileChunkBytes && controller.abort(),
    }));
    // Same size and time, different content: the prefix check must catch it.
    const stat = await Deno.stat(source);
    await Deno.writeFile(source, randomBytes(size));
    await Deno.utime(source, stat.atime!, stat.mtime!);
    const result = await client.sendFile(source, "big.bin", { resume: true });
    assert.equal(result.resumedBytes, 0);
    await sameContent(source, join(root, "big.bin"));
  });
});

Deno.test("OvtpClient.getFile() survives a cut connection and resumes", async () => {
  await withFileServer(async ({ root, local, server }) => {
    const size = 16 * fileChunkBytes;
    await Deno.writeFile(join(root, "big.bin"), randomBytes(size));
    const alice = await fixtureIdentity("alice");
    const destination = join(local, "big.bin");
    // A relay that cuts the connection after about 6 MiB from the server, once the client has
    // written two chunks of it (on a loaded machine its disk writes lag behind the socket).
    const partial = join(local, ".big.bin.get.ovtp-part");
    const written = () => {
      try {
        return Deno.statSync(partial).size;
      } catch {
        return 0;
      }
    };
    let forwarded = 0;
    const relay = startRelay(server.address, (direction, _index, frame) => {
      if (direction === "toClient") {
        forwarded += frame.length;
        if (forwarded > 6 * fileChunkBytes && written() >= 2 * fileChunkBytes) {
          throw new Error("cut");
        }
      }
      return [frame];
    });
    try {
      const cut = new OvtpClient(relay.address, server.clientOptions(alice, { reconnect: false }));
      try {
        await assert.rejects(cut.getFile("big.bin", destination, { resume: true }));
      } finally {
        await cut.close();
      }
    } finally {
      await relay.close();
    }
    await assert.rejects(Deno.stat(destination), Deno.errors.NotFound);
    const client = new OvtpClient(server.address, server.clientOptions(alice));
    try {
      const result = await client.getFile("big.bin", destination, { resume: true });
      assert.ok(result.resumedBytes >= fileChunkBytes, `resumed ${result.resumedBytes}`);
      await sameContent(join(root, "big.bin"), destination);
    } finally {
      await client.close();
    }
  });
});

Deno.test("OvtpClient.sendFile() never renames into a folder swapped for a symlink", async () => {
  await withFileServer(async ({ dir, root, local, client }) => {
    const outside = join(dir, "outside");
    await Deno.mkdir(outside);
    await Deno.mkdir(join(root, "inbox"));
    const source = join(local, "big.bin");
    await Deno.writeFile(source, randomBytes(32 * fileChunkBytes));
    let swapped = false;
    await assert.rejects(
      client.sendFile(source, "inbox/big.bin", {
        onProgress: (progress) => {
          if (!swapped && progress.bytesDone >= 8 * fileChunkBytes) {
            swapped = true;
            Deno.renameSync(join(root, "inbox"), join(root, "inbox-moved"));
            Deno.symlinkSync(outside, join(root, "inbox"));
          }
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof FileError, String(error));
        assert.equal(error.reason, "outside_root");
        return true;
      },
    );
    assert.ok(swapped);
    const names = [];
    for await (const entry of Deno.readDir(outside)) names.push(entry.name);
    assert.deepEqual(names, []);
  });
});

Deno.test("OvtpClient enforces read-only and write-only keys", async () => {
  await withFileServer(async ({ root, local, client }) => {
    await Deno.writeTextFile(join(root, "r.txt"), "r");
    await Deno.writeTextFile(join(local, "w.txt"), "w");
    await client.getFile("r.txt", join(local, "r.txt"));
    await assert.rejects(
      client.sendFile(join(local, "w.txt"), "w.txt"),
      (error: unknown) =>
        error instanceof FileError && error.reason === "permission" &&
        /its authorized_keys option "read-only"/.test(error.message),
    );
    await assert.rejects(Deno.stat(join(root, "w.txt")), Deno.errors.NotFound);
  }, { keyOptions: "read-only" });
  await withFileServer(async ({ root, local, client }) => {
    await Deno.writeTextFile(join(root, "r.txt"), "r");
    await Deno.writeTextFile(join(local, "w.txt"), "w");
    await client.sendFile(join(local, "w.txt"), "w.txt");
    await assert.rejects(
      client.getFile("r.txt", join(local, "r.txt")),
      (error: unknown) =>
        error instanceof FileError && error.reason === "permission" &&
        /its authorized_keys option "write-only"/.test(error.message),
    );
  }, { keyOptions: "write-only" });
});

Deno.test("OvtpClient is confined to its key's root= folder", async () => {
  await withFileServer(async ({ root, local, client }) => {
    await Deno.mkdir(join(root, "alice"));
    await Deno.writeTextFile(join(root, "other.txt"), "not yours");
    await Deno.writeTextFile(join(local, "a.txt"), "a");
    await client.sendFile(join(local, "a.txt"), "a.txt");
    assert.equal(await Deno.readTextFile(join(root, "alice", "a.txt")), "a");
    await assert.rejects(
      client.getFile("../other.txt", join(local, "o.txt")),
      (error: unknown) => error instanceof FileError && error.reason === "outside_root",
    );
  }, { keyOptions: 'root="alice"' });
});

Deno.test("OvtpClient sendDirectory() and getDirectory() copy a tree, sync skips matches", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const tree = join(local, "tree");
    await Deno.mkdir(join(tree, "a", "b"), { recursive: true });
    await Deno.mkdir(join(tree, "empty"));
    const files: Record<string, Uint8Array> = {
      "top.txt": randomBytes(10),
      "a/one.bin": randomBytes(fileChunkBytes + 3),
      "a/b/two.bin": randomBytes(0),
    };
    for (let i = 0; i < 200; i++) files[`a/b/small-${i}.txt`] = randomBytes(100 + i);
    for (const [path, data] of Object.entries(files)) await Deno.writeFile(join(tree, path), data);
    await Deno.symlink("top.txt", join(tree, "link.txt"));

    const up = await client.sendDirectory(tree, "copy");
    assert.equal(up.files, Object.keys(files).length + 1); // the link is followed by default
    for (const path of Object.keys(files)) {
      await sameContent(join(tree, path), join(root, "copy", path));
    }
    assert.ok((await Deno.lstat(join(root, "copy", "link.txt"))).isFile);
    assert.ok((await Deno.stat(join(root, "copy", "empty"))).isDirectory);

    await Deno.writeFile(join(tree, "top.txt"), randomBytes(11));
    const again = await client.sendDirectory(tree, "copy", { sync: true });
    assert.equal(again.files, 2); // top.txt, and link.txt, whose target is top.txt
    assert.equal(again.skipped, Object.keys(files).length - 1);
    await sameContent(join(tree, "top.txt"), join(root, "copy", "top.txt"));

    const down = await client.getDirectory("copy", join(local, "back"), { keepSymlinks: true });
    assert.equal(down.files, Object.keys(files).length + 1);
    for (const path of Object.keys(files)) {
      await sameContent(join(tree, path), join(local, "back", path));
    }
  });
});

Deno.test("OvtpClient.sendDirectory() with keepSymlinks sends links as links", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const tree = join(local, "tree");
    await Deno.mkdir(tree);
    await Deno.writeTextFile(join(tree, "target.txt"), "t");
    await Deno.symlink("target.txt", join(tree, "link.txt"));
    await Deno.symlink("/etc/passwd", join(tree, "bad-link"));
    await assert.rejects(
      client.sendDirectory(tree, "copy", { keepSymlinks: true }),
      (e: unknown) => e instanceof FileError && e.reason === "outside_root",
    );
    await Deno.remove(join(tree, "bad-link"));
    await client.sendDirectory(tree, "copy2", { keepSymlinks: true });
    assert.equal(await Deno.readLink(join(root, "copy2", "link.txt")), "target.txt");
  });
});

const readOnlyDirectory = await (async () => {
  // Root ignores permission bits; an immutable folder stops even root.
  const dir = await Deno.makeTempDir();
  try {
    if (Deno.uid() === 0) {
      const ok = await new Deno.Command("chattr", { args: ["+i", dir] }).output().catch(() =>
        undefined
      );
      if (!ok?.success) return undefined;
      const blocked = await Deno.writeTextFile(join(dir, "x"), "x").then(() => false, () => true);
      await new Deno.Command("chattr", { args: ["-i", dir] }).output();
      return blocked ? "chattr" : undefined;
    }
    return "chmod";
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
})();

Deno.test({
  name: "OvtpClient reports a read-only destination folder as a clear error",
  ignore: readOnlyDirectory === undefined,
  async fn() {
    await withFileServer(async ({ root, local, client }) => {
      const locked = join(root, "locked");
      await Deno.mkdir(locked);
      await Deno.writeTextFile(join(local, "a.txt"), "a");
      const lock = (on: boolean) =>
        readOnlyDirectory === "chattr"
          ? new Deno.Command("chattr", { args: [on ? "+i" : "-i", locked] }).output()
          : Deno.chmod(locked, on ? 0o555 : 0o755);
      await lock(true);
      try {
        await assert.rejects(
          client.sendFile(join(local, "a.txt"), "locked/a.txt"),
          (e: unknown) => {
            assert.ok(e instanceof FileError, String(e));
            assert.ok(e.reason === "permission" || e.reason === "io", e.reason);
            assert.match(e.message, /locked/);
            return true;
          },
        );
      } finally {
        await lock(false);
      }
      // The server still serves.
      await client.sendFile(join(local, "a.txt"), "a.txt");
    });
  },
});

Deno.test("OvtpClient.sendFile() with keepSymlinks sends a single link as a link", async () => {
  await withFileServer(async ({ root, local, client }) => {
    await Deno.writeTextFile(join(local, "t.txt"), "t");
    await Deno.symlink("t.txt", join(local, "l.txt"));
    await client.sendFile(join(local, "l.txt"), "l.txt", { keepSymlinks: true });
    assert.equal(await Deno.readLink(join(root, "l.txt")), "t.txt");
    await client.sendFile(join(local, "l.txt"), "followed.txt");
    assert.equal(await Deno.readTextFile(join(root, "followed.txt")), "t");
  });
});

Deno.test("OvtpServer removes stale partial uploads when a folder is written to", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const stale = join(root, ".old.bin.abcdefabcdef.ovtp-part");
    const fresh = join(root, ".new.bin.abcdefabcdef.ovtp-part");
    await Deno.writeFile(stale, new Uint8Array(10));
    await Deno.writeFile(fresh, new Uint8Array(10));
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await Deno.utime(stale, old, old);
    const alice = await fixtureIdentity("alice");
    const server = await startServer(undefined, { root, partialMaxAgeMs: 60 * 60 * 1000 });
    const client = new OvtpClient(server.address, server.clientOptions(alice));
    try {
      await Deno.writeTextFile(join(dir, "a.txt"), "a");
      await client.sendFile(join(dir, "a.txt"), "a.txt");
      for (let i = 0; i < 50 && await Deno.stat(stale).then(() => true, () => false); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await assert.rejects(Deno.stat(stale), Deno.errors.NotFound);
      assert.ok((await Deno.stat(fresh)).isFile);
    } finally {
      await client.close();
      await server.close();
    }
  });
});

Deno.test("FileService keeps concurrent uploads of one path by one key whole", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const size = 6 * fileChunkBytes + 11;
    const sources = ["one.bin", "two.bin"].map((name) => join(local, name));
    for (const source of sources) await Deno.writeFile(source, randomBytes(size));
    const digests = await Promise.all(
      sources.map(async (source) => formatDigest((await hashFile(source)).root)),
    );
    for (const overwrite of [false, true]) {
      await Deno.remove(join(root, "same.bin")).catch(() => {});
      const results = await Promise.allSettled(
        sources.map((source) => client.sendFile(source, "same.bin", { overwrite })),
      );
      const there = formatDigest((await hashFile(join(root, "same.bin"))).root);
      assert.ok(digests.includes(there), "the destination matches neither upload");
      const won = results.flatMap((result) =>
        result.status === "fulfilled" ? [result.value.digest] : []
      );
      if (overwrite) {
        assert.equal(won.length, 2, String(results.map((r) => r.status)));
      } else {
        // One wins; the other fails cleanly because the destination now exists.
        assert.deepEqual(won, [there]);
        const lost = results.find((result) => result.status === "rejected");
        assert.ok(lost?.status === "rejected");
        assert.ok(lost.reason instanceof FileError && lost.reason.reason === "exists");
      }
      assert.deepEqual(
        [...Deno.readDirSync(root)].map((entry) => entry.name),
        ["same.bin"],
        "a partial file was left behind",
      );
    }
  });
});

/** A server with alice and bob authorized, a client for each. */
async function withTwoClients(
  fn: (setup: { root: string; local: string; alice: OvtpClient; bob: OvtpClient }) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    const local = join(dir, "local");
    await Deno.mkdir(root);
    await Deno.mkdir(local);
    const [aliceId, bobId] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
    const server = await startServer(undefined, {
      root,
      authorizedKeys: AuthorizedKeys.fromKeys([aliceId.publicKey, bobId.publicKey]),
    });
    const alice = new OvtpClient(server.address, server.clientOptions(aliceId));
    const bob = new OvtpClient(server.address, server.clientOptions(bobId));
    try {
      await fn({ root, local, alice, bob });
    } finally {
      await Promise.all([alice.close(), bob.close()]);
      await server.close();
    }
  });
}

Deno.test("FileService refuses another key's access to a partial upload in every operation", async () => {
  await withTwoClients(async ({ root, local, alice, bob }) => {
    const size = 24 * fileChunkBytes;
    const source = join(local, "big.bin");
    await Deno.writeFile(source, randomBytes(size));
    await Deno.writeTextFile(join(local, "evil.bin"), "evil");
    let partial: string | undefined;
    const probes: Promise<void>[] = [];
    const refused = (promise: Promise<unknown>) =>
      assert.rejects(promise, (error: unknown) => {
        assert.ok(error instanceof FileError, String(error));
        assert.equal(error.reason, "bad_path", error.message);
        return true;
      });
    const upload = alice.sendFile(source, "big.bin", {
      onProgress: (progress) => {
        if (partial !== undefined || progress.bytesDone < 4 * fileChunkBytes) return;
        partial = [...Deno.readDirSync(root)].map((entry) => entry.name).find((name) =>
          name.endsWith(".ovtp-part")
        );
        assert.ok(partial !== undefined, "no partial file during the upload");
        // The name is not derived from the key, the destination or anything predictable.
        assert.match(partial, /^\.[0-9a-f]{32}\.ovtp-part$/);
        const name = partial;
        probes.push((async () => {
          await refused(bob.sendFile(join(local, "evil.bin"), name, { overwrite: true }));
          await Deno.mkdir(join(local, "empty"), { recursive: true });
          await refused(bob.sendDirectory(join(local, "empty"), name));
          await refused(bob.getFile(name, join(local, "stolen")));
          await refused(bob.stat(name));
          await refused(bob.list(name));
          await Deno.symlink(name, join(local, "link-to-partial")).catch(() => {});
          await refused(bob.sendFile(join(local, "link-to-partial"), "l", { keepSymlinks: true }));
          assert.ok(!(await bob.list(".")).some((entry) => entry.path.includes("ovtp-part")));
        })());
      },
    });
    const result = await upload;
    await Promise.all(probes);
    assert.ok(partial !== undefined);
    assert.equal(result.digest, formatDigest((await hashFile(source)).root));
    await sameContent(source, join(root, "big.bin"));
  });
});

Deno.test("FileService hides partial and state files from LIST", async () => {
  await withFileServer(async ({ root, client }) => {
    await Deno.mkdir(join(root, "in"));
    await Deno.writeTextFile(join(root, "in", "a.txt"), "a");
    await Deno.writeTextFile(join(root, "in", ".0123456789abcdef0123456789abcdef.ovtp-part"), "p");
    await Deno.writeTextFile(join(root, "in", ".a.txt.k3Yf1ngErpr1.ovtp-part.json"), "{}");
    await Deno.mkdir(join(root, "in", "folder.ovtp-part"));
    const entries = await client.list(".");
    assert.deepEqual(entries.map((entry) => entry.path).sort(), ["in", "in/a.txt"]);
  });
});

Deno.test({
  name: "OvtpClient with preserve never applies set-id or sticky bits, either way",
  ignore: Deno.build.os === "windows",
  async fn() {
    await withFileServer(async ({ root, local, client }) => {
      const source = join(local, "tool");
      await Deno.writeTextFile(source, "#!/bin/sh\n");
      await Deno.chmod(source, 0o6755);
      assert.equal((await Deno.stat(source)).mode! & 0o7777, 0o6755, "cannot set up the test");
      await client.sendFile(source, "tool", { preserve: true });
      assert.equal((await Deno.stat(join(root, "tool"))).mode! & 0o7777, 0o755);

      await Deno.writeTextFile(join(root, "server-tool"), "#!/bin/sh\n");
      await Deno.chmod(join(root, "server-tool"), 0o7755);
      await client.getFile("server-tool", join(local, "got"), { preserve: true });
      assert.equal((await Deno.stat(join(local, "got"))).mode! & 0o7777, 0o755);
    });
  },
});

Deno.test({
  name: "OvtpClient gives new files the source's mode less the receiver's umask",
  ignore: Deno.build.os === "windows",
  async fn() {
    const umask = Deno.umask();
    await withFileServer(async ({ root, local, client }) => {
      const source = join(local, "open.txt");
      await Deno.writeTextFile(source, "x");
      await Deno.chmod(source, 0o777);
      await client.sendFile(source, "open.txt");
      assert.equal((await Deno.stat(join(root, "open.txt"))).mode! & 0o7777, 0o777 & ~umask);
      await client.getFile("open.txt", join(local, "back.txt"));
      assert.equal((await Deno.stat(join(local, "back.txt"))).mode! & 0o7777, 0o777 & ~umask);
      // A private source stays private.
      await Deno.chmod(source, 0o600);
      await client.sendFile(source, "private.txt");
      assert.equal((await Deno.stat(join(root, "private.txt"))).mode! & 0o7777, 0o600);
    });
  },
});

Deno.test("OvtpClient.sendDirectory() and getDirectory() report every byte and file, ending at the total", async () => {
  await withFileServer(async ({ root, local, client }) => {
    const site = join(local, "site");
    await Deno.mkdir(site);
    await Deno.writeFile(join(site, "big.bin"), randomBytes(3 * fileChunkBytes + 5));
    await Deno.writeFile(join(site, "empty.txt"), new Uint8Array());
    for (let i = 0; i < 30; i++) {
      await Deno.writeFile(join(site, `small${i}.txt`), randomBytes(1 + i * 1013));
    }
    for (
      const transfer of [
        (onProgress: (progress: TransferProgress) => void) =>
          client.sendDirectory(site, "www", { onProgress }),
        (onProgress: (progress: TransferProgress) => void) =>
          client.getDirectory("www", join(local, "copy"), { onProgress }),
      ]
    ) {
      const seen: TransferProgress[] = [];
      await transfer((progress) => seen.push(progress));
      const last = seen.at(-1)!;
      assert.equal(last.bytesDone, last.totalBytes, "every byte counted");
      assert.equal(last.filesDone, 32);
      assert.equal(last.totalFiles, 32);
      assert.ok(seen.some((progress) => progress.path.endsWith("empty.txt")), "empty file named");
    }
    assert.equal((await Deno.stat(join(root, "www", "big.bin"))).size, 3 * fileChunkBytes + 5);
  });
});

Deno.test("OvtpClient.sendFile() moves small files the same with inline and threaded file calls", async () => {
  await withFileServer(async ({ root, local, client }) => {
    for (const mode of ["inline", "threaded"] as const) {
      for (const size of [0, 1, 1024, 65536, 65537, fileChunkBytes]) {
        const name = `${mode}-${size}.bin`;
        await Deno.writeFile(join(local, name), randomBytes(size));
        const events: TransferProgress[] = [];
        const sent = await client.sendFile(join(local, name), name, {
          fileCalls: mode,
          onProgress: (progress) => events.push({ ...progress }),
        });
        await sameContent(join(local, name), join(root, name));
        assert.equal(sent.digest, formatDigest((await hashFile(join(local, name))).root));
        assert.equal(events.at(-1)?.bytesDone, size);
        assert.equal(events.at(-1)?.totalBytes, size);
      }
    }
    await assert.rejects(
      client.sendFile(join(local, "inline-1.bin"), "other.bin", {
        fileCalls: "sideways" as "inline",
      }),
      RangeError,
    );
  });
});
