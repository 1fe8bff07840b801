/**
 * The framing inside long-lived SUBSCRIBE and PULL streams: `headLength (2) || head || bodyLength
 * (4) || body`, written by the server (`pubsub.ts`, `work_queue.ts`) and read by the client
 * (`subscription.ts`, `queue_worker.ts`), each length checked before anything is allocated.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import type { Head, Stream } from "../session/stream.ts";
import { StreamReader } from "../session/stream_reader.ts";
import { utf8Decoder, utf8Encoder } from "../wire/_bytes.ts";

/** Largest head of one event frame, in bytes. */
export const maxEventHeadBytes = 4096;
const headLengthBytes = 2;
const bodyLengthBytes = 4;

/** One frame of a long-lived messaging stream: a JSON head and a body (maybe empty). */
export interface EventFrame {
  /** The frame's head (a JSON object). */
  head: Head;
  /** The body. */
  body: Uint8Array;
}

/**
 * Encodes one frame of a SUBSCRIBE or PULL stream (SPEC.md, "Publish/subscribe"):
 * `headLength (2) || head (UTF-8 JSON object) || bodyLength (4) || body`.
 *
 * @example Encode a frame and read its layout
 * ```ts
 * import { encodeEventFrame } from "./event_frame.ts";
 * import assert from "node:assert/strict";
 *
 * const frame = encodeEventFrame({ dropped: 3 }, new Uint8Array(0));
 * assert.equal(frame.length, 2 + '{"dropped":3}'.length + 4);
 * assert.equal(frame[1], 13);
 * ```
 */
export function encodeEventFrame(head: Head, body: Uint8Array): Uint8Array {
  const headBytes = utf8Encoder.encode(JSON.stringify(head));
  if (headBytes.length > maxEventHeadBytes) {
    throw new RangeError(`Event head of ${headBytes.length} bytes exceeds ${maxEventHeadBytes}`);
  }
  const frame = new Uint8Array(headLengthBytes + headBytes.length + bodyLengthBytes + body.length);
  const view = new DataView(frame.buffer);
  view.setUint16(0, headBytes.length);
  frame.set(headBytes, headLengthBytes);
  view.setUint32(headLengthBytes + headBytes.length, body.length);
  frame.set(body, headLengthBytes + headBytes.length + bodyLengthBytes);
  return frame;
}

/**
 * Reads {@linkcode EventFrame}s from a stream, checking each length against its cap before
 * allocating: a head above {@linkcode maxEventHeadBytes} or a body above `maxBodyBytes` is a
 * {@linkcode ProtocolError}, as is a stream that ends inside a frame.
 *
 * @example See tests/messaging/pubsub_test.ts; in short:
 * ```ts ignore
 * const reader = new EventFrameReader(stream, 16 * 1024 * 1024);
 * for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {}
 * ```
 */
export class EventFrameReader {
  #stream: Stream;
  #reader: StreamReader;
  #maxBodyBytes: number;

  /**
   * Creates the object.
   *
   * @param stream The stream to read.
   * @param maxBodyBytes Largest body accepted.
   */
  constructor(stream: Stream, maxBodyBytes: number) {
    this.#stream = stream;
    this.#reader = new StreamReader(stream);
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** The next frame, or `null` when the peer ended its direction between frames. */
  async next(): Promise<EventFrame | null> {
    const first = await this.#reader.read(headLengthBytes);
    if (first === null) return null;
    const lengthBytes = new Uint8Array(headLengthBytes);
    lengthBytes.set(first);
    if (first.length < headLengthBytes) {
      lengthBytes.set(await this.#reader.readExact(headLengthBytes - first.length), first.length);
    }
    const headLength = new DataView(lengthBytes.buffer).getUint16(0);
    if (headLength > maxEventHeadBytes) {
      throw new ProtocolError(
        `Stream ${this.#stream.id}: event head of ${headLength} bytes exceeds ${maxEventHeadBytes}`,
      );
    }
    const headBytes = await this.#reader.readExact(headLength);
    let head: unknown;
    try {
      head = JSON.parse(utf8Decoder.decode(headBytes));
    } catch (cause) {
      throw new ProtocolError(`Stream ${this.#stream.id}: event head is not UTF-8 JSON`, { cause });
    }
    if (head === null || typeof head !== "object" || Array.isArray(head)) {
      throw new ProtocolError(`Stream ${this.#stream.id}: event head is not a JSON object`);
    }
    const bodyLength = new DataView((await this.#reader.readExact(bodyLengthBytes)).buffer)
      .getUint32(0);
    if (bodyLength > this.#maxBodyBytes) {
      throw new ProtocolError(
        `Stream ${this.#stream.id}: event body of ${bodyLength} bytes exceeds the ` +
          `${this.#maxBodyBytes}-byte limit`,
      );
    }
    const body = await this.#reader.readExact(bodyLength);
    return { head: head as Head, body };
  }
}
