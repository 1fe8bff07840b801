import assert from "node:assert/strict";
import { SendQueue } from "../../session/send_queue.ts";
import { RecordType } from "../../wire/protocol_codes.ts";

const data = (streamId: number, bytes: number) => ({
  type: RecordType.data,
  flags: 0,
  streamId,
  payload: new Uint8Array(bytes),
});

Deno.test("SendQueue makes a stream wait past two records and the connection past its bound", async () => {
  const queue = new SendQueue({ maxRecordBytes: 1000, maxQueuedBytes: 3000, maxControlBytes: 100 });
  queue.pushStream(1, data(1, 990));
  assert.equal(queue.hasRoom(1), true);
  queue.pushStream(1, data(1, 990));
  assert.equal(queue.hasRoom(1), false, "two records of its own");
  assert.equal(queue.hasRoom(3), true);
  queue.pushStream(3, data(3, 990));
  assert.equal(queue.hasRoom(5), false, "the connection holds 3000 bytes");
  let woken = false;
  const waiting = queue.waitRoom(5).then(() => woken = true);
  queue.takeBatch();
  await waiting;
  assert.equal(woken, true);
});

Deno.test("SendQueue.dropStream() says whether the stream's OPEN never went out", () => {
  const queue = new SendQueue({ maxRecordBytes: 1000, maxQueuedBytes: 3000, maxControlBytes: 100 });
  queue.pushStream(1, { ...data(1, 5), type: RecordType.open });
  assert.equal(queue.dropStream(1), true);
  assert.equal(queue.empty, true);
  queue.pushStream(3, data(3, 5));
  assert.equal(queue.dropStream(3), false);
});

Deno.test("SendQueue.pushControl() reports a peer that lets control records pile up", () => {
  const queue = new SendQueue({ maxRecordBytes: 1000, maxQueuedBytes: 3000, maxControlBytes: 40 });
  const pong = { type: RecordType.pong, flags: 0, streamId: 0, payload: new Uint8Array(8) };
  assert.equal(queue.pushControl(pong), true);
  assert.equal(queue.pushControl(pong), true);
  assert.equal(queue.pushControl(pong), false);
});
