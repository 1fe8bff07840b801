/**
 * Two joined in-memory `Transport` ends with bounded buffers, so that the frame reader, the
 * handshake and the channel can be tested (and shown in doc examples) without sockets. Not used in
 * production.
 *
 * @module
 */

import type { Transport, TransportAddress } from "./transport.ts";

/** Options for {@linkcode memoryTransportPair}. */
export interface MemoryTransportOptions {
  /** Bytes one direction buffers before `write()` waits for the reader. Default 65536. */
  highWaterBytes?: number;
}

const defaultHighWaterBytes = 65536;

class Pipe {
  chunks: Uint8Array[] = [];
  buffered = 0;
  ended = false;
  broken = false;
  #readWaiter: (() => void) | undefined;
  #writeWaiters: (() => void)[] = [];

  constructor(readonly highWaterBytes: number) {}

  wakeReader(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = undefined;
    waiter?.();
  }

  wakeWriters(): void {
    const waiters = this.#writeWaiters;
    this.#writeWaiters = [];
    for (const waiter of waiters) waiter();
  }

  waitReadable(): Promise<void> {
    return new Promise((resolve) => this.#readWaiter = resolve);
  }

  waitWritable(): Promise<void> {
    return new Promise((resolve) => this.#writeWaiters.push(resolve));
  }
}

class MemoryTransport implements Transport {
  readonly remoteAddr: TransportAddress;
  readonly localAddr: TransportAddress;

  constructor(
    readonly incoming: Pipe,
    readonly outgoing: Pipe,
    local: TransportAddress,
    remote: TransportAddress,
  ) {
    this.localAddr = local;
    this.remoteAddr = remote;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    const pipe = this.incoming;
    while (pipe.chunks.length === 0) {
      if (pipe.ended || pipe.broken) return null;
      await pipe.waitReadable();
    }
    let count = 0;
    while (count < buffer.length && pipe.chunks.length > 0) {
      const chunk = pipe.chunks[0];
      const take = Math.min(chunk.length, buffer.length - count);
      buffer.set(chunk.subarray(0, take), count);
      count += take;
      if (take === chunk.length) pipe.chunks.shift();
      else pipe.chunks[0] = chunk.subarray(take);
    }
    pipe.buffered -= count;
    pipe.wakeWriters();
    return count;
  }

  async write(bytes: Uint8Array): Promise<void> {
    const pipe = this.outgoing;
    while (!pipe.broken && !pipe.ended && pipe.buffered >= pipe.highWaterBytes) {
      await pipe.waitWritable();
    }
    if (pipe.broken || pipe.ended) throw new Deno.errors.BrokenPipe("memory transport is closed");
    if (bytes.length === 0) return;
    pipe.chunks.push(bytes.slice());
    pipe.buffered += bytes.length;
    pipe.wakeReader();
  }

  closeWrite(): Promise<void> {
    this.outgoing.ended = true;
    this.outgoing.wakeReader();
    this.outgoing.wakeWriters();
    return Promise.resolve();
  }

  close(): void {
    for (const pipe of [this.incoming, this.outgoing]) {
      pipe.broken = true;
      pipe.wakeReader();
      pipe.wakeWriters();
    }
    this.outgoing.ended = true;
  }
}

/**
 * Two connected in-memory {@linkcode Transport} ends, with bounded buffering in each direction,
 * for testing the codec, handshake and channel without sockets.
 *
 * @example Bytes written to one end are read from the other
 * ```ts
 * import { memoryTransportPair } from "./memory_transport.ts";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = memoryTransportPair();
 * await a.write(new Uint8Array([7]));
 * await a.closeWrite();
 * const buffer = new Uint8Array(4);
 * assert.equal(await b.read(buffer), 1);
 * assert.equal(await b.read(buffer), null);
 * a.close();
 * ```
 */
export function memoryTransportPair(
  options: MemoryTransportOptions = {},
): [Transport, Transport] {
  const highWaterBytes = options.highWaterBytes ?? defaultHighWaterBytes;
  if (!Number.isSafeInteger(highWaterBytes) || highWaterBytes < 1) {
    throw new RangeError(`highWaterBytes must be a positive integer, got ${highWaterBytes}`);
  }
  const aToB = new Pipe(highWaterBytes);
  const bToA = new Pipe(highWaterBytes);
  const a = { hostname: "memory-a", port: 0 };
  const b = { hostname: "memory-b", port: 0 };
  return [new MemoryTransport(bToA, aToB, a, b), new MemoryTransport(aToB, bToA, b, a)];
}
