/**
 * `PubSub`: the server side of publish/subscribe (SPEC.md, "Publish/subscribe"), one of the
 * server's stream services. It answers SUBSCRIBE and PUBLISH streams and copies each event into
 * every matching subscription's bounded queue, dropping the oldest for a slow reader.
 *
 * @module
 */

import { type MessageValue, OvtpMessage, parseMessageType } from "../message.ts";
import type { PeerInfo } from "../session/peer_info.ts";
import type { Allowance } from "../session/budget.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { type Stream, StreamError, StreamKind } from "../session/stream.ts";
import { encodeEventFrame } from "./event_frame.ts";
import {
  defaultMaxSubscriptionsPerConnection,
  defaultSubscriberQueueBytes,
  defaultSubscriberQueueBytesPerKey,
  defaultSubscriberQueueBytesTotal,
  defaultSubscriberQueueEvents,
  maySubscribe,
  mayUseTopic,
  messagingErrorCodes,
  topicRestriction,
} from "./messaging_protocol.ts";
import { checkTopic, checkTopicPattern, topicMatches } from "./topic_pattern.ts";

/** Options of {@linkcode PubSub}. */
export interface PubSubOptions {
  /** Events one subscription holds for a slow subscriber before dropping the oldest. Default 1000. */
  subscriberQueueEvents?: number;
  /** Bytes one subscription holds before dropping the oldest events. Default 8 MiB. */
  subscriberQueueBytes?: number;
  /**
   * Bytes all subscriptions of one client key hold together (queued, or being written to a
   * subscriber that does not read); past it, the subscription an event is queued for drops its
   * oldest events, and the new one too if that is not enough. Default 64 MiB.
   */
  subscriberQueueBytesPerKey?: number;
  /**
   * Bytes all subscriptions of all keys hold together (an event queued for several counts for
   * each); past it, the subscription an event is queued for drops its oldest events, as above.
   * Default 128 MiB.
   */
  subscriberQueueBytesTotal?: number;
  /** Subscription patterns one connection may hold. Default 256. */
  maxSubscriptionsPerConnection?: number;
  /** Largest published body accepted. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Called when a subscriber's stream fails. */
  onError?: (error: unknown, peer?: PeerInfo) => void;
}

/** What a server's publish/subscribe holds now (see {@linkcode PubSub.stats}). */
export interface PubSubStats {
  /** Open subscription streams. */
  subscriptions: number;
  /** Events waiting to be sent, over all subscriptions. */
  queuedEvents: number;
  /** Bytes of those events (an event queued for several subscribers counts for each). */
  queuedBytes: number;
  /** Events dropped for slow subscribers since the server started. */
  droppedEvents: number;
}

/**
 * A peer as the server hands it over: its connection's share of the server's budgets, when the
 * server keeps one (`PeerConnection.allowance`).
 */
type PeerWithAllowance = PeerInfo & { readonly allowance?: Allowance };

/** One SUBSCRIBE stream on the server. */
interface Subscription {
  stream: Stream;
  peer: PeerWithAllowance;
  patterns: string[];
  queue: Uint8Array[];
  queuedBytes: number;
  /** Bytes of the frame being written (still held, counted for the key until written). */
  writingBytes: number;
  dropped: number;
  writing: boolean;
  closed: boolean;
  wake: (() => void) | undefined;
}

/**
 * The server side of publish/subscribe (SPEC.md, "Publish/subscribe"): answers SUBSCRIBE and
 * PUBLISH streams and delivers each published event to every subscription whose patterns match
 * its topic, in publish order. Each subscription has a bounded queue; when a subscriber reads
 * too slowly and the queue is full, the oldest events are dropped and the subscriber is told how
 * many (a `{"dropped": n}` frame before the next event). A key's `topics=` option limits what it
 * may publish and subscribe to.
 *
 * @example See tests/messaging/pubsub_test.ts; in short:
 * ```ts ignore
 * const pubsub = new PubSub();
 * onStream: (stream) => pubsub.handle(stream, peer);
 * pubsub.publish("metrics.cpu", { load: 0.5 });
 * ```
 */
export class PubSub {
  #options: PubSubOptions;
  #subscriptions = new Set<Subscription>();
  #patternsByPeer = new Map<PeerInfo, number>();
  #bytesByKey = new Map<string, number>();
  #bytesTotal = 0;
  #dropped = 0;
  #closed = false;

  /** @param options Queue bounds and limits. */
  constructor(options: PubSubOptions = {}) {
    this.#options = options;
  }

  /** The stream kinds it answers. */
  readonly kinds: readonly number[] = [StreamKind.subscribe, StreamKind.publish];

