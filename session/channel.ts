/**
 * `Channel`: the connection after the handshake. It multiplexes streams over the record layer: its
 * `SendQueue` (`send_queue.ts`) orders what streams send into batches that `RecordSender` seals;
 * the plaintexts `RecordReceiver` opens are decoded (`wire/record_codec.ts`) and dispatched to
 * their stream; a stream the peer opens goes to `onStream` (the endpoint's `StreamRouter`). Over
 * 450 lines: the stream table, the dispatch of each record type, the buffer budget, keepalive and
 * close share the channel's state.
 *
 * @module
 */

import { ConnectionError, ProtocolError, TimeoutError } from "../errors.ts";
import type { PublicKey } from "../crypto/public_key.ts";
import { freeBuffer } from "../wire/_bytes.ts";
import { randomBytes } from "../crypto/random.ts";
import {
  type ChannelRecord,
  decodeReason,
  decodeRecords,
  encodeReason,
  encodeRecordHeader,
  encodeRecords,
  endFlag,
  pingBytes,
  recordHeaderBytes,
  recordsByteLength,
  RecordType,
} from "../wire/record_codec.ts";
import type { Transport } from "../wire/transport.ts";
import type { Allowance, BudgetRefusal } from "./budget.ts";
import type { HandshakeResult } from "./handshake.ts";
import { SendQueue } from "./send_queue.ts";
import { defaultIdleTimeoutMs, defaultKeepaliveMs } from "./settings.ts";
import { RecordReceiver } from "./record_receiver.ts";
import { RecordSender } from "./record_sender.ts";
import {
  decodeHead,
  encodeHead,
  type Head,
  Stream,
  StreamError,
  type StreamHost,
} from "./stream.ts";

export { defaultIdleTimeoutMs, defaultKeepaliveMs, defaultMaxStreams } from "./settings.ts";
/** Default time a graceful close may take before the connection is cut. */
export const defaultCloseTimeoutMs = 10_000;
/** Control records (pongs, window updates) queued beyond this mean the peer does not read. */
const maxControlQueueBytes = 1024 * 1024;
/**
 * Default bytes of stream records queued for sending on one connection: writers wait beyond
 * it, however large the peer's record limit and windows are.
 */
export const defaultMaxQueuedBytes = 8 * 1024 * 1024;

/** Options of {@linkcode Channel}. */
export interface ChannelOptions {
  /** The client opens odd stream ids, the server even ones. */
  role: "client" | "server";
  /** Called for each stream the peer opens. Without it, every such stream is refused. */
  onStream?: (stream: Stream) => void;
  /** Ping after this much silence. Default 15 s. */
  keepaliveMs?: number;
  /** Close after this much silence (a peer that answers pings is never idle). Default 60 s. */
  idleTimeoutMs?: number;
  /** Time allowed for a graceful close. Default 10 s. */
  closeTimeoutMs?: number;
  /** AES-GCM seals in flight. Default 4. */
  sealsInFlight?: number;
  /** AES-GCM opens in flight. Default 4. */
  opensInFlight?: number;
  /**
   * The connection's share of the server's budgets: each stream the peer opens takes its
   * receive window from `bufferedBytes` (or is refused), window raises and message bodies
   * being read take more. Without it (clients), nothing is counted.
   */
  allowance?: Allowance;
  /** Bytes of stream records queued for sending before writers wait. Default 8 MiB. */
  maxQueuedBytes?: number;
  /** Called with one line when a stream is refused or reset for a budget or a timeout. */
  onLimit?: (detail: string) => void;
}

/**
 * The plaintext of one sealed record, and whether the record layer may free it once sealed. A
 * bulk record alone in its batch whose sender left room before its payload is sealed in place:
 * its header goes into that room, and the payload is not copied.
 */
