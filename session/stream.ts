/**
 * `Stream`: one stream of a channel (open, reply, data, end, reset), with flow control in both
 * directions; it re-exports the stream kinds and error codes (`wire/protocol_codes.ts`) and the
 * head codec (`wire/head_codec.ts`). Services read and write streams; the channel (`channel.ts`)
 * turns their records into sealed batches and back. Over 450 lines: both directions, the window
 * credit, the server's buffer budget and the stall timeout share one stream's state.
 *
 * @module
 */

import { decodeHead, encodeHead, type Head } from "../wire/head_codec.ts";
import { StreamError } from "../wire/protocol_codes.ts";
import {
  ConnectionError,
  LimitError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../errors.ts";
import { sharedTimers, type TimerEntry } from "../async/timer_queue.ts";
import type { BudgetRefusal } from "./budget.ts";
import { concatBytes, freeBuffer } from "../wire/_bytes.ts";
import { type ChannelRecord, decodeReason, endFlag, RecordType } from "../wire/record_codec.ts";

/** Credit each side grants every new stream in each direction, before any window update. */
export const initialWindowBytes = 262144;
/** Largest flow-control window a stream may reach. */
export const maxWindowBytes = 2 ** 31 - 1;

export { StreamError, StreamKind } from "../wire/protocol_codes.ts";
export { decodeHead, encodeHead, type Head, maxHeadBytes } from "../wire/head_codec.ts";

/** What a stream needs from its channel. Internal. */
export interface StreamHost {
  /** Largest data payload in one record. */
  readonly maxDataBytes: number;
  /** Queues a record of this stream, in stream order. */
  enqueue(stream: Stream, record: ChannelRecord): void;
  /** Queues a window update (may go ahead of the stream's queued data). */
  enqueueWindow(stream: Stream, increment: number): void;
  /** Resolves when the stream's queued bytes are low enough to queue more. */
  waitQueueRoom(stream: Stream): Promise<void>;
  /** True when the stream may queue more now. */
  hasQueueRoom(stream: Stream): boolean;
  /** Drops the stream's queued records and tells the peer the stream is reset. */
  sendReset(stream: Stream, code: number, message: string): void;
  /** The stream is finished in both directions; forget it (and give back its reservation). */
  finished(stream: Stream): void;
  /** Takes `bytes` of the connection's buffer budget; the refusal when over it. */
  take(bytes: number): BudgetRefusal | undefined;
  /** Takes as much of `bytes` of the buffer budget as there is room for; returns it. */
  takeUpTo(bytes: number): number;
  /** Gives back `bytes` of the buffer budget. */
  give(bytes: number): void;
  /** Reports a budget or timeout that ended a stream (for the server's log). */
  limitReached(detail: string): void;
}

/** A read or write waiting for the peer; `stall` is its stall time limit, when one is set. */
type Waiter = {
  resolve: () => void;
  reject: (error: unknown) => void;
  stall: TimerEntry | undefined;
};

/**
 * One stream of a channel: a head and data in each direction, with flow control. The side that
 * opens it sends an open record (kind and head) then data; the other side answers with a reply
 * record (head) then data. Either side ends its direction with the end flag, or aborts the
 * whole stream with a reset.
 *
 * Streams are made by `Channel.openStream()` and handed to the channel's `onStream` callback;
 * see tests/session/channel_test.ts.
 */
export class Stream {
  /** Stream id: odd when the client opened it, even when the server did. */
  readonly id: number;
  /** What the stream is for (SPEC.md, "Stream kinds"). */
  readonly kind: number;
  /** The opener's head. */
  readonly head: Head;
  /** True when the peer opened this stream. */
  readonly incoming: boolean;

  #host: StreamHost;
  #chunks: Uint8Array[] = [];
  /** Chunks that own their buffer (made on the first: most streams never get one). */
  #exclusive: WeakSet<Uint8Array> | undefined;
  #remoteEnded = false;
  #localEnded = false;
  #error: unknown;
  #readWaiter: Waiter | undefined;
  #creditWaiters: Waiter[] = [];
  #sendCredit = initialWindowBytes;
  #receiveCredit = initialWindowBytes;
  #windowTarget = initialWindowBytes;
  #consumed = 0;
  #replySent = false;
  #replyHead: Promise<Head>;
  #resolveReply!: (head: Head) => void;
  #rejectReply!: (error: unknown) => void;
  /** Whether the reply head arrived (then an end of the stream is no error to build). */
  #replied = false;
  #done = false;
  /**
   * Bytes of the connection's buffer budget this stream holds: its raised window (taken whole
   * when raised), or else each chunk held until it is read; plus what readAll() gathered.
   */
  #reservedBytes: number;
  #windowRaised = false;
  #budgetReleased = false;
  /**
   * How many of the chunks queued first are charged to the budget. Only chunks received before
   * the window is raised are charged, and the window is raised once, so they are always the
   * first ones queued: a count says which (a set per stream cost every message an allocation).
   */
  #chargedChunks = 0;
  #stallTimeoutMs: number | undefined;
  /** Bytes of data received on this stream. */
  bytesReceived = 0;
  /** Bytes of data sent on this stream. */
  bytesSent = 0;

  /** @internal Made by the channel. */
  constructor(host: StreamHost, id: number, kind: number, head: Head, incoming: boolean) {
    this.#host = host;
    this.#reservedBytes = 0;
    this.id = id;
    this.kind = kind;
    this.head = head;
    this.incoming = incoming;
    this.#replyHead = new Promise((resolve, reject) => {
      this.#resolveReply = resolve;
      this.#rejectReply = reject;
    });
    this.#replyHead.catch(() => {});
  }

  /** True once the stream is over (both directions ended, or reset). */
  get done(): boolean {
    return this.#done;
  }

  /** The error that ended the stream, if one did. */
  get error(): unknown {
    return this.#error;
  }

  /**
   * @internal The stream is over: returns the bytes of the connection's buffer budget it
   * holds, for the channel to give back, and takes or gives nothing more.
   */
  releaseReserved(): number {
    const bytes = this.#reservedBytes;
    this.#reservedBytes = 0;
    this.#budgetReleased = true;
    return bytes;
  }

  /**
   * Resets the stream (code `cancel`) when a read waits for the peer's data, or a write for its
   * window credit, longer than `ms`: a peer that stops half way cannot hold the stream, and what
   * it holds, for ever. `undefined` turns it off (the default).
   */
  setStallTimeout(ms: number | undefined): void {
    if (ms !== undefined && !(Number.isSafeInteger(ms) && ms > 0)) {
      throw new RangeError(`Stall timeout must be a positive number of ms, got ${ms}`);
    }
    this.#stallTimeoutMs = ms;
  }

  // ---- Sending --------------------------------------------------------------------------

  /** Opener only: the head of the peer's answer. Rejects if the stream is reset first. */
  replyHead(): Promise<Head> {
    return this.#replyHead;
  }

  /** Answering side only: sends the reply head, optionally ending our direction with it. */
  reply(head: Head, options: { end?: boolean } = {}): void {
    this.#checkWritable();
    if (!this.incoming) throw new TypeError("Only the answering side of a stream can reply");
    if (this.#replySent) throw new TypeError("The reply head was already sent");
    this.#replySent = true;
    const end = options.end === true;
    this.#host.enqueue(this, {
      type: RecordType.reply,
      flags: end ? endFlag : 0,
      streamId: this.id,
      payload: encodeHead(head),
    });
    if (end) this.#endLocal();
  }

  /**
   * Sends data, waiting for flow-control credit and queue room. The stream takes ownership of
   * `data`: do not modify it until the promise resolves. With `end`, the last record carries
   * the end flag. With `headroom`, the caller declares that the 10 bytes before `data` in its
   * buffer are free, so the record can be sealed without copying `data`. With `transfer`, the
   * caller hands the whole buffer of `data` over: it is freed once sealed.
   */
  async write(
    data: Uint8Array,
    options: { end?: boolean; headroom?: boolean; transfer?: boolean } = {},
  ): Promise<void> {
    this.#checkWritable();
    if (this.incoming && !this.#replySent) {
      throw new TypeError("Send the reply head before data");
    }
    const end = options.end === true;
    let offset = 0;
    do {
      // Room is checked again after the last wait, in the same turn as the enqueue: many
      // writers woken together must not all pass one check.
      do {
        await this.#host.waitQueueRoom(this);
        if (data.length > offset) await this.#waitCredit();
        this.#checkWritable();
      } while (!this.#host.hasQueueRoom(this));
      const size = Math.min(data.length - offset, this.#sendCredit, this.#host.maxDataBytes);
      const last = offset + size === data.length;
      this.#sendCredit -= size;
      this.bytesSent += size;
      this.#host.enqueue(this, {
        type: RecordType.data,
        flags: end && last ? endFlag : 0,
        streamId: this.id,
        payload: data.subarray(offset, offset + size),
        // Only the first piece has the caller's free bytes before it; only a piece that is the
        // whole of the data may free the buffer.
        headroom: offset === 0 && options.headroom === true,
        transfer: offset === 0 && size === data.length && options.transfer === true,
      });
      offset += size;
    } while (offset < data.length);
    if (end) this.#endLocal();
  }

  /** Ends our direction (an empty data record with the end flag). */
  async end(): Promise<void> {
    await this.write(new Uint8Array(0), { end: true });
  }

  /** Aborts the stream in both directions and tells the peer why. */
  reset(code: number, message: string): void {
    if (this.#done) return;
    this.#host.sendReset(this, code, message);
    this.#fail(new ConnectionError(`Stream ${this.id} was reset locally: ${message}`));
  }

  /** Raises the receive window to `bytes` (more data in flight, more memory). */
  setWindow(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > maxWindowBytes) {
      throw new RangeError(`Window must be 1..${maxWindowBytes} bytes, got ${bytes}`);
    }
    if (bytes <= this.#windowTarget || this.#remoteEnded || this.#done) return;
    // A larger window is more the peer may make us hold: only as much as the budget allows,
    // taken whole (the chunks it brings are then not charged one by one).
    let increment: number;
    if (this.#windowRaised) {
      increment = this.#host.takeUpTo(bytes - this.#windowTarget);
      if (increment === 0) return;
      this.#reservedBytes += increment;
    } else {
      const granted = this.#host.takeUpTo(bytes);
      if (granted <= this.#windowTarget) {
        this.#host.give(granted);
        return;
      }
      this.#windowRaised = true;
      this.#reservedBytes += granted;
      increment = granted - this.#windowTarget;
    }
    this.#windowTarget += increment;
    this.#receiveCredit += increment;
    this.#host.enqueueWindow(this, increment);
  }

  // ---- Receiving ------------------------------------------------------------------------

  /** The next chunk of the peer's data, or `null` once the peer ended its direction. */
  async read(): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#remoteEnded) return null;
      await this.#wait((waiter) => this.#readWaiter = waiter, "data");
    }
    const chunk = this.#chunks.shift()!;
    if (this.#chargedChunks > 0) {
      this.#chargedChunks--;
      if (!this.#budgetReleased) {
        this.#reservedBytes -= chunk.length;
        this.#host.give(chunk.length);
      }
    }
    this.#consumed += chunk.length;
    if (!this.#remoteEnded && this.#consumed >= this.#windowTarget / 2) {
      this.#receiveCredit += this.#consumed;
      this.#host.enqueueWindow(this, this.#consumed);
      this.#consumed = 0;
    }
    return chunk;
  }

  /**
   * Reads the peer's data to its end, refusing more than `maxBytes`: past the limit the stream
   * is reset and a {@linkcode ProtocolError} thrown. What it gathers is taken from the
   * connection's buffer budget (on a server) until the stream ends; over the budget the stream
   * is reset with code `refused` and a {@linkcode LimitError} thrown.
   */
  async readAll(maxBytes: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) {
      total += chunk.length;
      if (total > maxBytes) {
        this.reset(StreamError.protocol, `message larger than the ${maxBytes}-byte limit`);
        throw new ProtocolError(
          `Stream ${this.id}: the peer sent more than the ${maxBytes}-byte limit`,
        );
      }
      const overBudget = this.#budgetReleased ? undefined : this.#host.take(chunk.length);
      if (overBudget !== undefined) {
        this.#host.limitReached(`stream ${this.id} reset: ${overBudget.message}`);
        this.reset(StreamError.refused, overBudget.message);
        throw new LimitError(`Stream ${this.id}: ${overBudget.message}`);
      }
      if (!this.#budgetReleased) this.#reservedBytes += chunk.length;
      chunks.push(chunk);
    }
    return chunks.length === 1 ? chunks[0] : concatBytes(chunks);
  }

  // ---- Called by the channel ------------------------------------------------------------

  /**
   * Frees the memory of a chunk returned by {@linkcode Stream.read} once the caller is done
   * with it (and with every view of it), when the chunk owns its buffer; otherwise does
   * nothing. For bulk readers that must not leave a garbage collector's worth of records
   * behind.
   */
  release(chunk: Uint8Array): void {
    if (this.#exclusive?.has(chunk)) {
      this.#exclusive.delete(chunk);
      freeBuffer(chunk);
    }
  }

  /**
   * @internal A record for this stream arrived (open records are handled by the channel).
   * `exclusive`: its payload is the only thing in its buffer.
   */
  receive(record: ChannelRecord, exclusive = false): void {
    if (this.#done) return;
    switch (record.type) {
      case RecordType.reply: {
        if (this.incoming) throw new ProtocolError(`Stream ${this.id}: reply from the opener`);
        this.#resolveReply(decodeHead(record.payload, "reply"));
        this.#replied = true;
        break;
      }
      case RecordType.data: {
        if (this.#remoteEnded) {
          throw new ProtocolError(`Stream ${this.id}: data after the end of the stream`);
        }
        if (record.payload.length > this.#receiveCredit) {
          throw new ProtocolError(
            `Stream ${this.id}: ${record.payload.length} bytes exceed the flow-control window`,
          );
        }
        this.#receiveCredit -= record.payload.length;
        this.bytesReceived += record.payload.length;
        if (record.payload.length > 0) {
          // A payload that shares its decrypted record with others is copied out, so what a
          // stream keeps is what it is charged for, never a whole record pinned by a few bytes.
          const chunk = exclusive ? record.payload : record.payload.slice();
          if (!this.#windowRaised) {
            // Held until read: charged to the connection's budget, or the stream is refused.
            const overBudget = this.#host.take(chunk.length);
            if (overBudget !== undefined) {
              this.#host.limitReached(`stream ${this.id} reset: ${overBudget.message}`);
              this.reset(StreamError.refused, overBudget.message);
              return;
            }
            this.#reservedBytes += chunk.length;
            this.#chargedChunks++;
          }
          this.#chunks.push(chunk);
          if (exclusive) (this.#exclusive ??= new WeakSet()).add(chunk);
        }
        break;
      }
      case RecordType.window: {
        const increment = new DataView(
          record.payload.buffer,
          record.payload.byteOffset,
          4,
        ).getUint32(0);
        if (increment === 0 || this.#sendCredit + increment > maxWindowBytes) {
          throw new ProtocolError(`Stream ${this.id}: invalid window increment ${increment}`);
        }
        this.#sendCredit += increment;
        this.#wakeCredit();
        return;
      }
      case RecordType.reset: {
        const { code, message } = decodeReason(record.payload);
        this.#fail(
          new RemoteError(`The peer aborted stream ${this.id}: ${message}`, { remoteCode: code }),
        );
        return;
      }
      default:
        throw new ProtocolError(`Stream ${this.id}: unexpected record type ${record.type}`);
    }
    if ((record.flags & endFlag) !== 0) {
      this.#remoteEnded = true;
      if (!this.incoming && !this.#replied && record.type === RecordType.data) {
        // An answer that ends before its reply head is malformed. (The error is built only
        // then: an error's stack trace costs microseconds, every answer ends.)
        this.#rejectReply(new ProtocolError(`Stream ${this.id}: ended without a reply`));
      }
    }
    this.#wakeReader();
    this.#checkDone();
  }

  /** @internal The peer's open record carried the end flag: it sends nothing more. */
  openedWithEnd(): void {
    this.#remoteEnded = true;
  }

  /** @internal Our open record carried the end flag: we send nothing more. */
  sentOpenWithEnd(): void {
    this.#endLocal();
  }

  /** @internal The channel broke: fail every waiter. */
  abort(error: unknown): void {
    this.#fail(error);
  }

  #checkWritable(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#localEnded) throw new TypeError(`Stream ${this.id}: our direction already ended`);
  }

  async #waitCredit(): Promise<void> {
    while (this.#sendCredit === 0) {
      if (this.#error !== undefined) throw this.#error;
      await this.#wait((waiter) => this.#creditWaiters.push(waiter), "window credit");
    }
  }

  /**
   * Waits until `register`'s waiter is settled, resetting the stream if that takes longer than
   * the stall timeout. The time limit is an entry of the shared timer queue, not a timer of its
   * own: a message server waits like this once per message.
   */
  #wait(register: (waiter: Waiter) => void, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, stall: undefined };
      const ms = this.#stallTimeoutMs;
      if (ms !== undefined) {
        waiter.stall = sharedTimers.add(ms, () => {
          const message = `no progress for ${ms} ms (waiting for the peer's ${what})`;
          // Settled first, so the caller sees the timeout rather than the reset it causes.
          reject(new TimeoutError(`Stream ${this.id}: ${message}`));
          this.#host.limitReached(`stream ${this.id} reset: ${message}`);
          this.reset(StreamError.cancel, message);
        });
      }
      register(waiter);
    });
  }

  #wakeCredit(): void {
    const waiters = this.#creditWaiters;
    this.#creditWaiters = [];
    for (const waiter of waiters) {
      sharedTimers.cancel(waiter.stall);
      waiter.resolve();
    }
  }

  #wakeReader(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = undefined;
    if (waiter === undefined) return;
    sharedTimers.cancel(waiter.stall);
    waiter.resolve();
  }

  #endLocal(): void {
    this.#localEnded = true;
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#done || !this.#localEnded || !this.#remoteEnded) return;
    this.#done = true;
    this.#host.finished(this);
  }

  #fail(error: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    // Nothing will read them now; whoever still holds the stream must not hold its data.
    this.#chunks = [];
    this.#chargedChunks = 0;
    this.#rejectReply(error);
    const reader = this.#readWaiter;
    this.#readWaiter = undefined;
    if (reader !== undefined) {
      sharedTimers.cancel(reader.stall);
      reader.reject(error);
    }
    const waiters = this.#creditWaiters;
    this.#creditWaiters = [];
    for (const waiter of waiters) {
      sharedTimers.cancel(waiter.stall);
      waiter.reject(error);
    }
    this.#host.finished(this);
  }
}
