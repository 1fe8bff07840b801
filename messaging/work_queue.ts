/**
 * `WorkQueues`: the server side of the work queues (SPEC.md, "Work queues"), one of the server's
 * stream services. It answers PUSH and PULL streams, hands each item to one worker and takes it
 * back when the worker leaves without acknowledging. Over 450 lines: the queues share their bounds
 * (per queue, per key, in all), counted here because items outlive their connection.
 *
 * @module
 */

import { type MessageValue, OvtpMessage, parseMessageType } from "../message.ts";
import type { PeerInfo } from "../session/peer_info.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { encodeEventFrame, EventFrameReader } from "./event_frame.ts";
import {
  defaultMaxQueueBytes,
  defaultMaxQueueBytesPerKey,
  defaultMaxQueueItems,
  defaultMaxQueueItemsPerKey,
  defaultMaxQueues,
  defaultMaxQueuesPerKey,
  defaultMaxTotalQueueBytes,
  defaultMaxTotalQueueItems,
  mayUseTopic,
  messagingErrorCodes,
  topicRestriction,
} from "./messaging_protocol.ts";
import { checkTopic } from "./topic_pattern.ts";

/** Options of {@linkcode WorkQueues}: the bounds of one queue, of one key and of the server. */
export interface WorkQueueOptions {
  /** Items one queue may hold (waiting or held by a worker); pushes past it are refused. Default 10,000. */
  maxQueueItems?: number;
  /** Bytes one queue may hold; pushes past it are refused. Default 64 MiB. */
  maxQueueBytes?: number;
  /**
   * Items one client key may have in all queues together (pushed and not yet acknowledged).
   * Items the server pushes itself count for no key. Default 10,000.
   */
  maxQueueItemsPerKey?: number;
  /** Bytes one client key may have in all queues together. Default 64 MiB. */
  maxQueueBytesPerKey?: number;
  /**
   * Queues one client key may use at once: those holding items it pushed or where it has a
   * worker. Default 100.
   */
  maxQueuesPerKey?: number;
  /** Bytes all queues together may hold, whoever pushed them. Default 256 MiB. */
  maxTotalQueueBytes?: number;
  /** Items all queues together may hold, whoever pushed them. Default 100,000. */
  maxTotalQueueItems?: number;
  /** Queues the server keeps at once (empty ones without workers are forgotten). Default 10,000. */
  maxQueues?: number;
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

/** What all work queues, or the share of one key, hold now (see {@linkcode WorkQueues.usage}). */
export interface WorkQueueUsage {
  /** Queues (for a key: those holding its items or its workers). */
  queues: number;
  /** Items waiting or held by a worker. */
  items: number;
  /** Bytes of those items. */
  bytes: number;
}

/** Whose an item or a worker is: a key's fingerprint, or `undefined` for the server's own. */
type Owner = string | undefined;

interface Item {
  id: number;
  message: OvtpMessage;
  attempts: number;
  owner: Owner;
}

interface Worker {
  stream: Stream;
  owner: Owner;
  holding: Item | undefined;
  writing: boolean;
  closed: boolean;
}

interface Queue {
  name: string;
  items: Item[];
  /** Items waiting or held by a worker. */
  count: number;
  bytes: number;
  idle: Worker[];
  workers: Set<Worker>;
  /** For each key: its items in this queue plus its workers on it. */
  holders: Map<string, number>;
}

type Limits = Required<Omit<WorkQueueOptions, "onError">>;

function resolveLimits(options: WorkQueueOptions): Limits {
  const limits: Limits = {
    maxQueueItems: options.maxQueueItems ?? defaultMaxQueueItems,
    maxQueueBytes: options.maxQueueBytes ?? defaultMaxQueueBytes,
    maxQueueItemsPerKey: options.maxQueueItemsPerKey ?? defaultMaxQueueItemsPerKey,
    maxQueueBytesPerKey: options.maxQueueBytesPerKey ?? defaultMaxQueueBytesPerKey,
    maxQueuesPerKey: options.maxQueuesPerKey ?? defaultMaxQueuesPerKey,
    maxTotalQueueBytes: options.maxTotalQueueBytes ?? defaultMaxTotalQueueBytes,
    maxTotalQueueItems: options.maxTotalQueueItems ?? defaultMaxTotalQueueItems,
    maxQueues: options.maxQueues ?? defaultMaxQueues,
    maxMessageBytes: options.maxMessageBytes ?? defaultMaxMessageBytes,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`WorkQueueOptions.${name} must be a non-negative integer, got ${value}`);
    }
  }
  return limits;
}

const retryLater = "retry once workers have taken some";