function encodeBatch(batch: ChannelRecord[]): { plaintext: Uint8Array; owned: boolean } {
  const [first] = batch;
  if (
    batch.length === 1 && first.headroom === true &&
    first.payload.byteOffset >= recordHeaderBytes
  ) {
    const { buffer, byteOffset, length } = first.payload;
    const plaintext = new Uint8Array(
      buffer,
      byteOffset - recordHeaderBytes,
      recordHeaderBytes + length,
    );
    encodeRecordHeader(first, plaintext, 0);
    return { plaintext, owned: first.transfer === true };
  }
  const plaintext = new Uint8Array(recordsByteLength(batch));
  encodeRecords(batch, plaintext, 0);
  for (const record of batch) if (record.transfer) freeBuffer(record.payload);
  return { plaintext, owned: true };
}

/**
 * An authenticated, encrypted, multiplexed connection: the record layer (sealing and opening
 * in flight, in strict sequence order) and the streams on top of it. Either side may open
 * streams. Records from all streams are packed together into sealed records up to the peer's
 * record limit, taking turns between streams so a bulk transfer does not hold up small
 * messages.
 *
 * @example See tests/session/channel_test.ts; in short:
 * ```ts ignore
 * const channel = new Channel(transport, await clientHandshake(transport, options), { role: "client" });
 * const stream = channel.openStream(1, { type: "text" });
 * await stream.write(new TextEncoder().encode("hello"), { end: true });
 * const head = await stream.replyHead();
 * ```
 */
export class Channel implements StreamHost {
  /** The peer's identity key. */
  readonly peerKey: PublicKey;
  /** Largest data payload in one record, from the peer's record limit. */
  readonly maxDataBytes: number;
  /** Resolves when the channel has ended: with `undefined` after a clean close, else the error. */
  readonly closed: Promise<Error | undefined>;

  #transport: Transport;
  #sender: RecordSender;
  #receiver: RecordReceiver;
  #options: ChannelOptions;
  #maxRecordBytes: number;
  #streams = new Map<number, Stream>();
  #nextLocalId: number;
  #lastPeerId = 0;
  #lastLocalId = 0;
  #maxIncomingStreams: number;
  #maxOutgoingStreams: number;
  #outgoing = 0;
  #incoming = 0;
  #slotWaiters: (() => void)[] = [];
  #queue: SendQueue;
  #pumpScheduled = false;
  #localClosing = false;
  #peerClosing = false;
  #finishing = false;
  #ended = false;
  #resolveClosed!: (error: Error | undefined) => void;
  #pings = new Map<string, () => void>();
  #lastReceivedMs = Date.now();
  #keepaliveTimer: ReturnType<typeof setInterval>;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #reader: HandshakeResult["reader"];

