/**
 * The service that answers message streams (SPEC.md section 9) with a handler, for both
 * endpoints: the server's handler, or a client's `handler` option when a server calls it back.
 * On a server it also applies the budgets of message handling: a handler call is taken from the
 * connection's `handlerCalls`, and a message that stops half way is reset after the stall
 * timeout.
 *
 * @module
 */

import { ConnectionError, LimitError, TimeoutError } from "../errors.ts";
import type { OvtpMessage } from "../message.ts";
import type { Allowance } from "./budget.ts";
import { answerMessage, type OvtpReply } from "./message_exchange.ts";
import { defaultMaxMessageBytes } from "./settings.ts";
import { type Stream, StreamError, StreamKind } from "./stream.ts";
import type { StreamService } from "./stream_router.ts";

/** Options of {@linkcode MessageService}. */
export interface MessageServiceOptions<Peer> {
  /** Answers each message; what it throws resets the stream with `internal`. */
  answer: (message: OvtpMessage, peer: Peer) => OvtpReply | Promise<OvtpReply>;
  /** Largest message body accepted. Default 16 MiB. */
  maxMessageBytes?: number;
  /** Reset a message that makes no progress for this long. Default: never. */
  stallTimeoutMs?: number;
  /** Called with one line when a stream is refused for a budget. */
  onLimit?: (detail: string, peer: Peer) => void;
  /** Called when the handler fails (the stream is reset with `internal` as well). */
  onError?: (error: unknown, peer: Peer) => void;
}

/**
 * Answers message streams with a handler.
 *
 * @example The kinds it answers
 * ```ts
 * import { MessageService } from "./message_service.ts";
 * import { StreamKind } from "./stream.ts";
 * import assert from "node:assert/strict";
 *
 * const service = new MessageService({ answer: () => ({ status: true }) });
 * assert.deepEqual(service.kinds, [StreamKind.message]);
 * ```
 */
export class MessageService<Peer extends { readonly allowance?: Allowance }>
  implements StreamService<Peer> {
  /** Message streams only. */
  readonly kinds: readonly number[] = [StreamKind.message];
  #options: MessageServiceOptions<Peer>;

  /** @param options The handler and the limits. */
  constructor(options: MessageServiceOptions<Peer>) {
    this.#options = options;
  }

  /** Answers one message stream. Never rejects: failures go to `onError`. */
  async handle(stream: Stream, peer: Peer): Promise<void> {
    const options = this.#options;
    if (options.stallTimeoutMs !== undefined) stream.setStallTimeout(options.stallTimeoutMs);
    const overBudget = peer.allowance?.take("handlerCalls", 1);
    if (overBudget !== undefined) {
      options.onLimit?.(`stream ${stream.id} refused: ${overBudget.message}`, peer);
      stream.reset(StreamError.refused, overBudget.message);
      return;
    }
    try {
      await answerMessage(stream, (message) => options.answer(message, peer), {
        maxMessageBytes: options.maxMessageBytes ?? defaultMaxMessageBytes,
        onError: (error) => options.onError?.(error, peer),
      });
    } catch (error) {
      // A stream ended by a budget, a stall or its connection is logged where that happened
      // (an error kept by a logger would keep the stream's data alive, too); only the
      // handler's own failures go to onError, which answerMessage already called.
      if (error instanceof LimitError || error instanceof TimeoutError) return;
      if (error instanceof ConnectionError && stream.done) return;
      options.onError?.(error, peer);
    } finally {
      peer.allowance?.give("handlerCalls", 1);
    }
  }
}
