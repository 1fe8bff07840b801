import assert from "node:assert/strict";
import { join } from "node:path";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { FileError, RemoteError, TimeoutError } from "../../errors.ts";
import { Channel } from "../../session/channel.ts";
import { clientHandshake, serverHandshake } from "../../session/handshake.ts";
import { StreamKind } from "../../session/stream.ts";
import { FileService, type FileServiceOptions } from "../../transfer/file_service.ts";
import { askRemote } from "../../transfer/ask_remote.ts";
import { uploadFile } from "../../transfer/upload_file.ts";
import { DenoTransport } from "../../wire/deno_transport.ts";
import { fixtureIdentity, withTempDir } from "../_fixtures.ts";
import { testParameters } from "../_helpers.ts";

interface ServiceSetup {
  /** The served folder (real path). */
  root: string;
  /** The client's end of a real TCP connection to the service. */
  channel: Channel;
  /** What `FileService.handle()` settled with, one entry per stream, in order. */
  handled: Promise<unknown>[];
}

/**
 * A FileService on the server end of a real TCP connection on 127.0.0.1 (handshake and channel
 * as OvtpServer does them), serving a fresh temporary folder; everything is closed afterwards.
 */
async function withFileService(
  options: Omit<FileServiceOptions, "root">,
  fn: (setup: ServiceSetup) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const root = await Deno.realPath(dir);
    const service = new FileService({ root, ...options });
    const [alice, server] = await Promise.all([
      fixtureIdentity("alice"),
      fixtureIdentity("server"),
    ]);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const clientTransport = new DenoTransport(
      await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    );
    const serverTransport = new DenoTransport(await accepted);
    listener.close();
    const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
    const handled: Promise<unknown>[] = [];
    let client: Channel | undefined;
    let served: Channel | undefined;
    try {
      const [clientResult, serverResult] = await Promise.all([
        clientHandshake(clientTransport, {
          identity: alice,
          verifyServerKey: () => Promise.resolve(),
          ...testParameters,
        }),
        serverHandshake(serverTransport, {
          identity: server,
          authorize: (fingerprint) => authorized.find(fingerprint),
          ...testParameters,
        }),
      ]);
      const peer = { fingerprint: alice.publicKey.fingerprint, options: new Map() };
      served = new Channel(serverTransport, serverResult, {
        role: "server",
        onStream: (stream) =>
          handled.push(service.handle(stream, peer).then(() => undefined, (e) => e)),
      });
      client = new Channel(clientTransport, clientResult, { role: "client" });
      await fn({ root, channel: client, handled });
    } finally {
      client?.abort(new Error("test over"));
      served?.abort(new Error("test over"));
      await Promise.all([client?.closed, served?.closed]);
      clientTransport.close();
      serverTransport.close();
      await Promise.allSettled(handled);
    }
  });
}

/** Settles with what `promise` settles with, or fails the test after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The paths under `dir` that this process holds open, read by `ls` from `/proc/<pid>/fd` (Deno
 * asks for every permission to read /proc/self itself); undefined where there is no /proc.
 */
async function openPathsUnder(dir: string): Promise<string[] | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const { success, stdout } = await new Deno.Command("ls", {
    args: ["-l", `/proc/${Deno.pid}/fd`],
    stderr: "null",
  }).output();
  if (!success) return undefined;
  return new TextDecoder().decode(stdout).split("\n").flatMap((line) => {
    const target = line.split(" -> ")[1];
    return target?.startsWith(dir) ? [target] : [];
  });
}

/** The `index`th stream's outcome, once the server has started handling it. */
async function handledAt(handled: Promise<unknown>[], index: number): Promise<unknown> {
  for (let i = 0; i < 500 && handled.length <= index; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(handled.length > index, "the server never got the stream");
  return await handled[index];
}

function isRemoteCode(code: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof RemoteError, String(error));
    assert.equal(error.remoteCode, code, error.message);
    return true;
  };
}

Deno.test("FileService resets a PUT whose sender stops sending, and closes its file", async () => {
  await withFileService({ stallTimeoutMs: 200 }, async ({ root, channel, handled }) => {
    const stream = await channel.openStream(StreamKind.put, { path: "slow.bin", size: 100_000 });
    await stream.write(new Uint8Array(8)); // start offset 0
    await stream.write(new Uint8Array(1000)); // ...then nothing more
    const outcome = await within(handledAt(handled, 0), 5000, "the stall reset");
    assert.ok(outcome instanceof TimeoutError, String(outcome));
    await assert.rejects(stream.readAll(1024), isRemoteCode(1));
    assert.deepEqual(await openPathsUnder(root) ?? [], []);
    assert.deepEqual([...Deno.readDirSync(root)], [], "the partial file was left behind");
  });
});

