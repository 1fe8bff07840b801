/**
 * `FrameReader`: reads length-prefixed frames (`frame.ts`) from a `Transport`, for the handshake
 * and then the record layer (`session/record_receiver.ts`). It checks each length against its
 * limit before allocating, and recycles large frame buffers.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { frameHeaderBytes, maxHandshakeFrameBytes, protocolMaxFrameBytes } from "./frame.ts";
import type { Transport } from "./transport.ts";

/** Options for {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest frame body accepted; checked before anything is allocated. Default 16384. */
  maxFrameBytes?: number;
  /** Size of the read-ahead buffer. Default 16384. */
  readAheadBytes?: number;
}

/**
 * Read-ahead for headers and small frames while data flows. Kept small because it is held by
 * the read in progress; large frames are read straight into their own buffer anyway.
 */
const defaultReadAheadBytes = 4096;
/**
 * Read-ahead while the connection is quiet: a read that found nothing waiting goes into this
 * buffer, so that an idle connection's pending read holds only this much. A read that fills it
 * switches back to the full read-ahead.
 */
export const idleReadAheadBytes = 512;
/** Frames at least this large are read into recycled buffers (see FrameReader.release). */
const pooledFrameBytes = 65536;
/** Recycled frame buffers kept at most. */
const maxPooledBuffers = 4;

/**
 * Reads length-prefixed frames from a {@linkcode Transport}. It keeps one fixed read-ahead
 * buffer and, for the frame being read, one array of exactly the announced length, allocated
 * only after the length passed the `maxFrameBytes` check. A large body is read straight into its
 * own array, without an extra copy.
 *
 * @example Read two frames, then the end
 * ```ts
 * import { FrameReader } from "./frame_reader.ts";
 * import { encodeFrame } from "./frame.ts";
 * import { memoryTransportPair } from "./memory_transport.ts";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = memoryTransportPair();
 * await a.write(encodeFrame(new Uint8Array([1])));
 * await a.write(encodeFrame(new Uint8Array([2, 3])));
 * await a.closeWrite();
 * const reader = new FrameReader(b);
 * assert.deepEqual(await reader.read(), new Uint8Array([1]));
 * assert.deepEqual(await reader.read(), new Uint8Array([2, 3]));
 * assert.equal(await reader.read(), null);
 * b.close();
 * ```
 */
export class FrameReader {
  #transport: Transport;
  /** The read-ahead in use: `#idle`, or `#busy` while reads keep filling what they are given. */
  #buffer: Uint8Array;
  #idle: Uint8Array;
  #busy: Uint8Array | undefined;
  #readAheadBytes: number;
  /** Whether the last read filled all the room it was given (more is probably waiting). */
  #lastReadFull = false;
  #start = 0;
  #end = 0;
  #maxFrameBytes: number;
  #eof = false;
  #pool: Uint8Array[] = [];
  /** Total bytes read from the transport. */
  bytesRead = 0;

  /**
   * @param transport Where frames come from.
   * @param options The frame size limit and read-ahead size.
   */
  constructor(transport: Transport, options: FrameReaderOptions = {}) {
    this.#transport = transport;
    this.#maxFrameBytes = checkMaxFrameBytes(options.maxFrameBytes ?? maxHandshakeFrameBytes);
    this.#readAheadBytes = options.readAheadBytes ?? defaultReadAheadBytes;
    this.#idle = new Uint8Array(Math.min(idleReadAheadBytes, this.#readAheadBytes));
    this.#buffer = this.#idle;
  }

  /** Bytes of read-ahead buffers held now (the quiet one, and the busy one if allocated). */
  get readAheadBytesHeld(): number {
    return this.#idle.length + (this.#busy?.length ?? 0);
  }

  /** The largest frame body accepted. */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** Changes the limit, e.g. once the handshake has agreed on record sizes. */
  set maxFrameBytes(value: number) {
    this.#maxFrameBytes = checkMaxFrameBytes(value);
    this.#pool = [];
  }

  /**
   * Drops recycled frame buffers and the full read-ahead buffer, e.g. when the connection has
   * gone quiet (a read in progress keeps the buffer it reads into until it returns).
   */
  trim(): void {
    this.#pool = [];
    this.#busy = undefined;
  }

