import { type MessageValue, OvtpMessage, parseMessageType } from "../message.ts";
import type { PeerInfo } from "../peer_connection.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { encodeEventFrame, EventFrameReader } from "./event_frame.ts";
import {
  defaultMaxQueueBytes,
  defaultMaxQueueItems,
  maxQueues,
  mayUseTopic,
  messagingErrorCodes,
  topicRestriction,
} from "./messaging_protocol.ts";
import { checkTopic } from "./topic_pattern.ts";

/** Options of {@linkcode WorkQueues}. */
export interface WorkQueueOptions {
  /** Items one queue may hold; pushes past it are refused. Default 10,000. */
  maxQueueItems?: number;
  /** Bytes one queue may hold; pushes past it are refused. Default 64 MiB. */
  maxQueueBytes?: number;
  /** Largest pushed body accepted. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Called when a worker's stream fails. */
  onError?: (error: unknown, peer?: PeerInfo) => void;
}

/** What one work queue holds now (see {@linkcode WorkQueues.stats}). */
export interface WorkQueueStats {
  /** Items waiting for a worker. */
  waiting: number;
  /** Items sent to a worker and not acknowledged yet. */
  inFlight: number;
  /** Workers pulling from the queue. */
  workers: number;
}

interface Item {
  id: number;
  message: OvtpMessage;
  attempts: number;
}

interface Worker {
  stream: Stream;
  holding: Item | undefined;
  writing: boolean;
  closed: boolean;
}

interface Queue {
  name: string;
  items: Item[];
  bytes: number;
  idle: Worker[];
  workers: Set<Worker>;
}

/**
 * The server side of the work queues (SPEC.md, "Work queues"): named queues that clients
 * `push` to and `pull` from. Each item goes to one worker at a time; the worker acknowledges it
 * once done, and only then gets the next. An item whose worker disconnects (or resets, or
 * reports a failure) before acknowledging goes back to the front of its queue for another
 * worker. Queues are bounded: a push past `maxQueueItems` or `maxQueueBytes` is refused. A key's
 * `topics=` option limits which queue names it may use.
 *
 * @example See tests/messaging/work_queue_test.ts; in short:
 * ```ts ignore
 * const queues = new WorkQueues();
 * onStream: (stream) => queues.handle(stream, peer);
 * queues.push("jobs.resize", { file: "a.png" });
 * ```
 */
export class WorkQueues {
  #options: WorkQueueOptions;
  #queues = new Map<string, Queue>();
  #nextId = 1;
  #closed = false;

  /** @param options Queue bounds. */
  constructor(options: WorkQueueOptions = {}) {
    this.#options = options;
  }

  /** Whether a stream of `kind` is one this service answers. */
  static handles(kind: number): boolean {
    return kind === StreamKind.pull || kind === StreamKind.push;
  }

  /** What a queue holds now. */
  stats(name: string): WorkQueueStats {
    const queue = this.#queues.get(name);
    if (queue === undefined) return { waiting: 0, inFlight: 0, workers: 0 };
    let inFlight = 0;
    for (const worker of queue.workers) if (worker.holding !== undefined) inFlight++;
    return { waiting: queue.items.length, inFlight, workers: queue.workers.size };
  }

  /**
   * Adds `value` (a string as text, a `Uint8Array` as bytes, anything else as JSON) to the
   * queue `name`; returns the number of items waiting in it afterwards.
   *
   * @throws {TypeError} `name` is not a valid queue name (a topic without wildcards).
   * @throws {RangeError} The queue is full.
   */
  push(name: string, value: MessageValue): number {
    checkTopic(name);
    return this.#add(name, OvtpMessage.from(value));
  }

  /** Answers a PULL or PUSH stream of an authenticated peer. */
  async handle(stream: Stream, peer: PeerInfo): Promise<void> {
    if (this.#closed) {
      stream.reset(StreamError.refused, "The server is closing");
      return;
    }
    let name: string;
    try {
      name = checkTopic(stream.head.queue);
    } catch (error) {
      stream.reset(StreamError.protocol, (error as Error).message);
      return;
    }
    if (!mayUseTopic(topicRestriction(peer.options), name)) {
      stream.reset(messagingErrorCodes.permission, `This key may not use the queue "${name}"`);
      return;
    }
    if (stream.kind === StreamKind.push) await this.#answerPush(stream, name);
    else await this.#answerPull(stream, name, peer);
  }