Deno.test("FileService resets a GET whose reader stops reading, and closes its file", async () => {
  await withFileService({ stallTimeoutMs: 200 }, async ({ root, channel, handled }) => {
    await Deno.writeFile(join(root, "big.bin"), new Uint8Array(4 * 1024 * 1024));
    const stream = await channel.openStream(StreamKind.get, { path: "big.bin" }, { end: true });
    await stream.replyHead();
    const during = await openPathsUnder(root);
    assert.ok(during === undefined || during.includes(join(root, "big.bin")), String(during));
    // Never read: the server runs out of window after 256 KiB.
    const outcome = await within(handledAt(handled, 0), 5000, "the stall reset");
    assert.ok(outcome instanceof TimeoutError, String(outcome));
    assert.deepEqual(await openPathsUnder(root) ?? [], []);
    await assert.rejects(stream.readAll(8 * 1024 * 1024), isRemoteCode(1));
  });
});

Deno.test("FileService does not count its own hashing as a stall", async () => {
  await withFileService({ stallTimeoutMs: 100 }, async ({ root, channel, handled }) => {
    // Hashing 64 MiB for STAT takes longer than 100 ms, with nothing to wait for from the peer.
    await Deno.writeFile(join(root, "big.bin"), new Uint8Array(64 * 1024 * 1024));
    const reply = await askRemote(channel, StreamKind.stat, { path: "big.bin", hash: true });
    assert.equal(typeof reply.digest, "string");
    assert.equal(await handledAt(handled, 0), undefined);
  });
});

Deno.test("FileService refuses a stream over maxOpenFilesPerConnection with code 3", async () => {
  await withFileService(
    { stallTimeoutMs: 10_000, maxOpenFilesPerConnection: 1 },
    async ({ root, channel, handled }) => {
      await Deno.writeFile(join(root, "big.bin"), new Uint8Array(4 * 1024 * 1024));
      const first = await channel.openStream(StreamKind.get, { path: "big.bin" }, { end: true });
      await first.replyHead(); // holds its file open, waiting for window
      const second = await channel.openStream(StreamKind.get, { path: "big.bin" }, { end: true });
      await assert.rejects(second.replyHead(), (error: unknown) => {
        assert.ok(isRemoteCode(3)(error));
        assert.match((error as Error).message, /files open/);
        return true;
      });
      first.reset(1, "done");
      await within(handledAt(handled, 0), 5000, "the first GET ending");
      // Once the first is over, a new one is served.
      const third = await channel.openStream(StreamKind.stat, { path: "big.bin" }, { end: true });
      assert.equal((await third.replyHead()).size, 4 * 1024 * 1024);
    },
  );
});

Deno.test("FileService refuses a SYMLINK whose target leaves the root through other links", async () => {
  await withFileService({}, async ({ root, channel }) => {
    await Deno.mkdir(join(root, "sub"));
    const link = (path: string, target: string) =>
      askRemote(channel, StreamKind.symlink, { path, target });
    await link("sub/d", ".."); // sub/d leads to the root itself: inside
    const refused = async (path: string, target: string) =>
      await assert.rejects(link(path, target), (error: unknown) => {
        assert.ok(error instanceof FileError, String(error));
        assert.equal(error.reason, "outside_root", `${path} -> ${target}: ${error.message}`);
        return true;
      });
    await refused("x", "sub/d/..");
    await refused("sub/y", "d/..");
    await refused("z", "sub/d/sub/d/../outside");
    await refused("w", "later/../..");
    await refused("v", "/etc");
    await link("fine", "sub/d/sub");
    assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name).sort(), [
      "fine",
      "sub",
    ]);
    assert.equal(await Deno.realPath(join(root, "fine")), join(root, "sub"));
  });
});

