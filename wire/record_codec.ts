/**
 * Channel records: what one sealed frame carries once opened. A sealed frame's plaintext is one
 * or more records back to back, each `type (1) || flags (1) || stream (4) || length (4) ||
 * payload`. Pure functions over bytes; see SPEC.md, "Channel records".
 *
 * @module
 */

import { RecordType } from "./protocol_codes.ts";
import { ProtocolError } from "../errors.ts";
import { ByteReader, utf8Decoder, utf8Encoder } from "./_bytes.ts";

export { RecordType } from "./protocol_codes.ts";

/** One of the {@linkcode RecordType} values. */
export type RecordType = typeof RecordType[keyof typeof RecordType];

/** Flag bit: the sender's direction of the stream ends with this record. */
export const endFlag = 0x01;

/** Bytes of a record header. */
export const recordHeaderBytes = 10;

/** Longest reason text in a reset or close record. */
export const maxReasonBytes = 1024;

/** Payload size of a ping or pong. */
export const pingBytes = 8;

/** One record inside a sealed frame. */
export interface ChannelRecord {
  /** What the record is. */
  type: RecordType;
  /** Flag bits; only {@linkcode endFlag} is defined, the others must be 0. */
  flags: number;
  /** Stream id; 0 for ping, pong and close. */
  streamId: number;
  /** The payload. Decoded records hold a view into the opened plaintext. */
  payload: Uint8Array;
  /**
   * Set by a sender that owns the {@linkcode recordHeaderBytes} bytes right before `payload`
   * in its buffer: a record sealed alone then gets its header written there, without copying
   * the payload. Not part of the encoding.
   */
  headroom?: boolean;
  /**
   * Set by a sender that hands the payload's whole buffer over: once the record is sealed (or
   * copied into a batch), the buffer is freed. Not part of the encoding.
   */
  transfer?: boolean;
}

const connectionTypes: ReadonlySet<number> = new Set([
  RecordType.ping,
  RecordType.pong,
  RecordType.close,
]);

/**
 * Writes records back to back into `target` at `offset`, returning the offset after them.
 * `target` must have room for {@linkcode recordsByteLength} bytes.
 *
 * @example Encode then decode
 * ```ts
 * import { decodeRecords, encodeRecords, recordsByteLength, RecordType } from "./record_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const records = [{ type: RecordType.data, flags: 0, streamId: 1, payload: new Uint8Array([4]) }];
 * const plaintext = new Uint8Array(recordsByteLength(records));
 * assert.equal(encodeRecords(records, plaintext, 0), 11);
 * assert.deepEqual(decodeRecords(plaintext), records);
 * ```
 */
export function encodeRecords(
  records: readonly ChannelRecord[],
  target: Uint8Array,
  offset: number,
): number {
  for (const record of records) {
    encodeRecordHeader(record, target, offset);
    target.set(record.payload, offset + recordHeaderBytes);
    offset += recordHeaderBytes + record.payload.length;
  }
  return offset;
}

/**
 * Writes only the 10-byte header of `record` into `target` at `offset`.
 *
 * @example
 * ```ts
 * import { encodeRecordHeader, RecordType } from "./record_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const header = new Uint8Array(10);
 * encodeRecordHeader({ type: RecordType.data, flags: 1, streamId: 3, payload: new Uint8Array(2) }, header, 0);
 * assert.deepEqual(header, new Uint8Array([2, 1, 0, 0, 0, 3, 0, 0, 0, 2]));
 * ```
 */
export function encodeRecordHeader(
  record: ChannelRecord,
  target: Uint8Array,
  offset: number,
): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, recordHeaderBytes);
  view.setUint8(0, record.type);
  view.setUint8(1, record.flags);
  view.setUint32(2, record.streamId);
  view.setUint32(6, record.payload.length);
}

/**
 * The encoded size of `records`.
 *
 * @example Header plus payload
 * ```ts
 * import { recordsByteLength, RecordType } from "./record_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const ping = { type: RecordType.ping, flags: 0, streamId: 0, payload: new Uint8Array(8) };
 * assert.equal(recordsByteLength([ping, ping]), 36);
 * ```
 */
