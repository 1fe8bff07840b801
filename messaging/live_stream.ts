/**
 * A long-lived stream that a client keeps open across reconnects: what a
 * `Subscription` and a `QueueWorker` run on. Internal to the client.
 *
 * @module
 */

import { ConnectionError, RemoteError } from "../errors.ts";
import type { Channel } from "../session/channel.ts";
import { type Stream, StreamError } from "../session/stream.ts";

/** Wait between attempts to open the stream again after it was lost (the client's own reconnect
 * backoff comes on top when the connection itself is down). */
export const reopenDelayMs = 100;

/** What a live stream needs from its client. */
export interface LiveStreamHost {
  /** The client's connection, reconnecting (with backoff) when it was lost. */
  getChannel(): Promise<Channel>;
  /** False once the client is closed, or when it does not reconnect. */
  canReconnect(): boolean;
  /** Reports a failure that does not stop the stream (a lost connection, a failing callback). */
  onError?(error: unknown): void;
}

/** What a live stream does with its stream. */
export interface LiveStreamBehaviour {
  /** Opens the stream on `channel` and waits until the server accepted it. */
  open(channel: Channel): Promise<Stream>;
  /** Serves the stream until the server ends it; throws when it fails. */
  serve(stream: Stream): Promise<void>;
  /** Ends our direction of the stream, now or once the work in hand is done. */
  endLocal(stream: Stream): void;
}

/**
 * Opens a stream and keeps it open: when it ends or fails without {@linkcode LiveStream.stop},
 * it is opened again on the client's (new) connection, for as long as the client reconnects. A
 * refusal by the server (a reset while opening) stops it for good.
 *
 * @example Wait until a subscription ends (see tests/messaging/pubsub_test.ts)
 * ```ts ignore
 * const subscription = await client.subscribe("metrics.>", onMessage);
 * const error = await subscription.closed; // undefined after unsubscribe()
 * ```
 */
export class LiveStream {
  #host: LiveStreamHost;
  #behaviour: LiveStreamBehaviour;
  #stream: Stream | undefined;
  #stopped = false;
  #task: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #resolveClosed!: (error: Error | undefined) => void;
  /**
   * Resolves once the stream stopped for good: with `undefined` after `stop()`, else with the
   * error that stopped it (a refusal, or a lost connection when the client does not reconnect).
   */
  readonly closed: Promise<Error | undefined>;

  /**
   * Creates the object.
   *
   * @param host The client.
   * @param behaviour How to open, serve and end the stream.
   */
  constructor(host: LiveStreamHost, behaviour: LiveStreamBehaviour) {
    this.#host = host;
    this.#behaviour = behaviour;
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /** True once stopped. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Opens the stream for the first time; rejects when that fails. */
  async start(): Promise<void> {
    const stream = await this.#behaviour.open(await this.#host.getChannel());
    this.#stream = stream;
    this.#task = this.#run(stream);
  }

  /** Stops: ends our direction and waits until the server ended its own. */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
      const stream = this.#stream;
      if (stream !== undefined && !stream.done) this.#behaviour.endLocal(stream);
    }
    await this.#task;
  }

  async #run(first: Stream): Promise<void> {
    let stream: Stream | undefined = first;
    let lost: Error | undefined;
    while (stream !== undefined) {
      try {
        await this.#behaviour.serve(stream);
        if (!stream.done) await stream.end().catch(() => {});
        lost = new ConnectionError("The server ended the stream");
      } catch (error) {
        if (!stream.done) stream.reset(StreamError.cancel, "the client gave up on the stream");
        lost = error instanceof Error ? error : new Error(String(error));
      }
      this.#stream = stream = undefined;
      while (stream === undefined && !this.#stopped) {
        if (!this.#host.canReconnect()) {
          this.#resolveClosed(lost);
          return;
        }
        await this.#sleep(reopenDelayMs);
        if (this.#stopped) break;
        try {
          stream = await this.#behaviour.open(await this.#host.getChannel());
        } catch (error) {
          if (error instanceof RemoteError) {
            this.#host.onError?.(error);
            this.#stopped = true;
            this.#resolveClosed(error);
            return;
          }
          lost = error instanceof Error ? error : new Error(String(error));
        }
        if (stream !== undefined && this.#stopped) {
          this.#behaviour.endLocal(stream);
          await this.#behaviour.serve(stream).catch(() => {});
          stream = undefined;
        }
      }
      this.#stream = stream;
    }
    this.#resolveClosed(undefined);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
