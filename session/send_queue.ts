/**
 * What a channel has to send and in which order (SPEC §7): control records first (pongs,
 * window updates, resets, close), then the records of each stream in turn, packed into batches
 * of at most one sealed record each. It also applies the send-side bounds, by our own limits and
 * never by the peer's: a stream may queue at most two records, and the whole connection
 * `maxQueuedBytes`; writers wait beyond them. `Channel` owns one and seals each batch it gives.
 *
 * @module
 */

import { type ChannelRecord, recordHeaderBytes, RecordType } from "../wire/record_codec.ts";

/** Options of {@linkcode SendQueue}. */
export interface SendQueueOptions {
  /** Largest sealed-record plaintext a batch may fill. */
  maxRecordBytes: number;
  /** Bytes of stream records queued before writers wait. */
  maxQueuedBytes: number;
  /** Bytes of control records queued before the peer counts as not reading. */
  maxControlBytes: number;
}

interface Lane {
  records: ChannelRecord[];
  bytes: number;
}

/**
 * The records a channel has yet to seal, per stream and for control.
 *
 * @example Control first, then streams in turn
 * ```ts
 * import { SendQueue } from "./send_queue.ts";
 * import { RecordType } from "../wire/protocol_codes.ts";
 * import assert from "node:assert/strict";
 *
 * const queue = new SendQueue({ maxRecordBytes: 1024, maxQueuedBytes: 4096, maxControlBytes: 4096 });
 * const record = (streamId: number) => ({
 *   type: RecordType.data,
 *   flags: 0,
 *   streamId,
 *   payload: new Uint8Array(10),
 * });
 * queue.pushStream(1, record(1));
 * queue.pushStream(3, record(3));
 * queue.pushControl({ type: RecordType.window, flags: 0, streamId: 1, payload: new Uint8Array(4) });
 * assert.deepEqual(queue.takeBatch().map((r) => r.streamId), [1, 1, 3]);
 * assert.equal(queue.empty, true);
 * ```
 */
export class SendQueue {
  #options: SendQueueOptions;
  #control: ChannelRecord[] = [];
  #controlBytes = 0;
  #lanes = new Map<number, Lane>();
  #ring: number[] = [];
  #queuedBytes = 0;
  #roomWaiters: { streamId: number; wake: () => void }[] = [];

  /** @param options The limits. */
  constructor(options: SendQueueOptions) {
    this.#options = options;
  }

  /** Bytes of stream records queued now. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** True when nothing is queued. */
  get empty(): boolean {
    return this.#control.length === 0 && this.#lanes.size === 0;
  }

  /** True when stream `streamId` has records queued. */
  hasRecords(streamId: number): boolean {
    return (this.#lanes.get(streamId)?.records.length ?? 0) > 0;
  }

  /** Queues a record of a stream, behind its earlier ones. */
  pushStream(streamId: number, record: ChannelRecord): void {
    let lane = this.#lanes.get(streamId);
    if (lane === undefined) {
      lane = { records: [], bytes: 0 };
      this.#lanes.set(streamId, lane);
    }
    if (lane.records.length === 0) this.#ring.push(streamId);
    lane.records.push(record);
    const bytes = recordHeaderBytes + record.payload.length;
    lane.bytes += bytes;
    this.#queuedBytes += bytes;
  }

  /**
   * Queues a control record, ahead of every stream's; returns false when control records past
   * `maxControlBytes` pile up (the peer does not read).
   */
  pushControl(record: ChannelRecord): boolean {
    this.#control.push(record);
    this.#controlBytes += recordHeaderBytes + record.payload.length;
    return this.#controlBytes <= this.#options.maxControlBytes;
  }

  /**
   * Drops what stream `streamId` still had queued; returns true when that included its OPEN
   * (the peer never heard of the stream).
   */
  dropStream(streamId: number): boolean {
    const lane = this.#lanes.get(streamId);
    if (lane === undefined) return false;
    const unsentOpen = lane.records[0]?.type === RecordType.open;
    this.#queuedBytes -= lane.bytes;
    this.#lanes.delete(streamId);
    this.#ring = this.#ring.filter((id) => id !== streamId);
    this.#wakeRoom();
    return unsentOpen;
  }

  /** Takes control records first, then whole records from each stream in turn, up to the limit. */
  takeBatch(): ChannelRecord[] {
    const limit = this.#options.maxRecordBytes;
    const batch: ChannelRecord[] = [];
    let size = 0;
    while (this.#control.length > 0) {
      const next = recordHeaderBytes + this.#control[0].payload.length;
      if (size + next > limit) return batch;
      batch.push(this.#control.shift()!);
      this.#controlBytes -= next;
      size += next;
    }
    const lanesToVisit = this.#ring.length;
    for (let visited = 0; visited < lanesToVisit && size < limit; visited++) {
      const id = this.#ring.shift()!;
      const lane = this.#lanes.get(id)!;
      let took = false;
      while (lane.records.length > 0) {
        const next = recordHeaderBytes + lane.records[0].payload.length;
        if (size + next > limit) break;
        batch.push(lane.records.shift()!);
        lane.bytes -= next;
        this.#queuedBytes -= next;
        size += next;
        took = true;
      }
      if (took) this.#wakeRoom();
      if (lane.records.length === 0) {
        this.#lanes.delete(id);
      } else if (took) {
        this.#ring.push(id);
      } else {
        // Its next record does not fit in this batch: it goes first in the next one.
        this.#ring.unshift(id);
        break;
      }
    }
    return batch;
  }

  /**
   * A stream may queue more while its own queue holds less than two records and the whole
   * connection's less than `maxQueuedBytes`.
   */
  hasRoom(streamId: number): boolean {
    if (this.#queuedBytes >= this.#options.maxQueuedBytes) return false;
    return (this.#lanes.get(streamId)?.bytes ?? 0) < 2 * this.#options.maxRecordBytes;
  }

  /** Resolves once stream `streamId` has room (or the queue is cleared). */
  waitRoom(streamId: number): Promise<void> {
    if (this.hasRoom(streamId)) return Promise.resolve();
    return new Promise((wake) => this.#roomWaiters.push({ streamId, wake }));
  }

  /** Drops everything and wakes every waiting writer (the channel ended). */
  clear(): void {
    for (const waiter of this.#roomWaiters) waiter.wake();
    this.#roomWaiters = [];
    this.#lanes.clear();
    this.#ring = [];
    this.#control = [];
    this.#controlBytes = 0;
    this.#queuedBytes = 0;
  }

  #wakeRoom(): void {
    if (this.#roomWaiters.length === 0) return;
    if (this.#queuedBytes >= this.#options.maxQueuedBytes) return;
    const waiting = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const waiter of waiting) {
      if (this.hasRoom(waiter.streamId)) waiter.wake();
      else this.#roomWaiters.push(waiter);
    }
  }
}
