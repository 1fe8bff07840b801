/**
 * The command line against a server that tries to reach the user's terminal through what it
 * sends: file names, RESET reasons. The hostile server is the library's own pieces (a TCP
 * listener, the server handshake, a channel) with stream handlers the test writes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { defaultMaxRecordBytes, defaultRekeyRecords } from "../../server.ts";
import { Channel, defaultMaxStreams } from "../../session/channel.ts";
import { serverHandshake } from "../../session/handshake.ts";
import { type Stream, StreamKind } from "../../session/stream.ts";
import { fileErrorCodes } from "../../transfer/file_protocol.ts";
import { DenoTransport } from "../../wire/deno_transport.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import {
  fixtureFingerprint,
  hasScript,
  makeWorld,
  runCli,
  runCliInTerminal,
  startServe,
} from "./_cli.ts";

/** Characters a terminal acts on; none may reach it from the server. */
// deno-lint-ignore no-control-regex -- finding control characters is the point
const terminalControl = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/** A server speaking ovtp to alice with hand-written stream handlers. */
interface HostileServer {
  address: string;
  close(): Promise<void>;
}

async function startHostileServer(onStream: (stream: Stream) => void): Promise<HostileServer> {
  const [identity, alice] = await Promise.all([
    fixtureIdentity("server"),
    fixtureIdentity("alice"),
  ]);
  const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const channels = new Set<Channel>();
  const serving = (async () => {
    for await (const conn of listener) {
      const transport = new DenoTransport(conn);
      serverHandshake(transport, {
        identity,
        authorize: (fingerprint) => authorized.find(fingerprint),
        maxRecordBytes: defaultMaxRecordBytes,
        rekeyRecords: defaultRekeyRecords,
        maxStreams: defaultMaxStreams,
      }).then((result) => {
        const channel = new Channel(transport, result, { role: "server", onStream });
        channels.add(channel);
        channel.closed.finally(() => channels.delete(channel));
      }, () => transport.close());
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async close() {
      listener.close();
      await serving;
      for (const channel of channels) channel.abort(new Error("test over"));
      await Promise.all([...channels].map((channel) => channel.closed));
    },
  };
}

const evilName = "evil\x1b[2J\x9b1J\u202egpj.exe";
const evilReason = "gone\x1b]0;owned\x07\x1b[2J\r\x9b2J\u202etxt.exe";

Deno.test("ovtp get escapes the control characters in a server's names and reset reasons", async () => {
  const world = await makeWorld();
  const server = await startHostileServer((stream) => {
    if (stream.kind === StreamKind.list) {
      stream.reply({});
      const entry = { path: evilName, type: "file", size: 5, mtimeMs: 0, mode: 0o644 };
      stream.write(new TextEncoder().encode(JSON.stringify(entry) + "\n"), { end: true })
        .catch(() => {});
    } else {
      stream.reset(fileErrorCodes.not_found, evilReason);
    }
  });
  try {
    const fingerprint = await fixtureFingerprint("server");
    const run = await runCli(
      ["get", "-r", "--fingerprint", fingerprint, `${server.address}:www`, join(world.dir, "out")],
      { env: world.env(world.aliceHome) },
    );
    assert.equal(run.code, 5, run.stderr);
    assert.doesNotMatch(run.stderr, terminalControl, JSON.stringify(run.stderr));
    // The name is shown escaped; the reason of a not-found reset is not shown at all.
    assert.match(
      run.stderr,
      /evil\\u001b\[2J\\x9b1J\\u202egpj\.exe": No such file or directory/,
    );
    assert.doesNotMatch(run.stderr, /gone/);
    assert.match(run.stderr, /evil\\u001b\[2J\\x9b1J\\u202egpj\.exe/);
  } finally {
    await server.close();
    await world.cleanup();
  }
});

Deno.test({
  name: "ovtp get on a terminal shows a listed name that holds ESC [2J escaped in its progress bar",
  ignore: !hasScript || Deno.build.os === "windows",
  fn: async () => {
    const world = await makeWorld();
    await Deno.mkdir(join(world.root, "www"));
    await Deno.writeFile(join(world.root, "www", evilName), new Uint8Array(4096).fill(7));
    const server = await startServe(["--root", world.root, "--quiet"], {
      env: world.env(world.serverHome),
    });
    try {
      const out = join(world.dir, "out");
      const run = await runCliInTerminal(
        ["get", "-r", "--accept-new", `${server.address}:www`, out],
        { env: world.env(world.aliceHome) },
      );
      assert.equal(run.code, 0, run.stdout);
      // The bar draws itself with \r and ESC [K; nothing else of that kind may come through.
      const screen = run.stdout.replaceAll("\r", "").replaceAll("\x1b[K", "");
      assert.doesNotMatch(screen, terminalControl, JSON.stringify(screen));
      assert.ok(screen.includes("evil\\x1b[2J\\x9b1J\\u202e"), JSON.stringify(screen));
      // The file itself keeps its name: only what is shown is escaped.
      assert.equal((await Deno.stat(join(out, evilName))).size, 4096);
    } finally {
      await server.stop();
      await world.cleanup();
    }
  },
});

Deno.test("ovtp get HOST:PATH - writes nothing and fails when the content's digest does not match", async () => {
  const world = await makeWorld();
  const server = await startHostileServer((stream) => {
    if (stream.kind !== StreamKind.get) return stream.reset(fileErrorCodes.not_found, "no");
    stream.reply({ size: 5, mtimeMs: null, mode: null, offset: 0 });
    const data = new Uint8Array(5 + 32);
    data.set(new TextEncoder().encode("hello"));
    stream.write(data, { end: true }).catch(() => {}); // a root of zeros: not hello's
  });
  try {
    const fingerprint = await fixtureFingerprint("server");
    const tmp = join(world.dir, "tmp");
    await Deno.mkdir(tmp);
    const run = await runCli(
      ["get", "--fingerprint", fingerprint, `${server.address}:a.txt`, "-"],
      { env: { ...world.env(world.aliceHome), TMPDIR: tmp }, cwd: world.dir },
    );
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "", "nothing unverified reaches standard output");
    assert.equal(
      run.stderr,
      "ovtp: a.txt arrived damaged (its digest does not match); nothing was written, send it again\n",
    );
    assert.deepEqual([...Deno.readDirSync(tmp)], [], "the temporary copy is removed");
  } finally {
    await server.close();
    await world.cleanup();
  }
});
