/**
 * `QueueWorker`: the client side of a PULL stream, made by `OvtpClient.pull()`. It reads one item
 * at a time, runs the handler and acknowledges it, on a `LiveStream` that is opened again after a
 * reconnect; the server side is `work_queue.ts`.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { OvtpMessage, parseMessageType } from "../message.ts";
import type { Channel } from "../session/channel.ts";
import { defaultMaxMessageBytes } from "../session/message_exchange.ts";
import { type Head, type Stream, StreamKind } from "../session/stream.ts";
import { encodeEventFrame, EventFrameReader } from "./event_frame.ts";
import { LiveStream, type LiveStreamHost } from "./live_stream.ts";
import { maxNackReasonChars } from "./messaging_protocol.ts";
import { checkTopic } from "./topic_pattern.ts";

/** What a worker is told about an item besides its body. */
export interface QueueItemInfo {
  /** The queue it came from. */
  queue: string;
  /** 1 the first time the item is handed out, more when an earlier worker did not finish it. */
  attempts: number;
  /** Why its last delivery failed (the failing worker's reason), when one did. */
  lastError?: string;
  /**
   * Gives the item back unstarted instead of answering it: it goes back to the front of the
   * queue at once, and this delivery does not count towards its delivery limit. What the handler
   * returns or throws afterwards is ignored. For a worker that cannot take the item after all
   * (its output was closed).
   */
  release(): void;
}

/**
 * Does the work of one item. Resolving acknowledges it (it is done and leaves the queue);
 * rejecting fails it (a nack carrying the error's message as its reason): after a back-off it is
 * handed out again, to this or another worker, until its delivery limit sends it to the
 * dead-letter queue `<queue>.dead`.
 */
export type QueueHandler = (message: OvtpMessage, info: QueueItemInfo) => unknown;

/** Options of `OvtpClient.pull()`. */
export interface PullOptions {
  /** Largest item body accepted. Default: the client's `maxMessageBytes` (16 MiB). */
  maxMessageBytes?: number;
}

const emptyBody = new Uint8Array(0);

/**
 * A worker pulling items from a server's work queue, made by `OvtpClient.pull()`. The server
 * sends it one item at a time; once the handler's promise resolves the worker acknowledges it
 * and the server sends the next. If the worker disconnects before acknowledging, the item goes
 * to another worker. Like a subscription, it survives reconnects.
 *
 * @example Work on a queue, then stop
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
 * await client.push("jobs.resize", { file: "a.png" });
 * const done = Promise.withResolvers<unknown>();
 * const worker = await client.pull("jobs.resize", (message, { attempts }) => {
 *   assert.equal(attempts, 1);
 *   done.resolve(message.json()); // returning acknowledges the item; throwing fails it
 * });
 * assert.deepEqual(await done.promise, { file: "a.png" });
 * await worker.stop();
 * ```
 */
export class QueueWorker {
  /** The queue pulled from. */
  readonly queue: string;
  #handler: QueueHandler;
  #options: PullOptions;
  #onError: ((error: unknown) => void) | undefined;
  #live: LiveStream;
  #busy = false;
  #endWhenIdle: Stream | undefined;

  /**
   * @internal Made by `OvtpClient.pull()`.
   *
   * @param host The client.
   * @param queue The queue's name.
   * @param handler Does the work of each item.
   * @param options Limits.
   */
  constructor(
    host: LiveStreamHost,
    queue: string,
    handler: QueueHandler,
    options: PullOptions = {},
  ) {
    this.queue = checkTopic(queue);
    this.#handler = handler;
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

  async #open(channel: Channel): Promise<Stream> {
    const stream = await channel.openStream(StreamKind.pull, { queue: this.queue });
    await stream.replyHead();
    return stream;
  }

  async #serve(stream: Stream): Promise<void> {
    const reader = new EventFrameReader(
      stream,
      this.#options.maxMessageBytes ?? defaultMaxMessageBytes,
    );
    for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {
      if (this.#live.stopped) continue; // Not acknowledged: the server hands it to another worker.
      const { head, body } = frame;
      let message: OvtpMessage;
      if (typeof head.id !== "number" || typeof head.attempts !== "number") {
        throw new ProtocolError("Malformed queue item: no numeric id and attempts");
      }
      try {
        message = new OvtpMessage(parseMessageType(head.type), body.slice());
      } catch (error) {
        throw new ProtocolError(`Malformed queue item: ${(error as Error).message}`);
      }
      this.#busy = true;
      let released = false;
      const info: QueueItemInfo = {
        queue: this.queue,
        attempts: head.attempts,
        release: () => released = true,
      };
      if (typeof head.error === "string") info.lastError = head.error;
      let answer: Head;
      try {
        await this.#handler(message, info);
        answer = { ack: head.id };
      } catch (error) {
        if (!released) this.#onError?.(error);
        answer = { nack: head.id, error: failureReason(error) };
      }
      if (released) answer = { release: head.id };
      this.#busy = false;
      await stream.write(encodeEventFrame(answer, emptyBody));
      if (this.#endWhenIdle === stream) stream.end().catch(() => {});
    }
  }

  /** Stops pulling: the item in hand (if any) is finished and acknowledged first. */
  async stop(): Promise<void> {
    await this.#live.stop();
  }

  #endLocal(stream: Stream): void {
    if (this.#busy) this.#endWhenIdle = stream;
    else stream.end().catch(() => {});
  }
}

/** The reason a nack carries: the error's message, cut to the length the server keeps. */
function failureReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text === "" ? "the worker failed" : text).slice(0, maxNackReasonChars);
}
