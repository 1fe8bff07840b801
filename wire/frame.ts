/**
 * Frames: a 4-byte big-endian body length, then the body. Every message of the handshake and
 * every sealed record of the channel is one frame.
 *
 * @module
 */

/** Size of the length prefix. */
export const frameHeaderBytes = 4;

/** Largest frame body accepted before the handshake is complete. */
export const maxHandshakeFrameBytes = 16384;

/** Largest frame body the protocol allows at all: 16 MiB plus the 16-byte tag. */
export const protocolMaxFrameBytes = 16 * 1024 * 1024 + 16;

/**
 * Encodes one frame: `length (4, big-endian) || body`.
 *
 * @example Encode three bytes
 * ```ts
 * import { encodeFrame } from "./frame.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(encodeFrame(new Uint8Array([9, 8, 7])), new Uint8Array([0, 0, 0, 3, 9, 8, 7]));
 * ```
 *
 * @param body The frame body.
 * @returns A new array holding the length prefix and the body.
 */
export function encodeFrame(body: Uint8Array): Uint8Array {
  if (body.length > protocolMaxFrameBytes) {
    throw new RangeError(
      `Cannot encode frame: ${body.length} bytes exceed the ${protocolMaxFrameBytes}-byte limit`,
    );
  }
  const out = new Uint8Array(frameHeaderBytes + body.length);
  writeFrameHeader(out, body.length);
  out.set(body, frameHeaderBytes);
  return out;
}

/**
 * Writes the 4-byte length prefix for a body of `length` bytes at the start of `target`.
 *
 * @example Prefix a buffer that already holds the body after 4 free bytes
 * ```ts
 * import { writeFrameHeader } from "./frame.ts";
 * import assert from "node:assert/strict";
 *
 * const frame = new Uint8Array([0, 0, 0, 0, 42]);
 * writeFrameHeader(frame, 1);
 * assert.deepEqual(frame, new Uint8Array([0, 0, 0, 1, 42]));
 * ```
 *
 * @param target Where to write; at least 4 bytes.
 * @param length The body length.
 */
export function writeFrameHeader(target: Uint8Array, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > 0xffffffff) {
    throw new RangeError(`Cannot encode frame length ${length}`);
  }
  new DataView(target.buffer, target.byteOffset, frameHeaderBytes).setUint32(0, length);
}
