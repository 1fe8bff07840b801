/**
 * `Subscription`: the client side of a SUBSCRIBE stream, made by `OvtpClient.subscribe()`. It
 * reads events one at a time and hands them to the handler, on a `LiveStream` that is made again
 * after a reconnect; the server side is `pubsub.ts`.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { OvtpMessage, parseMessageType } from "../message.ts";
import type { Channel } from "../session/channel.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { type Stream, StreamKind } from "../session/stream.ts";
import { EventFrameReader } from "./event_frame.ts";
import { LiveStream, type LiveStreamHost } from "./live_stream.ts";
import { checkTopic, checkTopicPattern } from "./topic_pattern.ts";

/** Receives each event of a subscription: its body with its type, and the topic it came on. */
export type TopicHandler = (message: OvtpMessage, topic: string) => void | Promise<void>;

/** Options of `OvtpClient.subscribe()`. */
export interface SubscribeOptions {
  /**
   * Called when the server dropped events because this subscriber read too slowly, with the
   * number dropped (before the events that follow).
   */
  onDropped?: (count: number) => void;
  /**
   * Called when the subscription was made again after a lost connection: events published while
   * it was away were missed (the server keeps none, so it cannot tell how many).
   */
  onResubscribed?: () => void;
  /** Largest event body accepted. Default: the client's `maxMessageBytes` (16 MiB). */
  maxMessageBytes?: number;
}

/**
 * A subscription to one or more topic patterns, made by `OvtpClient.subscribe()`. Events arrive
 * in order, one at a time: the next is read only once the handler's promise settled, so a slow
 * handler slows the stream (and, past the server's bounded queue, makes the server drop the
 * oldest events, reported to `onDropped`). The subscription survives reconnects: when the
 * connection drops, it is made again on the next one (events published meanwhile are missed).
 *
 * @example Subscribe, receive one event, then unsubscribe
 * ```ts
 * import { AuthorizedKeys, generateIdentity, OvtpClient, serveOvtp } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const [serverKey, clientKey] = await Promise.all([
 *   generateIdentity({ bits: 2048 }), // the smallest size, for speed
 *   generateIdentity({ bits: 2048 }),
 * ]);
 * await using server = serveOvtp({
 *   identity: serverKey,
 *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
 *   hostname: "127.0.0.1",
 *   port: 0,
 * }, () => ({ status: true }));
 * await using client = new OvtpClient(server.addr, {
 *   identity: clientKey,
 *   fingerprint: serverKey.publicKey.fingerprint,
 * });
 *
 * const received = Promise.withResolvers<string>();
 * const subscription = await client.subscribe("metrics.>", (message, topic) => {
 *   received.resolve(`${topic} ${message.value()}`);
 * });
 * assert.equal(await client.publish("metrics.cpu.host-1", "0.5"), 1); // one subscription reached
 * assert.equal(await received.promise, "metrics.cpu.host-1 0.5");
 * await subscription.unsubscribe();
 * ```
 */
export class Subscription {
  /** The patterns subscribed to. */
  readonly patterns: readonly string[];
  #onMessage: TopicHandler;
  #options: SubscribeOptions;
  #onError: ((error: unknown) => void) | undefined;
  #live: LiveStream;
  #opened = 0;

  /**
   * @internal Made by `OvtpClient.subscribe()`.
   *
   * @param host The client.
   * @param patterns The topic patterns.
   * @param onMessage Receives each event.
   * @param options Drop notices and limits.
   */
  constructor(
    host: LiveStreamHost,
    patterns: readonly string[],
    onMessage: TopicHandler,
    options: SubscribeOptions = {},
  ) {
    if (patterns.length === 0) throw new TypeError("Subscribe to at least one topic pattern");
    this.patterns = patterns.map(checkTopicPattern);
    this.#onMessage = onMessage;
    this.#options = options;
    this.#onError = host.onError?.bind(host);
    this.#live = new LiveStream(host, {
      open: (channel) => this.#open(channel),
      serve: (stream) => this.#serve(stream),
      endLocal: (stream) => this.#endLocal(stream),
    });
  }

  /**
   * Resolves once it stopped for good: with `undefined` after it was stopped, else with the
   * error that stopped it (a refusal when it was made again after a reconnect, or a lost
   * connection when the client does not reconnect).
   */
  get closed(): Promise<Error | undefined> {
    return this.#live.closed;
  }

  /** @internal Opens the stream for the first time (`OvtpClient` does it). */
  async start(): Promise<void> {
    await this.#live.start();
  }

  /** Ends the subscription; resolves once the server confirmed it. */
  async unsubscribe(): Promise<void> {
    await this.#live.stop();
  }

  /** @internal The same as {@linkcode Subscription.unsubscribe} (for the client's close). */
  async stop(): Promise<void> {
    await this.#live.stop();
  }

  async #open(channel: Channel): Promise<Stream> {
    const stream = await channel.openStream(StreamKind.subscribe, { topics: this.patterns });
    await stream.replyHead();
    if (this.#opened++ > 0) this.#options.onResubscribed?.();
    return stream;
  }

  async #serve(stream: Stream): Promise<void> {
    const reader = new EventFrameReader(
      stream,
      this.#options.maxMessageBytes ?? defaultMaxMessageBytes,
    );
    for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {
      if (this.#live.stopped) continue;
      const { head, body } = frame;
      if (typeof head.dropped === "number") {
        this.#call(() => this.#options.onDropped?.(head.dropped as number));
        continue;
      }
      let topic: string;
      let message: OvtpMessage;
      try {
        topic = checkTopic(head.topic);
        message = new OvtpMessage(parseMessageType(head.type), body.slice());
      } catch (error) {
        throw new ProtocolError(`Malformed event: ${(error as Error).message}`);
      }
      await this.#call(() => this.#onMessage(message, topic));
    }
  }

  #endLocal(stream: Stream): void {
    stream.end().catch(() => {});
  }

  async #call(fn: () => void | Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.#onError?.(error);
    }
  }
}