  /** Ends every worker's stream (the server is closing); later streams are refused. */
  close(): void {
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      for (const worker of queue.workers) {
        worker.closed = true;
        if (!worker.stream.done) worker.stream.reset(StreamError.cancel, "The server is closing");
      }
    }
    this.#queues.clear();
  }

  async #answerPush(stream: Stream, name: string): Promise<void> {
    let message: OvtpMessage;
    try {
      const type = parseMessageType(stream.head.type);
      message = new OvtpMessage(
        type,
        await stream.readAll(this.#options.maxMessageBytes ?? defaultMaxMessageBytes),
      );
    } catch (error) {
      if (!stream.done) stream.reset(StreamError.protocol, (error as Error).message);
      return;
    }
    let waiting: number;
    try {
      waiting = this.#add(name, message);
    } catch (error) {
      stream.reset(messagingErrorCodes.full, (error as Error).message);
      return;
    }
    stream.reply({ status: true, queued: waiting }, { end: true });
  }

  async #answerPull(stream: Stream, name: string, peer: PeerInfo): Promise<void> {
    const queue = this.#queue(name);
    if (queue === undefined) {
      stream.reset(messagingErrorCodes.full, `The server holds ${maxQueues} queues already`);
      return;
    }
    const worker: Worker = { stream, holding: undefined, writing: false, closed: false };
    queue.workers.add(worker);
    queue.idle.push(worker);
    stream.reply({});
    this.#dispatch(queue);
    const reader = new EventFrameReader(stream, 0);
    try {
      for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {
        const id = frame.head.ack ?? frame.head.nack;
        if (worker.holding === undefined || id !== worker.holding.id) {
          throw new TypeError(`Acknowledged item ${JSON.stringify(id)}, which it does not hold`);
        }
        const item = worker.holding;
        worker.holding = undefined;
        if (frame.head.ack === undefined) this.#requeue(queue, item);
        else queue.bytes -= item.message.data.length;
        queue.idle.push(worker);
        this.#dispatch(queue);
      }
      this.#retire(queue, worker);
      if (!stream.done) {
        if (worker.writing) stream.reset(StreamError.cancel, "The worker stopped");
        else await stream.end();
      }
    } catch (error) {
      this.#retire(queue, worker);
      if (!stream.done) stream.reset(StreamError.protocol, (error as Error).message);
      else if (!worker.closed) this.#options.onError?.(error, peer);
    }
  }

  #queue(name: string): Queue | undefined {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      if (this.#queues.size >= maxQueues) return undefined;
      queue = { name, items: [], bytes: 0, idle: [], workers: new Set() };
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #add(name: string, message: OvtpMessage): number {
    if (this.#closed) throw new RangeError("The server is closing");
    const maxItems = this.#options.maxQueueItems ?? defaultMaxQueueItems;
    const maxBytes = this.#options.maxQueueBytes ?? defaultMaxQueueBytes;
    const queue = this.#queue(name);
    if (queue === undefined) throw new RangeError(`The server holds ${maxQueues} queues already`);
    const inFlight = queue.workers.size - queue.idle.length;
    if (queue.items.length + inFlight >= maxItems) {
      throw new RangeError(
        `The queue "${name}" is full (${maxItems} items); retry once workers have taken some`,
      );
    }
    if (queue.bytes + message.data.length > maxBytes) {
      throw new RangeError(
        `The queue "${name}" is full (${maxBytes} bytes); retry once workers have taken some`,
      );
    }
    queue.items.push({ id: this.#nextId++, message, attempts: 0 });
    queue.bytes += message.data.length;
    this.#dispatch(queue);
    return queue.items.length;
  }

  /** A worker is gone: an item it held goes back to the front for another worker. */
  #retire(queue: Queue, worker: Worker): void {
    if (!queue.workers.delete(worker)) return;
    const index = queue.idle.indexOf(worker);
    if (index >= 0) queue.idle.splice(index, 1);
    const item = worker.holding;
    worker.holding = undefined;
    if (item !== undefined && !worker.closed) this.#requeue(queue, item);
    this.#dispatch(queue);
    this.#forgetIfEmpty(queue);
  }

  #requeue(queue: Queue, item: Item): void {
    queue.items.unshift(item);
  }

  /** Hands waiting items to idle workers, one each. */
  #dispatch(queue: Queue): void {
    while (queue.items.length > 0 && queue.idle.length > 0) {
      const worker = queue.idle.shift()!;
      const item = queue.items.shift()!;
      item.attempts++;
      worker.holding = item;
      worker.writing = true;
      const frame = encodeEventFrame(
        { id: item.id, type: item.message.type, attempts: item.attempts },
        item.message.data,
      );
      // A failed write means the stream failed: the read loop retires the worker and requeues.
      worker.stream.write(frame).then(
        () => worker.writing = false,
        () => worker.writing = false,
      );
    }
  }

  #forgetIfEmpty(queue: Queue): void {
    if (queue.items.length === 0 && queue.workers.size === 0) this.#queues.delete(queue.name);
  }
}
