/**
 * Small big-endian byte readers and writers shared by the codecs. Internal.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";

/** UTF-8 encoder shared by the codecs. */
export const utf8Encoder: TextEncoder = new TextEncoder();
/**
 * Strict UTF-8 decoder: invalid UTF-8 is an error, not a replacement character. Shared by every
 * stream and connection, so only for whole messages: never call it with `{ stream: true }`, which
 * would keep a cut character of one peer's data for the next caller. A reader of data in pieces
 * splits it where no character can be cut, or has its own decoder (transfer/list_parser.ts).
 */
export const utf8Decoder: TextDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads fields from a byte array, front to back. Every read checks the remaining length and
 * throws {@linkcode ProtocolError} naming the message and field when the input is too short.
 */
export class ByteReader {
  #bytes: Uint8Array;
  #view: DataView;
  #offset = 0;
  #what: string;

  /**
   * @param bytes The input.
   * @param what Name of the message, used in error messages.
   */
  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  #need(count: number, field: string): void {
    if (this.remaining < count) {
      throw new ProtocolError(
        `Cannot decode ${this.#what}: truncated ${field} (needs ${count} bytes, ${this.remaining} left)`,
      );
    }
  }

  /** Reads one unsigned byte. */
  u8(field: string): number {
    this.#need(1, field);
    return this.#bytes[this.#offset++];
  }

  /** Reads a big-endian unsigned 16-bit integer. */
  u16(field: string): number {
    this.#need(2, field);
    const value = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return value;
  }

  /** Reads a big-endian unsigned 32-bit integer. */
  u32(field: string): number {
    this.#need(4, field);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** Reads a big-endian unsigned 64-bit integer as a number (must stay below 2^53). */
  u64(field: string): number {
    this.#need(8, field);
    const value = this.#view.getBigUint64(this.#offset);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError(`Cannot decode ${this.#what}: ${field} is larger than 2^53 - 1`);
    }
    this.#offset += 8;
    return Number(value);
  }

  /** Returns the next `count` bytes as a view (no copy). */
  bytes(count: number, field: string): Uint8Array {
    this.#need(count, field);
    const out = this.#bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  /** Reads a u16 length, checks it against `max`, and returns that many bytes. */
  bytes16(field: string, max: number): Uint8Array {
    const length = this.u16(`${field} length`);
    if (length > max) {
      throw new ProtocolError(
        `Cannot decode ${this.#what}: ${field} length ${length} exceeds the ${max}-byte limit`,
      );
    }
    return this.bytes(length, field);
  }

  /** Returns everything not read yet (no copy). */
  rest(): Uint8Array {
    const out = this.#bytes.subarray(this.#offset);
    this.#offset = this.#bytes.length;
    return out;
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.remaining !== 0) {
      throw new ProtocolError(
        `Cannot decode ${this.#what}: ${this.remaining} unexpected trailing bytes`,
      );
    }
  }
}

/** Appends big-endian fields to a growing list of parts, then joins them once. */
export class ByteWriter {
  #parts: Uint8Array[] = [];
  #length = 0;

  /** Total length written so far. */
  get length(): number {
    return this.#length;
  }

  #push(part: Uint8Array): this {
    this.#parts.push(part);
    this.#length += part.length;
    return this;
  }

  /** Appends one byte. */
  u8(value: number): this {
    return this.#push(Uint8Array.of(value));
  }

  /** Appends a big-endian unsigned 16-bit integer. */
  u16(value: number): this {
    const out = new Uint8Array(2);
    new DataView(out.buffer).setUint16(0, value);
    return this.#push(out);
  }

  /** Appends a big-endian unsigned 32-bit integer. */
  u32(value: number): this {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return this.#push(out);
  }

  /** Appends a big-endian unsigned 64-bit integer. */
  u64(value: number): this {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    return this.#push(out);
  }

  /** Appends bytes as they are. */
  bytes(value: Uint8Array): this {
    return this.#push(value);
  }

  /** Appends a u16 length then the bytes; RangeError above 65535 bytes. */
  bytes16(value: Uint8Array): this {
    if (value.length > 0xffff) {
      throw new RangeError(`Cannot encode field: ${value.length} bytes exceed 65535`);
    }
    return this.u16(value.length).bytes(value);
  }

  /** Joins everything written into one array. */
  finish(): Uint8Array {
    return concatBytes(this.#parts);
  }
}

/** Joins byte arrays into one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Frees the memory behind `bytes` now instead of at the next garbage collection, by detaching
 * its `ArrayBuffer`: every view of that buffer becomes empty. Only for buffers nobody else
 * holds. A fast transfer makes garbage faster than V8 collects it (V8 waits for about 64 MiB
 * of external memory before it collects), so the bulk path frees its record buffers itself.
 */
export function freeBuffer(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
}