  /**
   * @param transport The connection the handshake ran over.
   * @param handshake What the handshake agreed.
   * @param options Role, stream callback and limits.
   */
  constructor(transport: Transport, handshake: HandshakeResult, options: ChannelOptions) {
    this.#transport = transport;
    this.#options = options;
    this.peerKey = handshake.peerKey;
    this.#reader = handshake.reader;
    // Records we build are bounded by our own limit too, never only by what the peer announced.
    this.#maxRecordBytes = Math.min(handshake.peer.maxRecordBytes, handshake.local.maxRecordBytes);
    this.#queue = new SendQueue({
      maxRecordBytes: this.#maxRecordBytes,
      maxQueuedBytes: options.maxQueuedBytes ?? defaultMaxQueuedBytes,
      maxControlBytes: maxControlQueueBytes,
    });
    this.#maxIncomingStreams = handshake.local.maxStreams;
    this.#maxOutgoingStreams = handshake.peer.maxStreams;
    this.maxDataBytes = this.#maxRecordBytes - recordHeaderBytes;
    this.#nextLocalId = options.role === "client" ? 1 : 2;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.#sender = new RecordSender(transport, handshake.sendSecret, {
      rekeyRecords: handshake.local.rekeyRecords,
      sealsInFlight: options.sealsInFlight,
      onWritten: () => this.#afterWrite(),
    });
    this.#receiver = new RecordReceiver(handshake.reader, handshake.receiveSecret, {
      rekeyRecords: handshake.peer.rekeyRecords,
      opensInFlight: options.opensInFlight,
    });
    const keepaliveMs = options.keepaliveMs ?? defaultKeepaliveMs;
    const idleTimeoutMs = options.idleTimeoutMs ?? defaultIdleTimeoutMs;
    this.#keepaliveTimer = setInterval(
      () => this.#checkAlive(keepaliveMs, idleTimeoutMs),
      Math.max(50, Math.min(keepaliveMs, idleTimeoutMs) / 2),
    );
    this.#receive();
  }

  /** Bytes written to the connection after the handshake. */
  get bytesSent(): number {
    return this.#sender.bytesWritten;
  }

  /** Bytes read from the connection, handshake included. */
  get bytesReceived(): number {
    return this.#reader.bytesRead;
  }

  /** Bytes of stream records queued for sending now (bounded by `maxQueuedBytes`). */
  get queuedBytes(): number {
    return this.#queue.queuedBytes;
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** True once close() was called or the peer started closing. */
  get closing(): boolean {
    return this.#localClosing || this.#peerClosing || this.#ended;
  }

  /** Key updates done in our sending direction. */
  get sendEpoch(): number {
    return this.#sender.epoch;
  }

  /**
   * Opens a stream of `kind` with `head`, first waiting while the peer's stream limit is
   * reached. With `end`, our direction ends with the open record.
   *
   * @throws {ConnectionError} When the channel is closing or closed.
   */
  async openStream(kind: number, head: Head, options: { end?: boolean } = {}): Promise<Stream> {
    if (!Number.isInteger(kind) || kind < 0 || kind > 255) {
      throw new RangeError(`Stream kind must be 0..255, got ${kind}`);
    }
    const headBytes = encodeHead(head);
    while (this.#outgoing >= this.#maxOutgoingStreams && !this.closing) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    if (this.closing) {
      throw new ConnectionError("The connection is closing; open a new one");
    }
    const id = this.#nextLocalId;
    if (id > 0xffffffff) throw new ConnectionError("Stream ids exhausted; reconnect");
    this.#nextLocalId += 2;
    this.#lastLocalId = id;
    const stream = new Stream(this, id, kind, head, false);
    this.#streams.set(id, stream);
    this.#outgoing++;
    const payload = new Uint8Array(1 + headBytes.length);
    payload[0] = kind;
    payload.set(headBytes, 1);
    this.enqueue(stream, {
      type: RecordType.open,
      flags: options.end ? endFlag : 0,
      streamId: id,
      payload,
    });
    if (options.end) stream.sentOpenWithEnd();
    return stream;
  }

  /** Measures a round trip with a ping record; resolves to milliseconds. */
  async ping(): Promise<number> {
    if (this.#ended) throw new ConnectionError("The connection is closed");
    const payload = randomBytes(pingBytes);
    const started = performance.now();
    await new Promise<void>((resolve) => {
      this.#pings.set(payload.join(","), resolve);
      this.#enqueueControl({ type: RecordType.ping, flags: 0, streamId: 0, payload });
    });
    if (this.#ended) throw new ConnectionError("The connection closed before the pong");
    return performance.now() - started;
  }

  /**
   * Closes gracefully: no new streams, the open ones finish, both sides exchange close records,
   * then the connection ends. Past `closeTimeoutMs` it is cut.
   */
  async close(): Promise<void> {
    if (!this.#ended && !this.#localClosing) {
      this.#localClosing = true;
      this.#enqueueControl({
        type: RecordType.close,
        flags: 0,
        streamId: 0,
        payload: encodeReason({ code: 0, message: "closing" }),
      });
      this.#closeTimer = setTimeout(() => {
        this.abort(new TimeoutError("The graceful close took too long; connection cut"));
      }, this.#options.closeTimeoutMs ?? defaultCloseTimeoutMs);
      this.#maybeFinish();
    }
    await this.closed;
  }

  /** Ends the channel at once: every stream fails with `error`, the connection is closed. */
  abort(error: Error): void {
    this.#end(error);
  }

  // ---- StreamHost ------------------------------------------------------------------------

  /** @internal */
  enqueue(stream: Stream, record: ChannelRecord): void {
    if (this.#ended) return;
    this.#queue.pushStream(stream.id, record);
    this.#schedulePump();
  }

  /** @internal */
  enqueueWindow(stream: Stream, increment: number): void {
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, increment);
    const record = { type: RecordType.window, flags: 0, streamId: stream.id, payload };
    // Behind the stream's own queued records if it has any (its open may not be out yet).
    if (this.#queue.hasRecords(stream.id)) this.enqueue(stream, record);
    else this.#enqueueControl(record);
  }

  /** @internal */
  waitQueueRoom(stream: Stream): Promise<void> {
    return this.#ended ? Promise.resolve() : this.#queue.waitRoom(stream.id);
  }

  /** @internal */
  hasQueueRoom(stream: Stream): boolean {
    return this.#ended || this.#queue.hasRoom(stream.id);
  }

  /** @internal Takes one chunk's bytes of the buffer budget, or says why it cannot. */
  take(bytes: number): BudgetRefusal | undefined {
    return this.#options.allowance?.take("bufferedBytes", bytes);
  }

  /** @internal */
  takeUpTo(bytes: number): number {
    const allowance = this.#options.allowance;
    if (allowance === undefined) return bytes;
    // A window raise takes at most half of what is left, so raised windows never starve the
    // streams whose chunks are charged one by one (small messages, the first 256 KiB of each).
    const room = allowance.left("bufferedBytes");
    return allowance.takeUpTo("bufferedBytes", Math.min(bytes, Math.floor(room / 2)));
  }

  /** @internal */
  give(bytes: number): void {
    this.#options.allowance?.give("bufferedBytes", bytes);
  }

  /** @internal */
  limitReached(detail: string): void {
    try {
      this.#options.onLimit?.(detail);
    } catch {
      // A failing logger must not break the channel.
    }
  }

  /** @internal */
  sendReset(stream: Stream, code: number, message: string): void {
    // The peer never heard of a stream whose OPEN was still queued: nothing to reset.
    if (this.#queue.dropStream(stream.id)) return;
    // Ahead of every stream's data, so the peer frees the stream before any later open.
    this.#enqueueControl({
      type: RecordType.reset,
      flags: 0,
      streamId: stream.id,
      payload: encodeReason({ code, message }),
    });
  }

  /** @internal */
  finished(stream: Stream): void {
    this.#options.allowance?.give("bufferedBytes", stream.releaseReserved());
    if (this.#streams.get(stream.id) === stream) {
      this.#streams.delete(stream.id);
      if (stream.incoming) {
        this.#incoming--;
      } else {
        this.#outgoing--;
        this.#slotWaiters.shift()?.();
      }
    }
    this.#maybeFinish();
  }

  // ---- Sending ---------------------------------------------------------------------------

  #enqueueControl(record: ChannelRecord): void {
    if (this.#ended) return;
    if (!this.#queue.pushControl(record)) {
      this.abort(new ProtocolError("The peer does not read its control records; disconnected"));
      return;
    }
    this.#schedulePump();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#ended) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #afterWrite(): void {
    if (this.#sender.failure !== undefined) {
      this.#end(
        new ConnectionError("Cannot write to the connection; the peer is gone", {
          cause: this.#sender.failure,
        }),
      );
      return;
    }
    this.#schedulePump();
    this.#maybeFinish();
  }

  #pump(): void {
    while (!this.#ended && this.#sender.ready) {
      const batch = this.#queue.takeBatch();
      if (batch.length === 0) return;
      const { plaintext, owned } = encodeBatch(batch);
      this.#sender.seal(plaintext, { owned });
    }
  }

  // ---- Receiving -------------------------------------------------------------------------

  async #receive(): Promise<void> {
    try {
      await this.#receiver.run((plaintext) => this.#deliver(plaintext));
      if (this.#localClosing && this.#peerClosing) {
        this.#end(undefined);
      } else if (!this.#ended) {
        this.#end(
          new ConnectionError(
            "The peer closed the connection without a close record (connection lost or cut)",
          ),
        );
      }
    } catch (error) {
      this.#end(
        error instanceof Error ? error : new ProtocolError("Receiving failed", { cause: error }),
      );
    }
  }

  #deliver(plaintext: Uint8Array): void {
    if (this.#ended) return;
    this.#lastReceivedMs = Date.now();
    const records = decodeRecords(plaintext);
    // A data record alone in its plaintext owns that buffer: its reader may free it.
    const exclusive = records.length === 1 && records[0].type === RecordType.data;
    for (const record of records) {
      switch (record.type) {
        case RecordType.ping:
          this.#enqueueControl({
            ...record,
            type: RecordType.pong,
            payload: record.payload.slice(),
          });
          break;
        case RecordType.pong: {
          const key = record.payload.join(",");
          this.#pings.get(key)?.();
          this.#pings.delete(key);
          break;
        }
        case RecordType.close:
          decodeReason(record.payload);
          this.#peerClosing = true;
          if (!this.#localClosing) this.close();
          this.#maybeFinish();
          break;
        case RecordType.open:
          this.#open(record);
          break;
        default: {
          const stream = this.#streams.get(record.streamId);
          if (stream !== undefined) {
            stream.receive(record, exclusive);
          } else if (!this.#isPastStream(record.streamId)) {
            throw new ProtocolError(
              `Record type ${record.type} for stream ${record.streamId}, which was never opened`,
            );
          }
        }
      }
    }
  }

  #isPastStream(id: number): boolean {
    const peerParity = this.#options.role === "client" ? 0 : 1;
    return id % 2 === peerParity ? id <= this.#lastPeerId : id <= this.#lastLocalId;
  }

  #open(record: ChannelRecord): void {
    const id = record.streamId;
    const peerParity = this.#options.role === "client" ? 0 : 1;
    if (id % 2 !== peerParity || id <= this.#lastPeerId) {
      throw new ProtocolError(`The peer opened stream ${id}, which is not a new stream of its own`);
    }
    this.#lastPeerId = id;
    const refuse = (code: number, message: string) =>
      this.#enqueueControl({
        type: RecordType.reset,
        flags: 0,
        streamId: id,
        payload: encodeReason({ code, message }),
      });
    if (this.closing) return refuse(StreamError.refused, "the connection is closing");
    if (this.#incoming >= this.#maxIncomingStreams) {
      return refuse(StreamError.refused, `too many streams (limit ${this.#maxIncomingStreams})`);
    }
    let head: Head;
    try {
      head = decodeHead(record.payload.subarray(1), "open");
    } catch (error) {
      return refuse(StreamError.protocol, (error as Error).message);
    }
    if (this.#options.onStream === undefined) {
      return refuse(StreamError.unsupported, "this side accepts no streams");
    }
    const stream = new Stream(this, id, record.payload[0], head, true);
    if ((record.flags & endFlag) !== 0) stream.openedWithEnd();
    this.#streams.set(id, stream);
    this.#incoming++;
    this.#options.onStream(stream);
  }

  // ---- Lifetime --------------------------------------------------------------------------

  #checkAlive(keepaliveMs: number, idleTimeoutMs: number): void {
    const silentMs = Date.now() - this.#lastReceivedMs;
    // A quiet connection keeps no recycled record buffers.
    if (silentMs >= 1000) this.#reader.trim();
    if (silentMs >= idleTimeoutMs) {
      this.abort(
        new TimeoutError(`The peer sent nothing for ${silentMs} ms; connection closed as idle`),
      );
    } else if (silentMs >= keepaliveMs && this.#pings.size === 0) {
      this.ping().catch(() => {});
    }
  }

  #maybeFinish(): void {
    if (
      this.#finishing || this.#ended || !this.#localClosing || !this.#peerClosing ||
      this.#streams.size > 0 || !this.#queue.empty
    ) {
      return;
    }
    this.#finishing = true;
    // Everything is said: flush, then end our direction; the peer does the same and the
    // receive loop sees its end of stream.
    this.#sender.flush().then(() => this.#transport.closeWrite()).catch(() => {});
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#keepaliveTimer);
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    const streamError = error ?? new ConnectionError("The connection is closed");
    for (const stream of this.#streams.values()) stream.abort(streamError);
    this.#streams.clear();
    for (const wake of this.#slotWaiters) wake();
    this.#slotWaiters = [];
    this.#queue.clear();
    for (const wake of this.#pings.values()) wake();
    this.#pings.clear();
    this.#transport.close();
    this.#resolveClosed(error);
  }
}
