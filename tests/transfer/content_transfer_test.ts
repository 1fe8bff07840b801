import assert from "node:assert/strict";
import { join } from "node:path";
import { ChunkTreeHasher } from "../../files/chunk_tree.ts";
import { Channel } from "../../session/channel.ts";
import { type Stream, StreamKind } from "../../session/stream.ts";
import { StreamReader } from "../../session/stream_reader.ts";
import { sendContent } from "../../transfer/content_transfer.ts";
import type { Transport } from "../../wire/transport.ts";
import { withTempDir } from "../_fixtures.ts";
import { handshakePair } from "../_helpers.ts";

/** A transport that counts the writes (one per sealed record) made through it. */
function counting(transport: Transport): { transport: Transport; writes: () => number } {
  let writes = 0;
  return {
    transport: {
      read: (buffer) => transport.read(buffer),
      write: (bytes) => {
        writes++;
        return transport.write(bytes);
      },
      closeWrite: () => transport.closeWrite(),
      close: () => transport.close(),
      remoteAddr: transport.remoteAddr,
      localAddr: transport.localAddr,
    },
    writes: () => writes,
  };
}

Deno.test("sendContent() sends a small file's content and root in one sealed record", async () => {
  await withTempDir(async (dir) => {
    const content = crypto.getRandomValues(new Uint8Array(1024));
    await Deno.writeFile(join(dir, "small"), content);
    const pair = await handshakePair();
    const counter = counting(pair.clientTransport);
    let incoming: (stream: Stream) => void = () => {};
    const arrived = new Promise<Stream>((resolve) => incoming = resolve);
    const client = new Channel(counter.transport, pair.client, { role: "client" });
    const server = new Channel(pair.serverTransport, pair.server, {
      role: "server",
      onStream: (stream) => incoming(stream),
    });
    const file = await Deno.open(join(dir, "small"), { read: true });
    try {
      const stream = await client.openStream(StreamKind.put, { path: "small", size: 1024 });
      const theirs = await arrived;
      theirs.reply({ offset: 0 });
      const before = counter.writes();
      const root = await sendContent(stream, file, {
        start: 0,
        size: content.length,
        prefixLeaves: [],
        path: "small",
      });
      const received = await new StreamReader(theirs).readExact(content.length + root.length);
      assert.deepEqual(received.subarray(0, content.length), content);
      const hasher = new ChunkTreeHasher();
      await hasher.update(content);
      assert.deepEqual(received.subarray(content.length), await hasher.digest());
      assert.equal(counter.writes() - before, 1);
    } finally {
      file.close();
      client.abort(new Error("test over"));
      server.abort(new Error("test over"));
      await Promise.all([client.closed, server.closed]);
      pair.close();
    }
  });
});
