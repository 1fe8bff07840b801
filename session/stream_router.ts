/**
 * One way to answer the streams a peer opens, for both endpoints: each kind of stream belongs to
 * one {@linkcode StreamService} (messages, files, publish/subscribe, work queues, forwarding),
 * and a {@linkcode StreamRouter} hands each new stream to its service, resetting a kind nobody
 * serves as `unsupported`. The server builds its router from all its services; the client from
 * the message service alone (a server may call it back).
 *
 * @module
 */

import type { Stream } from "./stream.ts";
import { StreamError } from "./stream.ts";

/** Answers the streams of some kinds (SPEC.md, "Stream kinds"). */
export interface StreamService<Peer> {
  /** The stream kinds it answers. */
  readonly kinds: readonly number[];
  /**
   * Answers one stream the peer opened. Its promise rejects with what went wrong, for the log;
   * the service has already told the peer (a reset) by then.
   */
  handle(stream: Stream, peer: Peer): Promise<void>;
}

/** Options of {@linkcode StreamRouter}. */
export interface StreamRouterOptions<Peer> {
  /** Called with what a service's `handle()` rejected with, and the peer. */
  onError?: (error: unknown, peer: Peer) => void;
}

/**
 * Hands each stream a peer opens to the service of its kind.
 *
 * @example Route by kind; a kind nobody serves is reset as unsupported
 * ```ts
 * import { StreamRouter } from "./stream_router.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: number[] = [];
 * const router = new StreamRouter<string>([
 *   { kinds: [1], handle: (stream) => Promise.resolve(void seen.push(stream.kind)) },
 * ]);
 * assert.deepEqual(router.kinds, [1]);
 * assert.throws(() => new StreamRouter([{ kinds: [1], handle: () => Promise.resolve() }, {
 *   kinds: [1],
 *   handle: () => Promise.resolve(),
 * }]), TypeError);
 * ```
 */
export class StreamRouter<Peer> {
  #services = new Map<number, StreamService<Peer>>();
  #onError: ((error: unknown, peer: Peer) => void) | undefined;

  /**
   * @param services The services; each kind may belong to one only.
   * @param options Where failures go.
   * @throws {TypeError} Two services claim one kind.
   */
  constructor(services: readonly StreamService<Peer>[], options: StreamRouterOptions<Peer> = {}) {
    for (const service of services) {
      for (const kind of service.kinds) {
        if (this.#services.has(kind)) {
          throw new TypeError(`Stream kind ${kind} is claimed by two services`);
        }
        this.#services.set(kind, service);
      }
    }
    this.#onError = options.onError;
  }

  /** The kinds some service answers, in ascending order. */
  get kinds(): number[] {
    return [...this.#services.keys()].sort((a, b) => a - b);
  }

  /** Hands `stream` to the service of its kind (not awaited), or resets it as unsupported. */
  route(stream: Stream, peer: Peer): void {
    const service = this.#services.get(stream.kind);
    if (service === undefined) {
      stream.reset(StreamError.unsupported, `Unknown stream kind ${stream.kind}`);
      return;
    }
    service.handle(stream, peer).catch((error) => {
      try {
        this.#onError?.(error, peer);
      } catch {
        // A failing reporter must not become an unhandled rejection.
      }
    });
  }
}