  /**
   * Hands a body returned by {@linkcode FrameReader.read} back for reuse by a later frame.
   * The caller must not touch `body` afterwards. Large frames then cost no allocation, which
   * keeps a fast transfer from piling up garbage faster than the collector frees it.
   */
  release(body: Uint8Array): void {
    const buffer = body.buffer;
    if (
      buffer instanceof ArrayBuffer && buffer.byteLength === this.#maxFrameBytes &&
      this.#pool.length < maxPooledBuffers
    ) {
      this.#pool.push(new Uint8Array(buffer));
    }
  }

  /** A body of `length` bytes: from the pool for large frames, else newly allocated. */
  #allocate(length: number): Uint8Array {
    if (length < pooledFrameBytes) return new Uint8Array(length);
    const buffer = this.#pool.pop() ?? new Uint8Array(this.#maxFrameBytes);
    return buffer.subarray(0, length);
  }

  #busyBuffer(): Uint8Array {
    return this.#busy ??= new Uint8Array(this.#readAheadBytes);
  }

  get #buffered(): number {
    return this.#end - this.#start;
  }

  /** Reads more bytes into the read-ahead buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start === this.#end) {
      // Nothing buffered: a read that will probably wait goes into the small buffer.
      this.#start = this.#end = 0;
      this.#buffer = this.#lastReadFull ? this.#busyBuffer() : this.#idle;
    } else if (this.#end === this.#buffer.length) {
      const target = this.#buffer === this.#idle && this.#idle.length < this.#readAheadBytes
        ? this.#busyBuffer()
        : this.#buffer;
      target.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = target;
      this.#end -= this.#start;
      this.#start = 0;
    }
    const room = this.#buffer.length - this.#end;
    const count = await this.#transport.read(this.#buffer.subarray(this.#end));
    this.#lastReadFull = count === room;
    if (count === null || count === 0) {
      this.#eof = count === null;
      return !this.#eof;
    }
    this.#end += count;
    this.bytesRead += count;
    return true;
  }

  /**
   * Reads the next frame body.
   *
   * @returns The body (the caller owns it until it passes it to `release()`), or `null` at a
   * clean end of stream.
   * @throws {ProtocolError} When the length exceeds the limit or the stream ends mid-frame.
   */
  async read(): Promise<Uint8Array | null> {
    while (this.#buffered < frameHeaderBytes) {
      if (!await this.#fill()) {
        if (this.#buffered === 0) return null;
        throw new ProtocolError(
          `Cannot decode frame: the connection ended inside a frame header (${this.#buffered} of 4 bytes)`,
        );
      }
    }
    const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset + this.#start, 4);
    const length = view.getUint32(0);
    if (length > this.#maxFrameBytes) {
      throw new ProtocolError(
        `Cannot decode frame: length ${length} exceeds the ${this.#maxFrameBytes}-byte limit`,
      );
    }
    this.#start += frameHeaderBytes;
    const body = this.#allocate(length);
    const fromBuffer = Math.min(length, this.#buffered);
    body.set(this.#buffer.subarray(this.#start, this.#start + fromBuffer));
    this.#start += fromBuffer;
    let filled = fromBuffer;
    while (filled < length) {
      // Large remainder: read straight into the body; small: go through the read-ahead buffer.
      const count = length - filled >= this.#readAheadBytes
        ? await this.#readDirect(body.subarray(filled))
        : await this.#readBuffered(body, filled);
      if (count === null) {
        throw new ProtocolError(
          `Cannot decode frame: the connection ended inside a frame (${filled} of ${length} bytes)`,
        );
      }
      filled += count;
    }
    return body;
  }

  async #readDirect(target: Uint8Array): Promise<number | null> {
    if (this.#eof) return null;
    const count = await this.#transport.read(target);
    if (count === null) {
      this.#eof = true;
      return null;
    }
    this.bytesRead += count;
    return count;
  }

  async #readBuffered(body: Uint8Array, filled: number): Promise<number | null> {
    if (!await this.#fill()) return this.#eof ? null : 0;
    const take = Math.min(body.length - filled, this.#buffered);
    body.set(this.#buffer.subarray(this.#start, this.#start + take), filled);
    this.#start += take;
    return take;
  }
}

function checkMaxFrameBytes(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > protocolMaxFrameBytes) {
    throw new RangeError(
      `maxFrameBytes must be an integer from 1 to ${protocolMaxFrameBytes}, got ${value}`,
    );
  }
  return value;
}
