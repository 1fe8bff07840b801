import { minRekeyRecords } from "../../wire/handshake_codec.ts";
import assert from "node:assert/strict";
import { ConnectionError, RemoteError, TimeoutError } from "../../errors.ts";
import { Channel } from "../../session/channel.ts";
import { type Stream, StreamError } from "../../session/stream.ts";
import { channelPair, handshakePair } from "../_helpers.ts";

/** Echo: answers each stream with its own data. */
function echo(stream: Stream): void {
  (async () => {
    const data = await stream.readAll(1 << 26);
    stream.reply({ ok: true, kind: stream.kind });
    await stream.write(data, { end: true });
  })().catch(() => {});
}

async function roundTrip(channel: Channel, data: Uint8Array): Promise<Uint8Array> {
  const stream = await channel.openStream(9, { n: data.length });
  await stream.write(data, { end: true });
  assert.deepEqual(await stream.replyHead(), { ok: true, kind: 9 });
  return await stream.readAll(1 << 26);
}

Deno.test("Channel carries many streams at once, intact in both directions", async () => {
  const pair = await channelPair({ server: { onStream: echo } });
  try {
    const payloads = Array.from(
      { length: 100 },
      (_, i) => crypto.getRandomValues(new Uint8Array(i * 997 % 60000)),
    );
    const results = await Promise.all(payloads.map((p) => roundTrip(pair.client, p)));
    results.forEach((result, i) => assert.deepEqual(result, payloads[i]));
    assert.equal(pair.client.streamCount, 0);
    assert.equal(pair.server.streamCount, 0);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel lets either side open streams", async () => {
  const pair = await channelPair({ server: { onStream: echo }, client: { onStream: echo } });
  try {
    const data = new Uint8Array([1, 2, 3]);
    assert.deepEqual(await roundTrip(pair.server, data), data);
    assert.deepEqual(await roundTrip(pair.client, data), data);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel answers a small message while a large transfer is in flight", async () => {
  let bulkDone = false;
  const pair = await channelPair({
    server: {
      onStream: (stream) => {
        if (stream.head.bulk) {
          (async () => {
            let total = 0;
            for (let chunk = await stream.read(); chunk; chunk = await stream.read()) {
              total += chunk.length;
            }
            stream.reply({ total }, { end: true });
          })().catch(() => {});
        } else {
          echo(stream);
        }
      },
    },
  });
  try {
    const bulk = await pair.client.openStream(9, { bulk: true });
    const sending = (async () => {
      for (let i = 0; i < 256; i++) await bulk.write(new Uint8Array(65536));
      await bulk.end();
      const head = await bulk.replyHead();
      bulkDone = true;
      return head;
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const small = await roundTrip(pair.client, new Uint8Array([42]));
    assert.deepEqual(small, new Uint8Array([42]));
    assert.equal(bulkDone, false, "the small message should not wait for the bulk transfer");
    assert.deepEqual(await sending, { total: 256 * 65536 });
  } finally {
    await pair.close();
  }
});

Deno.test("Channel makes a writer wait when the reader does not read (flow control)", async () => {
  let held: Stream | undefined;
  const pair = await channelPair({
    server: {
      onStream: (stream) => {
        held = stream;
      },
    },
  });
  try {
    const stream = await pair.client.openStream(9, {});
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 64; i++) {
        await stream.write(new Uint8Array(16384));
        written += 16384;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The initial window is 256 KiB; at most one more lane's worth may be queued.
    assert.ok(written <= 256 * 1024 + 2 * 65536, `wrote ${written} bytes into a closed window`);
    assert.ok(written < 64 * 16384);
    // Reading releases the writer.
    assert.ok(held);
    let read = 0;
    while (read < 64 * 16384) read += (await held.read())!.length;
    await writing;
    assert.equal(written, 64 * 16384);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel waits for a stream slot when the peer's stream limit is reached", async () => {
  const held: Stream[] = [];
  const pair = await channelPair(
    { server: { onStream: (stream) => held.push(stream) } },
    { server: { maxStreams: 2 } },
  );
  try {
    await pair.client.openStream(9, {});
    await pair.client.openStream(9, {});
    let third = false;
    const opening = pair.client.openStream(9, {}).then((stream) => {
      third = true;
      return stream;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(third, false);
    assert.equal(held.length, 2);
    held[0].reset(StreamError.cancel, "done with it");
    await opening;
    assert.equal(third, true);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel passes a reset to the other side as a RemoteError", async () => {
  const pair = await channelPair({
    server: { onStream: (stream) => stream.reset(StreamError.internal, "no thanks") },
  });
  try {
    const stream = await pair.client.openStream(9, {}, { end: true });
    await assert.rejects(stream.replyHead(), (error: unknown) => {
      assert.ok(error instanceof RemoteError);
      assert.equal(error.remoteCode, StreamError.internal);
      assert.match(error.message, /no thanks/);
      return true;
    });
  } finally {
    await pair.close();
  }
});

Deno.test("Channel.close() lets streams in flight finish, then ends cleanly", async () => {
  const pair = await channelPair({
    server: {
      onStream: (stream) => {
        setTimeout(() => echo(stream), 100);
      },
    },
  });
  try {
    const pending = roundTrip(pair.client, new Uint8Array([7]));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const closing = pair.server.close();
    await assert.rejects(pair.server.openStream(9, {}), ConnectionError);
    assert.deepEqual(await pending, new Uint8Array([7]));
    await closing;
    assert.equal(await pair.server.closed, undefined);
    assert.equal(await pair.client.closed, undefined);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel reports a connection cut without a close record", async () => {
  const pair = await handshakePair();
  const client = new Channel(pair.clientTransport, pair.client, { role: "client" });
  try {
    const stream = await client.openStream(9, {}, { end: true });
    pair.serverTransport.close();
    const error = await client.closed;
    assert.ok(error instanceof ConnectionError, String(error));
    await assert.rejects(stream.replyHead(), ConnectionError);
  } finally {
    client.abort(new Error("test over"));
    pair.close();
  }
});

Deno.test("Channel closes a silent peer after the idle timeout", async () => {
  const pair = await handshakePair();
  // The server side never runs a channel, so it never answers pings.
  const client = new Channel(pair.clientTransport, pair.client, {
    role: "client",
    keepaliveMs: 50,
    idleTimeoutMs: 200,
  });
  try {
    const error = await client.closed;
    assert.ok(error instanceof TimeoutError, String(error));
    assert.match(error.message, /idle/);
  } finally {
    pair.close();
  }
});

Deno.test("Channel keeps a quiet but live connection open with pings", async () => {
  const pair = await channelPair({
    client: { keepaliveMs: 30, idleTimeoutMs: 150 },
    server: { keepaliveMs: 30, idleTimeoutMs: 150, onStream: echo },
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(await roundTrip(pair.client, new Uint8Array([1])), new Uint8Array([1]));
    assert.ok(await pair.client.ping() >= 0);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel renews keys after the announced record count, data intact", async () => {
  const pair = await channelPair(
    { server: { onStream: echo } },
    // The smallest interval a hello may announce (SPEC 4.1), so a few thousand records do.
    { client: { rekeyRecords: minRekeyRecords }, server: { rekeyRecords: minRekeyRecords + 7 } },
  );
  try {
    for (let i = 0; i < 2 * minRekeyRecords + 100; i++) {
      const data = crypto.getRandomValues(new Uint8Array(100 + (i % 50)));
      assert.deepEqual(await roundTrip(pair.client, data), data);
    }
    assert.ok(pair.client.sendEpoch >= 2, `client epoch ${pair.client.sendEpoch}`);
    assert.ok(pair.server.sendEpoch >= 2, `server epoch ${pair.server.sendEpoch}`);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel frees the stream slot of a stream opened with end", async () => {
  const pair = await channelPair(
    { server: { onStream: (stream) => stream.reply({}, { end: true }) } },
    { server: { maxStreams: 2 } },
  );
  try {
    // Five times the limit, one after another: each must finish and free its slot.
    for (let i = 0; i < 10; i++) {
      const stream = await pair.client.openStream(9, {}, { end: true });
      await stream.replyHead();
      assert.equal(await stream.read(), null);
      assert.equal(stream.done, true);
    }
    assert.equal(pair.client.streamCount, 0);
  } finally {
    await pair.close();
  }
});

Deno.test("Channel bounds what it queues for a peer that does not read, whatever the peer announced", async () => {
  // The client announces the largest record limit and then never reads its transport.
  const pair = await handshakePair({
    client: { maxRecordBytes: 16 * 1024 * 1024 },
    server: { maxRecordBytes: 1024 * 1024 + 1024 },
  });
  const maxQueuedBytes = 2 * 1024 * 1024;
  const server = new Channel(pair.serverTransport, pair.server, { role: "server", maxQueuedBytes });
  try {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 64; i++) {
      const stream = await server.openStream(9, {});
      // Each within the stream's initial window: only the queue bound can hold it back.
      writes.push(stream.write(new Uint8Array(256 * 1024)).catch(() => {}));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    // 16 MiB were written; what sits queued stays within the bound (plus one record).
    assert.ok(
      server.queuedBytes <= maxQueuedBytes + 1024 * 1024 + 1024,
      `${server.queuedBytes} bytes queued`,
    );
    assert.ok(server.queuedBytes > 0);
  } finally {
    server.abort(new Error("test over"));
    pair.close();
    await server.closed;
  }
});