/**
 * The server side of the work queues (SPEC.md, "Work queues"): named queues that clients
 * `push` to and `pull` from. Each item goes to one worker at a time; the worker acknowledges it
 * once done, and only then gets the next. An item whose worker disconnects (or resets, or
 * reports a failure) before acknowledging goes back to the front of its queue for another
 * worker. A key's `topics=` option limits which queue names it may use.
 *
 * Items outlive the connection that pushed them, so what they hold is counted against the
 * pushing key here, not against its connection's budget: each queue is bounded
 * (`maxQueueItems`, `maxQueueBytes`), each key's items in all queues and the queues it uses are
 * bounded (`maxQueueItemsPerKey`, `maxQueueBytesPerKey`, `maxQueuesPerKey`), and so are all
 * queues together (`maxTotalQueueItems`, `maxTotalQueueBytes`, `maxQueues`). A push or pull past any of them is
 * refused (code 40, `full`; a `RangeError` for the server's own `push()`), so one key filling its
 * share leaves the others able to push. A queue with no items and no workers is forgotten.
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
  #limits: Limits;
  #queues = new Map<string, Queue>();
  #keys = new Map<string, WorkQueueUsage>();
  #items = 0;
  #bytes = 0;
  #nextId = 1;
  #closed = false;

  /**
   * @param options Queue bounds.
   * @throws {RangeError} A bound that is not a non-negative integer.
   */
  constructor(options: WorkQueueOptions = {}) {
    this.#options = options;
    this.#limits = resolveLimits(options);
  }

  /** The stream kinds it answers. */
  readonly kinds: readonly number[] = [StreamKind.pull, StreamKind.push];

  /** What a queue holds now. */
  stats(name: string): WorkQueueStats {
    const queue = this.#queues.get(name);
    if (queue === undefined) return { waiting: 0, inFlight: 0, workers: 0 };
    return {
      waiting: queue.items.length,
      inFlight: queue.count - queue.items.length,
      workers: queue.workers.size,
    };
  }

  /**
   * What all queues hold now, or, given a key's fingerprint, what that key's items and workers
   * take of them (its quota).
   */
  usage(fingerprint?: string): WorkQueueUsage {
    if (fingerprint !== undefined) {
      return { ...(this.#keys.get(fingerprint) ?? { queues: 0, items: 0, bytes: 0 }) };
    }
    return { queues: this.#queues.size, items: this.#items, bytes: this.#bytes };
  }

  /**
   * Adds `value` (a string as text, a `Uint8Array` as bytes, anything else as JSON) to the
   * queue `name`; returns the number of items waiting in it afterwards. The item counts for no
   * key's quota, only for the queue's and the server's bounds.
   *
   * @throws {TypeError} `name` is not a valid queue name (a topic without wildcards).
   * @throws {RangeError} The queue, or all queues together, are full.
   */
  push(name: string, value: MessageValue): number {
    checkTopic(name);
    const message = OvtpMessage.from(value);
    const refusal = this.#pushRefusal(name, undefined, message.data.length);
    if (refusal !== undefined) throw new RangeError(refusal);
    return this.#add(name, undefined, message);
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
    if (stream.kind === StreamKind.push) await this.#answerPush(stream, name, peer);
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
    this.#keys.clear();
    this.#items = 0;
    this.#bytes = 0;
  }

  async #answerPush(stream: Stream, name: string, peer: PeerInfo): Promise<void> {
    // Refuse before reading the body when even an empty item would not fit.
    const early = this.#pushRefusal(name, peer.fingerprint, 0);
    if (early !== undefined) {
      stream.reset(messagingErrorCodes.full, early);
      return;
    }
    let message: OvtpMessage;
    try {
      const type = parseMessageType(stream.head.type);
      message = new OvtpMessage(type, await stream.readAll(this.#limits.maxMessageBytes));
    } catch (error) {
      if (!stream.done) stream.reset(StreamError.protocol, (error as Error).message);
      return;
    }
    const refusal = this.#pushRefusal(name, peer.fingerprint, message.data.length);
    if (refusal !== undefined) {
      stream.reset(messagingErrorCodes.full, refusal);
      return;
    }
    const waiting = this.#add(name, peer.fingerprint, message);
    stream.reply({ status: true, queued: waiting }, { end: true });
  }

  async #answerPull(stream: Stream, name: string, peer: PeerInfo): Promise<void> {
    const refusal = this.#tableRefusal(name, peer.fingerprint);
    if (refusal !== undefined) {
      stream.reset(messagingErrorCodes.full, refusal);
      return;
    }
    const queue = this.#queue(name);
    const worker: Worker = {
      stream,
      owner: peer.fingerprint,
      holding: undefined,
      writing: false,
      closed: false,
    };
    queue.workers.add(worker);
    this.#hold(queue, worker.owner, 1);
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
        else this.#release(queue, item);
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

  /**
   * Why `owner` may not use the queue `name` (one more queue for the server's table or for the
   * key's quota), or `undefined` when it may.
   */
  #tableRefusal(name: string, owner: Owner): string | undefined {
    if (this.#closed) return "The server is closing";
    const queue = this.#queues.get(name);
    if (queue === undefined && this.#queues.size >= this.#limits.maxQueues) {
      return `The server holds ${this.#limits.maxQueues} work queues, its limit; use an existing ` +
        `queue or retry once some have emptied`;
    }
    if (owner === undefined || (queue?.holders.get(owner) ?? 0) > 0) return undefined;
    const max = this.#limits.maxQueuesPerKey;
    if ((this.#keys.get(owner)?.queues ?? 0) >= max) {
      return `This client key uses ${max} work queues, its limit; use one of those or retry ` +
        `once some have emptied`;
    }
    return undefined;
  }

  /** Why an item of `bytes` from `owner` may not be pushed to `name`, or `undefined`. */
  #pushRefusal(name: string, owner: Owner, bytes: number): string | undefined {
    const table = this.#tableRefusal(name, owner);
    if (table !== undefined) return table;
    const limits = this.#limits;
    const queue = this.#queues.get(name);
    if ((queue?.count ?? 0) >= limits.maxQueueItems) {
      return `The queue "${name}" is full (${limits.maxQueueItems} items); ${retryLater}`;
    }
    if ((queue?.bytes ?? 0) + bytes > limits.maxQueueBytes) {
      return `The queue "${name}" is full (${limits.maxQueueBytes} bytes); ${retryLater}`;
    }
    if (owner !== undefined) {
      const usage = this.#keys.get(owner);
      if ((usage?.items ?? 0) >= limits.maxQueueItemsPerKey) {
        return `This client key has ${limits.maxQueueItemsPerKey} items in work queues, its ` +
          `limit; ${retryLater}`;
      }
      if ((usage?.bytes ?? 0) + bytes > limits.maxQueueBytesPerKey) {
        return `This client key may have at most ${limits.maxQueueBytesPerKey} bytes in work ` +
          `queues; ${retryLater}`;
      }
    }
    if (this.#items >= limits.maxTotalQueueItems) {
      return `The server's work queues are full (${limits.maxTotalQueueItems} items in all); ` +
        retryLater;
    }
    if (this.#bytes + bytes > limits.maxTotalQueueBytes) {
      return `The server's work queues are full (${limits.maxTotalQueueBytes} bytes in all); ` +
        retryLater;
    }
    return undefined;
  }

  /** The queue `name`, made when new (the caller checked {@linkcode #tableRefusal}). */
  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = {
        name,
        items: [],
        count: 0,
        bytes: 0,
        idle: [],
        workers: new Set(),
        holders: new Map(),
      };
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /** Adds an item the caller checked with {@linkcode #pushRefusal}. */
  #add(name: string, owner: Owner, message: OvtpMessage): number {
    const queue = this.#queue(name);
    const bytes = message.data.length;
    queue.items.push({ id: this.#nextId++, message, attempts: 0, owner });
    queue.count++;
    queue.bytes += bytes;
    this.#items++;
    this.#bytes += bytes;
    this.#hold(queue, owner, 1);
    if (owner !== undefined) {
      const usage = this.#keys.get(owner)!;
      usage.items++;
      usage.bytes += bytes;
    }
    const waiting = queue.items.length;
    this.#dispatch(queue);
    return waiting;
  }

  /** An item was acknowledged: it leaves its queue, its key's quota and the server's total. */
  #release(queue: Queue, item: Item): void {
    if (this.#closed) return;
    const bytes = item.message.data.length;
    queue.count--;
    queue.bytes -= bytes;
    this.#items--;
    this.#bytes -= bytes;
    if (item.owner !== undefined) {
      const usage = this.#keys.get(item.owner)!;
      usage.items--;
      usage.bytes -= bytes;
    }
    this.#hold(queue, item.owner, -1);
  }

  /**
   * Counts `delta` items or workers of `owner` in `queue`; the key uses the queue while it has
   * any there, and its usage is forgotten once it holds nothing.
   */
  #hold(queue: Queue, owner: Owner, delta: number): void {
    if (owner === undefined || this.#closed) return;
    let usage = this.#keys.get(owner);
    if (usage === undefined) {
      usage = { queues: 0, items: 0, bytes: 0 };
      this.#keys.set(owner, usage);
    }
    const before = queue.holders.get(owner) ?? 0;
    const after = before + delta;
    if (after > 0) queue.holders.set(owner, after);
    else queue.holders.delete(owner);
    if (before === 0 && after > 0) usage.queues++;
    if (before > 0 && after <= 0) usage.queues--;
    if (usage.queues === 0 && usage.items === 0 && usage.bytes === 0) this.#keys.delete(owner);
  }

  /** A worker is gone: an item it held goes back to the front for another worker. */
  #retire(queue: Queue, worker: Worker): void {
    if (!queue.workers.delete(worker)) return;
    this.#hold(queue, worker.owner, -1);
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
    if (queue.count === 0 && queue.workers.size === 0 && this.#queues.get(queue.name) === queue) {
      this.#queues.delete(queue.name);
    }
  }
}
