import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import {
  type ChannelRecord,
  decodeReason,
  decodeRecords,
  encodeReason,
  encodeRecords,
  endFlag,
  recordsByteLength,
  RecordType,
} from "../../wire/record_codec.ts";

function encode(records: ChannelRecord[]): Uint8Array {
  const out = new Uint8Array(recordsByteLength(records));
  encodeRecords(records, out, 0);
  return out;
}

Deno.test("decodeRecords() reads several records packed in one plaintext", () => {
  const records: ChannelRecord[] = [
    { type: RecordType.open, flags: endFlag, streamId: 1, payload: new Uint8Array([1, 123, 125]) },
    { type: RecordType.window, flags: 0, streamId: 2, payload: new Uint8Array([0, 0, 1, 0]) },
    { type: RecordType.ping, flags: 0, streamId: 0, payload: new Uint8Array(8) },
    { type: RecordType.data, flags: 0, streamId: 3, payload: new Uint8Array(0) },
  ];
  assert.deepEqual(decodeRecords(encode(records)), records);
});

Deno.test("decodeRecords() enforces stream 0 for connection records and only for them", () => {
  const ping = { type: RecordType.ping, flags: 0, streamId: 5, payload: new Uint8Array(8) };
  assert.throws(() => decodeRecords(encode([ping])), /must be 0/);
  const data = { type: RecordType.data, flags: 0, streamId: 0, payload: new Uint8Array(1) };
  assert.throws(() => decodeRecords(encode([data])), /must not be 0/);
});

Deno.test("decodeRecords() rejects unknown flags, bad sizes and truncation", () => {
  const bad: ChannelRecord[] = [
    { type: RecordType.data, flags: 2, streamId: 1, payload: new Uint8Array(0) },
    { type: RecordType.window, flags: 0, streamId: 1, payload: new Uint8Array(3) },
    { type: RecordType.pong, flags: 0, streamId: 0, payload: new Uint8Array(9) },
    { type: RecordType.reset, flags: 0, streamId: 1, payload: new Uint8Array(1) },
    { type: RecordType.open, flags: 0, streamId: 1, payload: new Uint8Array(0) },
  ];
  for (const record of bad) {
    assert.throws(() => decodeRecords(encode([record])), ProtocolError, JSON.stringify(record));
  }
  const good = encode([{
    type: RecordType.data,
    flags: 0,
    streamId: 1,
    payload: new Uint8Array(4),
  }]);
  assert.throws(() => decodeRecords(good.subarray(0, good.length - 1)), /truncated/);
  assert.throws(() => decodeRecords(new Uint8Array(0)), /empty/);
});

Deno.test("encodeReason() cuts long reasons on a character boundary", () => {
  const payload = encodeReason({ code: 7, message: "é".repeat(1000) });
  assert.ok(payload.length <= 2 + 1024);
  const decoded = decodeReason(payload);
  assert.equal(decoded.code, 7);
  assert.equal(decoded.message, "é".repeat(512));
});
