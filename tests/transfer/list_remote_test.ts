/**
 * listRemote() against servers that cut their listing where they like, and against hostile
 * ones: each server here is a real channel over an in-memory transport whose LIST answer the
 * test writes byte by byte.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import type { Channel } from "../../session/channel.ts";
import { type Stream, StreamKind } from "../../session/stream.ts";
import { listRemote } from "../../transfer/list_remote.ts";
import { statRemote } from "../../transfer/stat_remote.ts";
import { maxListLineBytes } from "../../transfer/file_protocol.ts";
import { type ChannelPair, channelPair } from "../_helpers.ts";

const encoder = new TextEncoder();

function line(path: string): string {
  return JSON.stringify({ path, type: "file", size: 1, mtimeMs: 0, mode: 0o644 }) + "\n";
}

/** What a test server does with a LIST; `channel` is the server's side. */
type ListAnswer = (stream: Stream, channel: Channel) => Promise<void>;

/**
 * A channel pair whose server answers LIST with `answer` and STAT with a fixed file; the
 * server's failures are kept in `errors`, for the test to look at.
 */
async function listServer(answer: ListAnswer): Promise<ChannelPair & { errors: unknown[] }> {
  const errors: unknown[] = [];
  const server: { channel?: Channel } = {};
  const pair = await channelPair({
    server: {
      onStream: (stream) => {
        const work = stream.kind === StreamKind.list
          ? (async () => {
            stream.reply({});
            await answer(stream, server.channel!);
          })()
          : Promise.resolve().then(() =>
            stream.reply({ type: "file", size: 3, mtimeMs: 0, mode: 0o644 }, { end: true })
          );
        work.catch((error) => errors.push(error));
      },
    },
  });
  server.channel = pair.server;
  return { ...pair, errors };
}

/** Resolves when the client has taken in everything the server sent before (a ping's echo). */
async function delivered(channel: Channel): Promise<void> {
  await channel.ping();
}

Deno.test("listRemote() reads a name whose character is split between two records, while other requests run", async () => {
  const names = ["été/ünïcödé.txt", "日本語.txt", "emoji-😀.bin"];
  const bytes = encoder.encode(names.map(line).join(""));
  // Cut inside the second byte of "é" and inside the 4-byte emoji.
  const firstCut = bytes.indexOf(0xc3) + 1;
  const secondCut = bytes.indexOf(0xf0) + 2;
  const pair = await listServer(async (stream, channel) => {
    await stream.write(bytes.subarray(0, firstCut));
    await delivered(channel);
    await stream.write(bytes.subarray(firstCut, secondCut));
    await delivered(channel);
    await stream.write(bytes.subarray(secondCut), { end: true });
  });
  try {
    const listing = listRemote(pair.client, "www");
    // Another request on the same connection while the listing is inside a character.
    const [info, entries] = await Promise.all([statRemote(pair.client, "x"), listing]);
    assert.equal(info.size, 3);
    assert.deepEqual(entries.map((entry) => entry.path), names);
  } finally {
    await pair.close();
  }
});

Deno.test("listRemote() on two servers at once: one cut inside a character does not break the other", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let cutSent!: () => void;
  const cut = new Promise<void>((resolve) => cutSent = resolve);
  const hostileBytes = encoder.encode(line("ça.txt"));
  const hostile = await listServer(async (stream, channel) => {
    await stream.write(hostileBytes.subarray(0, hostileBytes.indexOf(0xc3) + 1));
    await delivered(channel);
    cutSent();
    await released;
    await stream.write(hostileBytes.subarray(hostileBytes.indexOf(0xc3) + 1), { end: true });
  });
  const honest = await listServer(async (stream) => {
    await stream.write(encoder.encode(line("a.txt") + line("b/c.txt")), { end: true });
  });
  try {
    const first = listRemote(hostile.client, "in");
    first.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
    await cut;
    // The first server's listing now waits inside "ç"; the second server's must be unaffected.
    const second = await listRemote(honest.client, "out");
    assert.deepEqual(second.map((entry) => entry.path), ["a.txt", "b/c.txt"]);
    const info = await statRemote(honest.client, "x");
    assert.equal(info.type, "file");
    release();
    assert.deepEqual((await first).map((entry) => entry.path), ["ça.txt"]);
  } finally {
    release();
    await Promise.all([hostile.close(), honest.close()]);
  }
});

Deno.test("listRemote() refuses a line longer than the limit once it passes it, and resets the stream", async () => {
  const lineBytes = 8 * 1024 * 1024;
  const pieceBytes = 16 * 1024;
  let sent = 0;
  let serverError: unknown;
  const pair = await listServer(async (stream) => {
    const piece = new Uint8Array(pieceBytes).fill(0x61); // "a", never a newline
    try {
      while (sent < lineBytes) {
        await stream.write(piece);
        sent += piece.length;
      }
      await stream.end();
    } catch (error) {
      serverError = error;
    }
  });
  try {
    await assert.rejects(listRemote(pair.client, "www"), (error) => {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(error.message, new RegExp(`longer than the ${maxListLineBytes}-byte limit`));
      return true;
    });
    // The client stopped the server long before the 8 MiB line was through: the server's
    // next write after the reset failed.
    await delivered(pair.client);
    assert.ok(serverError !== undefined, "the server was not stopped");
    assert.ok(sent < lineBytes, `the server sent all ${sent} bytes`);
  } finally {
    await pair.close();
  }
});

Deno.test("listRemote() refuses an unsafe listed path and a field out of range", async () => {
  const cases = [
    line("../../etc/passwd"),
    line("/etc/passwd"),
    line("a//b"),
    line("a/./b"),
    line("x".repeat(256)),
    JSON.stringify({ path: "a", type: "file", size: -1, mtimeMs: 0, mode: 0 }) + "\n",
    '{"path":"a","type":"file","size":1e400,"mtimeMs":0,"mode":0}\n',
    JSON.stringify({ path: "a", type: "file", size: 1.5, mtimeMs: 0, mode: 0 }) + "\n",
    JSON.stringify({ path: "a", type: "file", size: 1, mtimeMs: 0, mode: 0o17777 }) + "\n",
    JSON.stringify({ path: "a", type: "device", size: 1, mtimeMs: 0, mode: 0 }) + "\n",
    JSON.stringify({ path: "a", type: "symlink", size: 1, mtimeMs: 0, mode: 0 }) + "\n",
    '["a"]\n',
    "not json\n",
  ];
  for (const text of cases) {
    const pair = await listServer(async (stream) => {
      await stream.write(encoder.encode(line("fine.txt") + text), { end: true }).catch(() => {});
    });
    try {
      await assert.rejects(listRemote(pair.client, "www"), ProtocolError, text);
    } finally {
      await pair.close();
    }
  }
});
