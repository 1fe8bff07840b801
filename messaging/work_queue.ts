/**
 * The server side of the work queues (SPEC.md, "Work queues"): PUSH and PULL streams, the
 * quotas, deliveries with their limit, back-off and dead-letter queue. What it holds is kept in
 * memory and written through a {@linkcode QueueStore} (`queue_store.ts`): memory only, or a SQLite
 * file that survives a restart. Over 450 lines: the queues share their bounds (per queue, per key,
 * in all) and their delivery rules, counted here because items outlive their connection.
 *
 * @module
 */

import { type MessageValue, OvtpMessage, parseMessageType } from "../message.ts";
import type { PeerInfo } from "../session/peer_info.ts";
import { type Head, type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { encodeEventFrame, EventFrameReader } from "./event_frame.ts";
import {
  deadLetterSuffix,
  mayUseTopic,
  messagingErrorCodes,
  topicRestriction,
} from "./messaging_protocol.ts";
import { openQueueStore, type QueueStore, type StoredItem } from "./queue_store.ts";
import {
  checkQueueName,
  type Limits,
  readAnswer,
  resolveLimits,
  type WorkQueueOptions,
} from "./work_queue_options.ts";

export type { WorkQueueOptions } from "./work_queue_options.ts";

/** What one work queue holds now (see {@linkcode WorkQueues.stats}). */
export interface WorkQueueStats {
  /** Items waiting for a worker, those in their back-off included. */
  waiting: number;
  /** Of the waiting items, those in their back-off after a failed delivery. */
  delayed: number;
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
  /** Epoch ms before which it is not handed out; 0 when ready. */
  readyAtMs: number;
  lastError: string | undefined;
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
  /** Items ready for a worker, in the order they are handed out. */
  items: Item[];
  /** Items in their back-off, soonest first. */
  delayed: Item[];
  /** Wakes when the first delayed item is due. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Items waiting, delayed, held by a worker, or being committed. */
  count: number;
  bytes: number;
  idle: Worker[];
  workers: Set<Worker>;
  /** For each key: its items in this queue plus its workers on it. */
  holders: Map<string, number>;
}

const retryLater = "retry once workers have taken some";
/** Up to this share of a back-off is added to it at random (jitter). */
const retryJitterShare = 0.5;
const lostWorkerReason = "the worker was lost before it acknowledged the item";
const nackReason = "the worker gave the item back (nack) without a reason";

/**
 * The server side of the work queues (SPEC.md, "Work queues"): named queues that clients
 * `push` to and `pull` from. Each item goes to one worker at a time; the worker acknowledges it
 * once done, and only then gets the next. An item whose worker fails it (a nack) or is lost
 * before acknowledging waits a back-off (exponential, with jitter; the items behind it go on)
 * and is then handed out again from the front of its queue; after `maxDeliveries` failed
 * deliveries it moves to the dead-letter queue `<queue>.dead`, an ordinary queue, with its
 * attempts and the last failure's reason. An item a worker gives back unstarted (a release, or
 * the worker ends its stream while holding it) goes back to the front at once, its delivery not
 * counted. A key's `topics=` option limits which queue names it may use.
 *
 * With a durable `store`, a PUSH is answered only once its item is committed, and a restart
 * finds every item that was not acknowledged: those held by workers are ready again, their
 * attempts kept.
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
 * const queues = new WorkQueues({ store: openQueueStore("queues.db") });
 * onStream: (stream) => queues.handle(stream, peer);
 * queues.push("jobs.resize", { file: "a.png" });
 * ```
 */
export class WorkQueues {
  #options: WorkQueueOptions;
  #limits: Limits;
  #store: QueueStore;
  #queues = new Map<string, Queue>();
  #keys = new Map<string, WorkQueueUsage>();
  #items = 0;
  #bytes = 0;
  #nextId = 1;
  #closed = false;

  /**
   * Creates the queues and loads the items the store holds: those that were held by a worker
   * are ready again, their attempts kept.
   *
   * @param options Queue bounds and the store.
   * @throws {RangeError} A bound that is not a non-negative integer.
   */
  constructor(options: WorkQueueOptions = {}) {
    this.#options = options;
    this.#limits = resolveLimits(options);
    this.#store = options.store ?? openQueueStore(":memory:");
    for (const stored of this.#store.load()) this.#restore(stored);
  }

  /** The stream kinds it answers. */
  readonly kinds: readonly number[] = [StreamKind.pull, StreamKind.push];

  /** What a queue holds now. */
  stats(name: string): WorkQueueStats {
    const queue = this.#queues.get(name);
    if (queue === undefined) return { waiting: 0, delayed: 0, inFlight: 0, workers: 0 };
    let inFlight = 0;
    for (const worker of queue.workers) if (worker.holding !== undefined) inFlight++;
    return {
      waiting: queue.items.length + queue.delayed.length,
      delayed: queue.delayed.length,
      inFlight,
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
   * key's quota, only for the queue's and the server's bounds. With a durable store it is
   * committed before this returns.
   *
   * @throws {TypeError} `name` is not a valid queue name (a topic without wildcards, at most 250
   * bytes).
   * @throws {RangeError} The queue, or all queues together, are full.
   * @throws {QueueStoreError} The store could not commit it.
   */
  push(name: string, value: MessageValue): number {
    checkQueueName(name);
    const message = OvtpMessage.from(value);
    const refusal = this.#pushRefusal(name, undefined, message.data.length);
    if (refusal !== undefined) throw new RangeError(refusal);
    const item = this.#reserve(name, undefined, message);
    try {
      this.#store.commit();
    } catch (error) {
      this.#unreserve(name, item);
      throw error;
    }
    return this.#enqueue(name, item);
  }

  /** Answers a PULL or PUSH stream of an authenticated peer. */
  async handle(stream: Stream, peer: PeerInfo): Promise<void> {
    if (this.#closed) {
      stream.reset(StreamError.refused, "The server is closing");
      return;
    }
    let name: string;
    try {
      name = checkQueueName(stream.head.queue);
    } catch (error) {
      stream.reset(StreamError.protocol, (error as Error).message);
      return;
    }
    if (!mayUseTopic(topicRestriction(peer.options), name)) {
      stream.reset(
        messagingErrorCodes.permission,
        `This key may not use the queue "${name}" (not covered by its authorized_keys option topics=)`,
      );
      return;
    }
    if (stream.kind === StreamKind.push) await this.#answerPush(stream, name, peer);
    else await this.#answerPull(stream, name, peer);
  }

  /**
   * Ends every worker's stream (the server is closing), commits what is staged and closes the
   * store; later streams are refused.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      if (queue.timer !== undefined) clearTimeout(queue.timer);
      for (const worker of queue.workers) {
        worker.closed = true;
        if (!worker.stream.done) worker.stream.reset(StreamError.cancel, "The server is closing");
      }
    }
    this.#store.close();
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
    const item = this.#reserve(name, peer.fingerprint, message);
    try {
      await this.#store.committed();
    } catch (error) {
      this.#unreserve(name, item);
      if (!stream.done) stream.reset(StreamError.internal, (error as Error).message);
      this.#options.onError?.(error, peer);
      return;
    }
    if (this.#closed) {
      // Committed: a restart finds it. The peer is told to push again, and may make a duplicate.
      if (!stream.done) stream.reset(StreamError.refused, "The server is closing");
      return;
    }
    const waiting = this.#enqueue(name, item);
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
        const item = worker.holding;
        const answer = readAnswer(frame.head);
        if (item === undefined || answer.id !== item.id) {
          throw new TypeError(`Answered item ${JSON.stringify(answer.id)}, which it does not hold`);
        }
        worker.holding = undefined;
        if (answer.kind === "ack") this.#release(queue, item);
        else if (answer.kind === "release") this.#giveBack(queue, item);
        else this.#fail(queue, item, answer.reason ?? nackReason);
        queue.idle.push(worker);
        this.#dispatch(queue);
      }
      this.#retire(queue, worker, undefined);
      if (!stream.done) {
        if (worker.writing) stream.reset(StreamError.cancel, "The worker stopped");
        else await stream.end();
      }
    } catch (error) {
      this.#retire(queue, worker, lostWorkerReason);
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
        delayed: [],
        timer: undefined,
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

  /** Counts an item of `owner` in `queue`, against its key's quota and the server's totals. */
  #count(queue: Queue, owner: Owner, bytes: number, delta: 1 | -1): void {
    queue.count += delta;
    queue.bytes += delta * bytes;
    this.#items += delta;
    this.#bytes += delta * bytes;
    if (delta > 0) this.#hold(queue, owner, 1);
    if (owner !== undefined) {
      const usage = this.#keys.get(owner);
      if (usage !== undefined) {
        usage.items += delta;
        usage.bytes += delta * bytes;
      }
    }
    if (delta < 0) this.#hold(queue, owner, -1);
  }

  /**
   * Counts a new item the caller checked with {@linkcode #pushRefusal} and stages it in the
   * store; it is handed out once committed ({@linkcode #enqueue}).
   */
  #reserve(name: string, owner: Owner, message: OvtpMessage): Item {
    const item: Item = {
      id: this.#nextId++,
      message,
      attempts: 0,
      owner,
      readyAtMs: 0,
      lastError: undefined,
    };
    this.#count(this.#queue(name), owner, message.data.length, 1);
    this.#store.insert(this.#stored(name, item));
    return item;
  }

  /** Forgets a reserved item whose commit failed. */
  #unreserve(name: string, item: Item): void {
    if (this.#closed) return;
    const queue = this.#queues.get(name);
    if (queue === undefined) return;
    this.#count(queue, item.owner, item.message.data.length, -1);
    this.#forgetIfEmpty(queue);
  }

  /** Makes a committed item ready; returns the items waiting in its queue (before handing out). */
  #enqueue(name: string, item: Item): number {
    const queue = this.#queue(name);
    queue.items.push(item);
    const waiting = queue.items.length + queue.delayed.length;
    this.#dispatch(queue);
    return waiting;
  }

  /** Puts an item loaded from the store back in its queue (at start, whatever the bounds). */
  #restore(stored: StoredItem): void {
    const item: Item = {
      id: stored.id,
      message: new OvtpMessage(stored.type, stored.data),
      attempts: stored.attempts,
      owner: stored.owner,
      readyAtMs: stored.readyAtMs,
      lastError: stored.lastError,
    };
    this.#nextId = Math.max(this.#nextId, stored.id + 1);
    const queue = this.#queue(stored.queue);
    if (item.owner !== undefined && !this.#keys.has(item.owner)) {
      this.#keys.set(item.owner, { queues: 0, items: 0, bytes: 0 });
    }
    this.#count(queue, item.owner, item.message.data.length, 1);
    if (item.readyAtMs > Date.now()) this.#delay(queue, item);
    else queue.items.push(item);
  }

  /** An item was acknowledged: it leaves its queue, its key's quota and the server's total. */
  #release(queue: Queue, item: Item): void {
    if (this.#closed) return;
    this.#store.delete(item.id);
    this.#count(queue, item.owner, item.message.data.length, -1);
  }

  /** An item given back unstarted: to the front at once, the delivery not counted. */
  #giveBack(queue: Queue, item: Item): void {
    item.attempts = Math.max(0, item.attempts - 1);
    this.#store.update(item.id, this.#stored(queue.name, item));
    queue.items.unshift(item);
  }

  /**
   * A delivery failed (a nack, or a lost worker): the item waits its back-off, or, past
   * `maxDeliveries`, moves to the dead-letter queue.
   */
  #fail(queue: Queue, item: Item, reason: string): void {
    item.lastError = reason;
    if (item.attempts >= this.#limits.maxDeliveries && !queue.name.endsWith(deadLetterSuffix)) {
      this.#deadLetter(queue, item);
      return;
    }
    const delayMs = this.#retryDelayMs(item.attempts);
    item.readyAtMs = delayMs > 0 ? Date.now() + delayMs : 0;
    this.#store.update(item.id, this.#stored(queue.name, item));
    if (delayMs > 0) this.#delay(queue, item);
    else queue.items.unshift(item);
  }

  /**
   * The wait after the `attempts`-th delivery failed: `retryDelayMs · 2^(attempts−1)`, capped at
   * `maxRetryDelayMs`, plus up to half of it at random, the sum capped again.
   */
  #retryDelayMs(attempts: number): number {
    const { retryDelayMs, maxRetryDelayMs } = this.#limits;
    const base = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** Math.max(0, attempts - 1));
    return Math.min(maxRetryDelayMs, Math.round(base * (1 + Math.random() * retryJitterShare)));
  }

  /** Moves an item that failed `maxDeliveries` times to `<queue>.dead`, attempts and reason kept. */
  #deadLetter(queue: Queue, item: Item): void {
    const bytes = item.message.data.length;
    const dead = this.#queue(queue.name + deadLetterSuffix);
    // It moves, so the key's and the server's totals stay as they are.
    queue.count--;
    queue.bytes -= bytes;
    this.#hold(queue, item.owner, -1);
    dead.count++;
    dead.bytes += bytes;
    this.#hold(dead, item.owner, 1);
    item.readyAtMs = 0;
    this.#store.update(item.id, this.#stored(dead.name, item));
    dead.items.push(item);
    this.#dispatch(dead);
  }

  /** Adds an item to the queue's back-off list and wakes when the first one is due. */
  #delay(queue: Queue, item: Item): void {
    let index = queue.delayed.length;
    while (index > 0 && queue.delayed[index - 1].readyAtMs > item.readyAtMs) index--;
    queue.delayed.splice(index, 0, item);
    this.#arm(queue);
  }

  #arm(queue: Queue): void {
    if (queue.timer !== undefined) clearTimeout(queue.timer);
    queue.timer = undefined;
    if (queue.delayed.length === 0 || this.#closed) return;
    const waitMs = Math.max(0, queue.delayed[0].readyAtMs - Date.now());
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      const now = Date.now();
      let due = 0;
      while (due < queue.delayed.length && queue.delayed[due].readyAtMs <= now) due++;
      // Due items go to the front, the one due first at the very front.
      const ready = queue.delayed.splice(0, due);
      for (const item of ready) item.readyAtMs = 0;
      queue.items.unshift(...ready);
      this.#arm(queue);
      this.#dispatch(queue);
    }, waitMs);
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

  /**
   * A worker is gone. An item it held goes back: at once and uncounted when it ended its stream
   * (`lostReason` undefined: it did not start on it), else as a failed delivery.
   */
  #retire(queue: Queue, worker: Worker, lostReason: string | undefined): void {
    if (!queue.workers.delete(worker)) return;
    this.#hold(queue, worker.owner, -1);
    const index = queue.idle.indexOf(worker);
    if (index >= 0) queue.idle.splice(index, 1);
    const item = worker.holding;
    worker.holding = undefined;
    if (item !== undefined && !worker.closed) {
      if (lostReason === undefined) this.#giveBack(queue, item);
      else this.#fail(queue, item, lostReason);
    }
    this.#dispatch(queue);
    this.#forgetIfEmpty(queue);
  }

  /** Hands ready items to idle workers, one each; counts the delivery in the store. */
  #dispatch(queue: Queue): void {
    while (queue.items.length > 0 && queue.idle.length > 0) {
      const worker = queue.idle.shift()!;
      const item = queue.items.shift()!;
      item.attempts++;
      this.#store.update(item.id, this.#stored(queue.name, item));
      worker.holding = item;
      worker.writing = true;
      const head: Head = { id: item.id, type: item.message.type, attempts: item.attempts };
      if (item.lastError !== undefined) head.error = item.lastError;
      const frame = encodeEventFrame(head, item.message.data);
      // A failed write means the stream failed: the read loop retires the worker and requeues.
      worker.stream.write(frame).then(
        () => worker.writing = false,
        () => worker.writing = false,
      );
    }
  }

  #stored(queue: string, item: Item): StoredItem {
    return {
      id: item.id,
      queue,
      owner: item.owner,
      type: item.message.type,
      data: item.message.data,
      attempts: item.attempts,
      readyAtMs: item.readyAtMs,
      lastError: item.lastError,
    };
  }

  #forgetIfEmpty(queue: Queue): void {
    if (queue.count === 0 && queue.workers.size === 0 && this.#queues.get(queue.name) === queue) {
      if (queue.timer !== undefined) clearTimeout(queue.timer);
      this.#queues.delete(queue.name);
    }
  }
}
