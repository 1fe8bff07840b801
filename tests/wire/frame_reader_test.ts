import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import { encodeFrame } from "../../wire/frame.ts";
import { FrameReader, idleReadAheadBytes } from "../../wire/frame_reader.ts";
import { memoryTransportPair } from "../../wire/memory_transport.ts";

Deno.test("FrameReader reads frames split across many small writes", async () => {
  const [a, b] = memoryTransportPair();
  try {
    const frames = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(70000).fill(9)];
    const bytes = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
    let offset = 0;
    for (const frame of frames) {
      bytes.set(encodeFrame(frame), offset);
      offset += 4 + frame.length;
    }
    const writing = (async () => {
      for (let i = 0; i < bytes.length; i += 3) await a.write(bytes.subarray(i, i + 3));
      await a.closeWrite();
    })();
    const reader = new FrameReader(b, { maxFrameBytes: 100000, readAheadBytes: 16 });
    for (const frame of frames) assert.deepEqual(await reader.read(), frame);
    assert.equal(await reader.read(), null);
    await writing;
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("FrameReader reads a large frame straight into its body", async () => {
  const [a, b] = memoryTransportPair({ highWaterBytes: 1 << 22 });
  try {
    const body = crypto.getRandomValues(new Uint8Array(65536));
    await a.write(encodeFrame(body));
    const reader = new FrameReader(b, { maxFrameBytes: 1 << 20 });
    assert.deepEqual(await reader.read(), body);
    assert.equal(reader.bytesRead, 4 + body.length);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("FrameReader rejects a length above maxFrameBytes before allocating", async () => {
  const [a, b] = memoryTransportPair();
  try {
    // 0xFFFFFFF0 bytes announced: allocating it would take 4 GiB.
    await a.write(new Uint8Array([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    const reader = new FrameReader(b, { maxFrameBytes: 1024 });
    await assert.rejects(() => reader.read(), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.match(error.message, /length 4294967280 exceeds the 1024-byte limit/);
      return true;
    });
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("FrameReader rejects a stream that ends inside a frame", async () => {
  for (const bytes of [new Uint8Array([0, 0]), new Uint8Array([0, 0, 0, 5, 1, 2])]) {
    const [a, b] = memoryTransportPair();
    try {
      await a.write(bytes);
      await a.closeWrite();
      await assert.rejects(() => new FrameReader(b).read(), ProtocolError);
    } finally {
      a.close();
      b.close();
    }
  }
});

Deno.test("FrameReader maxFrameBytes setter refuses values outside the protocol range", () => {
  const [a, b] = memoryTransportPair();
  try {
    const reader = new FrameReader(a);
    assert.throws(() => reader.maxFrameBytes = 0, RangeError);
    assert.throws(() => reader.maxFrameBytes = 2 ** 32, RangeError);
    reader.maxFrameBytes = 2048;
    assert.equal(reader.maxFrameBytes, 2048);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("FrameReader waits on a quiet connection with only its small read-ahead", async () => {
  const [a, b] = memoryTransportPair({ highWaterBytes: 1 << 20 });
  // Records the room each read was given, to see what a pending read holds.
  const rooms: number[] = [];
  const watched = {
    ...b,
    remoteAddr: b.remoteAddr,
    localAddr: b.localAddr,
    read: (buffer: Uint8Array) => {
      rooms.push(buffer.length);
      return b.read(buffer);
    },
  };
  try {
    const reader = new FrameReader(watched, { maxFrameBytes: 1 << 16 });
    // A burst of small frames: reads that fill their room switch to the full read-ahead.
    const frames = Array.from({ length: 200 }, (_, i) => new Uint8Array(100).fill(i));
    for (const frame of frames) await a.write(encodeFrame(frame));
    for (const frame of frames) assert.deepEqual(await reader.read(), frame);
    assert.ok(
      rooms.some((room) => room > idleReadAheadBytes),
      `a burst is read with the full read-ahead (rooms ${rooms})`,
    );
    // Now nothing is waiting: the next read goes into the small buffer and stays pending there.
    const next = reader.read();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(rooms.at(-1)! <= idleReadAheadBytes, `pending read room ${rooms.at(-1)}`);
    reader.trim();
    assert.equal(reader.readAheadBytesHeld, idleReadAheadBytes);
    await a.write(encodeFrame(new Uint8Array([7])));
    assert.deepEqual(await next, new Uint8Array([7]));
  } finally {
    a.close();
    b.close();
  }
});