  /** What is held now: subscriptions, queued events and bytes, drops so far. */
  stats(): PubSubStats {
    let queuedEvents = 0;
    let queuedBytes = 0;
    for (const subscription of this.#subscriptions) {
      queuedEvents += subscription.queue.length;
      queuedBytes += subscription.queuedBytes;
    }
    return {
      subscriptions: this.#subscriptions.size,
      queuedEvents,
      queuedBytes,
      droppedEvents: this.#dropped,
    };
  }

  /**
   * Publishes `value` (a string as text, a `Uint8Array` as bytes, anything else as JSON) on
   * `topic`; returns the number of subscriptions it was queued for.
   *
   * @throws {TypeError} `topic` is not a valid topic.
   */
  publish(topic: string, value: MessageValue): number {
    checkTopic(topic);
    return this.#deliver(topic, OvtpMessage.from(value));
  }

  /**
   * Answers a SUBSCRIBE or PUBLISH stream of an authenticated peer. Each subscription pattern is
   * taken from the peer's `allowance` (resource `subscriptions`, counted for its connection, its
   * key and the server) when it has one, and given back when the subscription ends.
   */
  async handle(stream: Stream, peer: PeerWithAllowance): Promise<void> {
    if (this.#closed) {
      stream.reset(StreamError.refused, "The server is closing");
      return;
    }
    if (stream.kind === StreamKind.publish) {
      await this.#answerPublish(stream, peer);
    } else {
      await this.#answerSubscribe(stream, peer);
    }
  }

  /** Ends every subscription (the server is closing); later streams are refused. */
  close(): void {
    this.#closed = true;
    for (const subscription of this.#subscriptions) {
      this.#finish(subscription, "the server is closing", true);
    }
  }

  async #answerPublish(stream: Stream, peer: PeerInfo): Promise<void> {
    let topic: string;
    let message: OvtpMessage;
    try {
      topic = checkTopic(stream.head.topic);
      const type = parseMessageType(stream.head.type);
      if (!mayUseTopic(topicRestriction(peer.options), topic)) {
        stream.reset(
          messagingErrorCodes.permission,
          `This key may not publish to "${topic}" (not covered by its authorized_keys option topics=)`,
        );
        return;
      }
      const data = await stream.readAll(this.#options.maxMessageBytes ?? defaultMaxMessageBytes);
      message = new OvtpMessage(type, data);
    } catch (error) {
      if (!stream.done) stream.reset(StreamError.protocol, (error as Error).message);
      return;
    }
    const delivered = this.#deliver(topic, message);
    stream.reply({ status: true, delivered }, { end: true });
  }

