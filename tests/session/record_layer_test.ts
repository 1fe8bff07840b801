import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import { RecordReceiver } from "../../session/record_receiver.ts";
import { RecordSender } from "../../session/record_sender.ts";
import { FrameReader } from "../../wire/frame_reader.ts";
import { memoryTransportPair } from "../../wire/memory_transport.ts";
import type { Transport } from "../../wire/transport.ts";
import { handshakePair } from "../_helpers.ts";

const secret = new Uint8Array(32).fill(0x42);

/** Seals `plaintexts` and returns the frames exactly as they went on the wire. */
async function sealToFrames(plaintexts: Uint8Array[], rekeyRecords = 1000): Promise<Uint8Array[]> {
  const [a, b] = memoryTransportPair({ highWaterBytes: 1 << 24 });
  try {
    const sender = new RecordSender(a, secret, { rekeyRecords });
    for (const plaintext of plaintexts) sender.seal(plaintext);
    await sender.flush();
    assert.equal(sender.failure, undefined);
    await a.closeWrite();
    const frames: Uint8Array[] = [];
    const reader = new FrameReader(b, { maxFrameBytes: 1 << 20 });
    for (let frame = await reader.read(); frame !== null; frame = await reader.read()) {
      const withHeader = new Uint8Array(4 + frame.length);
      new DataView(withHeader.buffer).setUint32(0, frame.length);
      withHeader.set(frame, 4);
      frames.push(withHeader);
    }
    return frames;
  } finally {
    a.close();
    b.close();
  }
}

/** Feeds raw frame bytes to a receiver; returns what it delivered and how it ended. */
async function receiveFrames(
  frames: Uint8Array[],
  rekeyRecords = 1000,
): Promise<{ delivered: Uint8Array[]; error: unknown }> {
  const [a, b]: Transport[] = memoryTransportPair({ highWaterBytes: 1 << 24 });
  try {
    for (const frame of frames) await a.write(frame);
    await a.closeWrite();
    const delivered: Uint8Array[] = [];
    const receiver = new RecordReceiver(new FrameReader(b, { maxFrameBytes: 1 << 20 }), secret, {
      rekeyRecords,
    });
    let error: unknown;
    try {
      await receiver.run((plaintext) => delivered.push(plaintext));
    } catch (caught) {
      error = caught;
    }
    return { delivered, error };
  } finally {
    a.close();
    b.close();
  }
}

const messages = [1, 2, 3, 4, 5, 6].map((n) => new Uint8Array(100 * n).fill(n));

Deno.test("RecordReceiver delivers records in order with several opens in flight", async () => {
  const big = Array.from({ length: 20 }, (_, i) => new Uint8Array(200000).fill(i));
  const { delivered, error } = await receiveFrames(await sealToFrames(big));
  assert.equal(error, undefined);
  assert.deepEqual(delivered, big);
});

Deno.test("RecordReceiver detects a flipped ciphertext byte and delivers nothing of it", async () => {
  const frames = await sealToFrames(messages);
  frames[2][30] ^= 0x01;
  const { delivered, error } = await receiveFrames(frames);
  assert.ok(error instanceof ProtocolError, String(error));
  assert.deepEqual(delivered, messages.slice(0, 2));
});

Deno.test("RecordReceiver detects a replayed record", async () => {
  const frames = await sealToFrames(messages);
  const replayed = [frames[0], frames[1], frames[1], frames[2]];
  const { delivered, error } = await receiveFrames(replayed);
  assert.ok(error instanceof ProtocolError);
  assert.deepEqual(delivered, messages.slice(0, 2));
});

Deno.test("RecordReceiver detects reordered and dropped records", async () => {
  const frames = await sealToFrames(messages);
  const reordered = await receiveFrames([frames[0], frames[2], frames[1]]);
  assert.ok(reordered.error instanceof ProtocolError);
  assert.deepEqual(reordered.delivered, messages.slice(0, 1));
  const dropped = await receiveFrames([frames[0], frames[1], frames[3]]);
  assert.ok(dropped.error instanceof ProtocolError);
  assert.deepEqual(dropped.delivered, messages.slice(0, 2));
});

Deno.test("RecordReceiver detects a record cut short", async () => {
  const frames = await sealToFrames(messages);
  const { delivered, error } = await receiveFrames([frames[0], frames[1].subarray(0, 50)]);
  assert.ok(error instanceof ProtocolError);
  assert.deepEqual(delivered, messages.slice(0, 1));
});

Deno.test("RecordReceiver rejects a changed length prefix (it is authenticated)", async () => {
  const frames = await sealToFrames(messages);
  // Same bytes, but claim one byte less and drop the last ciphertext byte.
  const cut = frames[0].slice(0, frames[0].length - 1);
  new DataView(cut.buffer).setUint32(0, cut.length - 4);
  const { delivered, error } = await receiveFrames([cut]);
  assert.ok(error instanceof ProtocolError);
  assert.equal(delivered.length, 0);
});

Deno.test("RecordSender renews its key after rekeyRecords records and the receiver follows", async () => {
  const many = Array.from({ length: 25 }, (_, i) => new Uint8Array([i]));
  const [a, b] = memoryTransportPair({ highWaterBytes: 1 << 24 });
  try {
    const sender = new RecordSender(a, secret, { rekeyRecords: 4 });
    for (const plaintext of many) sender.seal(plaintext);
    await sender.flush();
    assert.equal(sender.epoch, 6);
    await a.closeWrite();
    const delivered: Uint8Array[] = [];
    await new RecordReceiver(new FrameReader(b), secret, { rekeyRecords: 4 }).run((p) =>
      delivered.push(p)
    );
    assert.deepEqual(delivered, many);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("RecordReceiver refuses records sealed under a key that should have been renewed", async () => {
  // The sender never renews (a huge interval); the receiver expects a new key after 4.
  const frames = await sealToFrames(messages, 1 << 20);
  const { delivered, error } = await receiveFrames(frames, 4);
  assert.ok(error instanceof ProtocolError);
  assert.deepEqual(delivered, messages.slice(0, 4));
});

Deno.test("RecordReceiver refuses a record reflected back to its sender", async () => {
  // After a real handshake, what the client sends must not open as something the server sent.
  const pair = await handshakePair();
  try {
    const [a, b] = memoryTransportPair({ highWaterBytes: 1 << 20 });
    try {
      const sender = new RecordSender(a, pair.client.sendSecret, { rekeyRecords: 100 });
      sender.seal(new Uint8Array([1, 2, 3]));
      await sender.flush();
      await a.closeWrite();
      const delivered: Uint8Array[] = [];
      // The client's own receiving side: keyed with the server-to-client secret.
      const receiver = new RecordReceiver(new FrameReader(b), pair.client.receiveSecret, {
        rekeyRecords: 100,
      });
      await assert.rejects(receiver.run((p) => delivered.push(p)), ProtocolError);
      assert.equal(delivered.length, 0);
    } finally {
      a.close();
      b.close();
    }
  } finally {
    pair.close();
  }
});