export function recordsByteLength(records: readonly ChannelRecord[]): number {
  let length = 0;
  for (const record of records) length += recordHeaderBytes + record.payload.length;
  return length;
}

/**
 * Decodes the records of one opened frame and checks each against SPEC.md: known type, no
 * unknown flags, stream 0 exactly for connection records, payload sizes of the fixed-size
 * records. The payloads are views into `plaintext`.
 *
 * @example Unknown types are a ProtocolError
 * ```ts
 * import { decodeRecords } from "./record_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeRecords(new Uint8Array([99, 0, 0, 0, 0, 1, 0, 0, 0, 0])), ProtocolError);
 * ```
 */
export function decodeRecords(plaintext: Uint8Array): ChannelRecord[] {
  const reader = new ByteReader(plaintext, "record");
  const records: ChannelRecord[] = [];
  if (plaintext.length === 0) throw new ProtocolError("Cannot decode record: empty frame");
  while (reader.remaining > 0) {
    const type = reader.u8("type");
    const flags = reader.u8("flags");
    const streamId = reader.u32("stream id");
    const length = reader.u32("length");
    const payload = reader.bytes(length, "payload");
    checkRecord(type, flags, streamId, payload);
    records.push({ type: type as RecordType, flags, streamId, payload });
  }
  return records;
}

function checkRecord(type: number, flags: number, streamId: number, payload: Uint8Array): void {
  if (type < RecordType.open || type > RecordType.close) {
    throw new ProtocolError(`Cannot decode record: unknown type ${type}`);
  }
  if ((flags & ~endFlag) !== 0) {
    throw new ProtocolError(`Cannot decode record: unknown flags 0x${flags.toString(16)}`);
  }
  const connectionRecord = connectionTypes.has(type);
  if (connectionRecord !== (streamId === 0)) {
    throw new ProtocolError(
      `Cannot decode record: type ${type} on stream ${streamId} (${
        connectionRecord ? "must be 0" : "must not be 0"
      })`,
    );
  }
  const fixed = type === RecordType.ping || type === RecordType.pong
    ? pingBytes
    : type === RecordType.window
    ? 4
    : undefined;
  if (fixed !== undefined && payload.length !== fixed) {
    throw new ProtocolError(
      `Cannot decode record: type ${type} needs a ${fixed}-byte payload, got ${payload.length}`,
    );
  }
  if (type === RecordType.reset || type === RecordType.close) {
    if (payload.length < 2 || payload.length > 2 + maxReasonBytes) {
      throw new ProtocolError(`Cannot decode record: reason of ${payload.length} bytes`);
    }
  }
  if (type === RecordType.open && payload.length < 1) {
    throw new ProtocolError("Cannot decode record: open without a stream kind");
  }
}

/** A reset or close payload, decoded. */
export interface Reason {
  /** Error code (SPEC.md, "Stream error codes"). */
  code: number;
  /** Human-readable reason, at most 1024 bytes of UTF-8. */
  message: string;
}

/**
 * Encodes `code (2) || reason (UTF-8)` for reset and close records, cutting the reason to
 * {@linkcode maxReasonBytes} bytes on a character boundary.
 *
 * @example Round trip
 * ```ts
 * import { decodeReason, encodeReason } from "./record_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeReason(encodeReason({ code: 3, message: "busy" })), { code: 3, message: "busy" });
 * ```
 */
export function encodeReason(reason: Reason): Uint8Array {
  let text = utf8Encoder.encode(reason.message);
  if (text.length > maxReasonBytes) {
    let end = maxReasonBytes;
    while (end > 0 && (text[end] & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, reason.code);
  out.set(text, 2);
  return out;
}

/**
 * Decodes a reset or close payload. Invalid UTF-8 in the reason is a ProtocolError.
 *
 * @example Invalid UTF-8
 * ```ts
 * import { decodeReason } from "./record_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeReason(new Uint8Array([0, 1, 0xff])), ProtocolError);
 * ```
 */
export function decodeReason(payload: Uint8Array): Reason {
  const reader = new ByteReader(payload, "reason");
  const code = reader.u16("code");
  try {
    return { code, message: utf8Decoder.decode(reader.rest()) };
  } catch (cause) {
    throw new ProtocolError("Cannot decode reason: invalid UTF-8", { cause });
  }
}