  async #answerSubscribe(stream: Stream, peer: PeerWithAllowance): Promise<void> {
    const topics = stream.head.topics;
    const limit = this.#options.maxSubscriptionsPerConnection ??
      defaultMaxSubscriptionsPerConnection;
    let patterns: string[];
    try {
      if (!Array.isArray(topics) || topics.length === 0 || topics.length > limit) {
        throw new TypeError(`"topics" must be an array of 1 to ${limit} patterns`);
      }
      patterns = [...new Set(topics.map(checkTopicPattern))];
    } catch (error) {
      stream.reset(StreamError.protocol, (error as Error).message);
      return;
    }
    const allowed = topicRestriction(peer.options);
    const refused = patterns.find((pattern) => !maySubscribe(allowed, pattern));
    if (refused !== undefined) {
      stream.reset(
        messagingErrorCodes.permission,
        `This key may not subscribe to "${refused}" (not covered by its authorized_keys option topics=)`,
      );
      return;
    }
    const held = this.#patternsByPeer.get(peer) ?? 0;
    if (held + patterns.length > limit) {
      stream.reset(
        messagingErrorCodes.full,
        `A connection may hold at most ${limit} subscription patterns`,
      );
      return;
    }
    const overBudget = peer.allowance?.take("subscriptions", patterns.length);
    if (overBudget !== undefined) {
      stream.reset(messagingErrorCodes.full, overBudget.message);
      return;
    }
    this.#patternsByPeer.set(peer, held + patterns.length);
    const subscription: Subscription = {
      stream,
      peer,
      patterns,
      queue: [],
      queuedBytes: 0,
      writingBytes: 0,
      dropped: 0,
      writing: false,
      closed: false,
      wake: undefined,
    };
    this.#subscriptions.add(subscription);
    stream.reply({});
    const writing = this.#write(subscription);
    try {
      // The subscriber sends nothing but the end of its direction (unsubscribe).
      const chunk = await stream.read();
      if (chunk !== null) {
        stream.reset(StreamError.protocol, "A subscriber sends no data");
      }
      this.#finish(subscription, "unsubscribed", false);
    } catch {
      this.#finish(subscription, "the stream failed", false);
    }
    await writing;
  }

  #deliver(topic: string, message: OvtpMessage): number {
    let frame: Uint8Array | undefined;
    let delivered = 0;
    for (const subscription of this.#subscriptions) {
      if (subscription.closed) continue;
      if (!subscription.patterns.some((pattern) => topicMatches(pattern, topic))) continue;
      frame ??= encodeEventFrame({ topic, type: message.type }, message.data);
      this.#enqueue(subscription, frame);
      delivered++;
    }
    return delivered;
  }

  /**
   * Queues a frame, dropping the oldest ones past the subscription's bounds (the new frame is
   * kept) and past its key's (the new frame too, when dropping the older ones is not enough).
   */
  #enqueue(subscription: Subscription, frame: Uint8Array): void {
    const maxEvents = this.#options.subscriberQueueEvents ?? defaultSubscriberQueueEvents;
    const maxBytes = this.#options.subscriberQueueBytes ?? defaultSubscriberQueueBytes;
    const maxKeyBytes = this.#options.subscriberQueueBytesPerKey ??
      defaultSubscriberQueueBytesPerKey;
    const key = subscription.peer.fingerprint;
    subscription.queue.push(frame);
    subscription.queuedBytes += frame.length;
    this.#holdBytes(key, frame.length);
    const maxTotalBytes = this.#options.subscriberQueueBytesTotal ??
      defaultSubscriberQueueBytesTotal;
    const overKey = () =>
      (this.#bytesByKey.get(key) ?? 0) > maxKeyBytes || this.#bytesTotal > maxTotalBytes;
    while (
      subscription.queue.length > 1 &&
      (subscription.queue.length > maxEvents || subscription.queuedBytes > maxBytes || overKey())
    ) {
      this.#drop(subscription, subscription.queue.shift()!);
    }
    if (overKey()) this.#drop(subscription, subscription.queue.pop()!);
    const wake = subscription.wake;
    subscription.wake = undefined;
    wake?.();
  }

  #drop(subscription: Subscription, frame: Uint8Array): void {
    subscription.queuedBytes -= frame.length;
    this.#holdBytes(subscription.peer.fingerprint, -frame.length);
    subscription.dropped++;
    this.#dropped++;
  }

  /** Counts `delta` bytes held for the subscriptions of `key`. */
  #holdBytes(key: string, delta: number): void {
    this.#bytesTotal += delta;
    const held = (this.#bytesByKey.get(key) ?? 0) + delta;
    if (held > 0) this.#bytesByKey.set(key, held);
    else this.#bytesByKey.delete(key);
  }

  async #write(subscription: Subscription): Promise<void> {
    const { stream } = subscription;
    try {
      while (!subscription.closed) {
        if (subscription.dropped > 0) {
          const notice = encodeEventFrame({ dropped: subscription.dropped }, new Uint8Array(0));
          subscription.dropped = 0;
          subscription.writing = true;
          await stream.write(notice);
          subscription.writing = false;
          continue;
        }
        const frame = subscription.queue.shift();
        if (frame === undefined) {
          await new Promise<void>((resolve) => subscription.wake = resolve);
          continue;
        }
        subscription.queuedBytes -= frame.length;
        subscription.writingBytes = frame.length;
        subscription.writing = true;
        await stream.write(frame);
        subscription.writing = false;
        if (!subscription.closed) {
          this.#holdBytes(subscription.peer.fingerprint, -frame.length);
          subscription.writingBytes = 0;
        }
      }
    } catch (error) {
      if (!subscription.closed) this.#options.onError?.(error, subscription.peer);
      this.#finish(subscription, "the stream failed", true);
    }
  }

  /**
   * Forgets a subscription and ends its stream: gracefully when nothing is being written,
   * else (a write waits on a subscriber that does not read) with a reset.
   */
  #finish(subscription: Subscription, why: string, reset: boolean): void {
    if (subscription.closed) return;
    subscription.closed = true;
    this.#subscriptions.delete(subscription);
    const held = (this.#patternsByPeer.get(subscription.peer) ?? 0) - subscription.patterns.length;
    if (held > 0) this.#patternsByPeer.set(subscription.peer, held);
    else this.#patternsByPeer.delete(subscription.peer);
    subscription.peer.allowance?.give("subscriptions", subscription.patterns.length);
    this.#holdBytes(
      subscription.peer.fingerprint,
      -(subscription.queuedBytes + subscription.writingBytes),
    );
    subscription.queue = [];
    subscription.queuedBytes = 0;
    subscription.writingBytes = 0;
    const wake = subscription.wake;
    subscription.wake = undefined;
    wake?.();
    const { stream } = subscription;
    if (stream.done) return;
    if (reset || subscription.writing) {
      stream.reset(StreamError.cancel, `Subscription over: ${why}`);
    } else {
      stream.end().catch(() => {});
    }
  }
}