Deno.test("FileService refuses names reserved for partial files in MKDIR and SYMLINK", async () => {
  await withFileService({}, async ({ root, channel }) => {
    const reserved = ".0123456789abcdef0123456789abcdef.ovtp-part";
    for (
      const [kind, head] of [
        [StreamKind.mkdir, { path: reserved }],
        [StreamKind.mkdir, { path: "in/x.ovtp-part.json" }],
        [StreamKind.symlink, { path: reserved, target: "a" }],
        [StreamKind.symlink, { path: "l", target: reserved }],
        [StreamKind.put, { path: reserved, size: 0 }],
      ] as const
    ) {
      await assert.rejects(askRemote(channel, kind, head), (error: unknown) => {
        assert.ok(error instanceof FileError, String(error));
        assert.equal(error.reason, "bad_path", error.message);
        return true;
      });
    }
    assert.deepEqual([...Deno.readDirSync(root)], []);
  });
});

const immutable = await (async () => {
  // Root ignores permission bits; an immutable folder stops even root.
  const dir = await Deno.makeTempDir();
  try {
    if (Deno.uid() !== 0) return "chmod";
    const ok = await new Deno.Command("chattr", { args: ["+i", dir] }).output().catch(() =>
      undefined
    );
    if (!ok?.success) return undefined;
    await new Deno.Command("chattr", { args: ["-i", dir] }).output();
    return "chattr";
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
})();

Deno.test({
  name: "FileService tells a peer its own path, never the server's real paths",
  ignore: immutable === undefined || Deno.build.os === "windows",
  async fn() {
    await withFileService({}, async ({ root, channel, handled }) => {
      const locked = join(root, "locked");
      await Deno.mkdir(locked);
      const lock = (on: boolean) =>
        immutable === "chattr"
          ? new Deno.Command("chattr", { args: [on ? "+i" : "-i", locked] }).output()
          : Deno.chmod(locked, on ? 0o555 : 0o755);
      await lock(true);
      const messages: string[] = [];
      try {
        const put = await channel.openStream(StreamKind.put, { path: "locked/a.txt", size: 1 });
        await put.write(new Uint8Array(9)).catch(() => {});
        await assert.rejects(put.readAll(1024), (error: unknown) => {
          messages.push((error as Error).message);
          return error instanceof RemoteError && [13, 15].includes(error.remoteCode);
        });
        for (
          const [kind, head] of [
            [StreamKind.mkdir, { path: "locked/sub" }],
            [StreamKind.symlink, { path: "locked/l", target: "x" }],
          ] as const
        ) {
          await assert.rejects(askRemote(channel, kind, head), (error: unknown) => {
            messages.push((error as Error).message);
            return error instanceof FileError;
          });
        }
      } finally {
        await lock(false);
      }
      for (const message of messages) {
        assert.ok(!message.includes(root), message);
        assert.ok(!message.includes("ovtp-part"), message);
        assert.match(message, /locked\//);
      }
      // The server's own error (for its log) keeps the system's detail.
      const logged = await handledAt(handled, 0);
      assert.ok(logged instanceof FileError, String(logged));
      assert.ok(logged.cause instanceof Error && logged.cause.message.includes(root));
    });
  },
});

Deno.test("FileService uploads alike with inline and threaded file calls", async () => {
  for (const fileCalls of ["inline", "threaded"] as const) {
    await withFileService({ fileCalls }, async ({ root, channel }) => {
      await withTempDir(async (local) => {
        const source = join(local, "a.txt");
        await Deno.writeTextFile(source, `sent ${fileCalls}`);
        const moved = await uploadFile(channel, source, "a.txt");
        assert.equal(moved.files, 1);
        assert.equal(await Deno.readTextFile(join(root, "a.txt")), `sent ${fileCalls}`);
        // Without overwrite the existing file is kept; nothing is left behind.
        await Deno.writeTextFile(source, "second");
        await assert.rejects(
          uploadFile(channel, source, "a.txt"),
          (error: unknown) => error instanceof FileError && error.reason === "exists",
        );
        await assert.rejects(
          uploadFile(channel, source, "../a.txt"),
          (error: unknown) => error instanceof FileError && error.reason === "outside_root",
        );
        assert.equal(await Deno.readTextFile(join(root, "a.txt")), `sent ${fileCalls}`);
        assert.deepEqual([...Deno.readDirSync(root)].map((entry) => entry.name), ["a.txt"]);
      });
    });
  }
  assert.throws(() => new FileService({ root: ".", fileCalls: "fast" as "inline" }), RangeError);
});
