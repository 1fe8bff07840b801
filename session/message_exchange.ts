/**
 * One request/reply over one MESSAGE stream (SPEC.md section 9), both halves: `requestMessage()`
 * opens the stream, sends the body and reads the reply head and body (used by `Caller`);
 * `answerMessage()` reads a message and writes the handler's reply (used by `MessageService`).
 * Also the reply and per-call option types.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { type MessageValue, OvtpMessage, parseMessageType } from "../message.ts";
import type { Channel } from "./channel.ts";
import { defaultMaxMessageBytes } from "./settings.ts";
import { type Stream, StreamError, StreamKind } from "./stream.ts";
import { withStreamDeadline } from "./stream_deadline.ts";

export { defaultMaxMessageBytes } from "./settings.ts";
/** Default time a request may take, from sending to the whole response. */
export const defaultRequestTimeoutMs = 30_000;

/** What a handler returns, like OVTP's callback: a status and an optional response. */
export interface OvtpReply {
  /** True for success. */
  status: boolean;
  /** A string (text), a `Uint8Array` (bytes) or any JSON value. Default: empty text. */
  response?: MessageValue;
}

/** What a request resolves to. */
export interface OvtpResult {
  /** The status the handler returned. */
  status: boolean;
  /** The response decoded by its type: string, `Uint8Array` or parsed JSON. */
  response: MessageValue;
  /** The raw response with its type. */
  message: OvtpMessage;
}

/** Per-call options of a request. */
export interface RequestOptions {
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Give up when this signal aborts. */
  signal?: AbortSignal;
  /** Largest response accepted. Default 16 MiB. */
  maxMessageBytes?: number;
}

/**
 * Sends `message` on a new message stream and waits for the whole reply.
 *
 * @example See tests/session/message_exchange_test.ts; in short:
 * ```ts ignore
 * const result = await requestMessage(channel, OvtpMessage.from("ping"));
 * ```
 */
export async function requestMessage(
  channel: Channel,
  message: OvtpMessage,
  options: RequestOptions = {},
): Promise<OvtpResult> {
  const empty = message.data.length === 0;
  const stream = await channel.openStream(StreamKind.message, { type: message.type }, {
    end: empty,
  });
  return await withStreamDeadline(stream, callLimits(options), async () => {
    if (!empty) await stream.write(message.data, { end: true });
    const head = await stream.replyHead();
    if (typeof head.status !== "boolean") {
      throw new ProtocolError("The reply head has no boolean status");
    }
    const type = parseMessageType(head.type);
    const data = await stream.readAll(options.maxMessageBytes ?? defaultMaxMessageBytes);
    const reply = new OvtpMessage(type, data);
    return { status: head.status, response: reply.value(), message: reply };
  });
}

/** A function that answers messages. */
export type MessageAnswerer = (message: OvtpMessage) => OvtpReply | Promise<OvtpReply>;

/**
 * Answers one incoming message stream with `answer`. A handler that throws resets the stream
 * with the `internal` code and its message; the error is also passed to `onError`.
 *
 * @example See tests/session/message_exchange_test.ts; in short:
 * ```ts ignore
 * await answerMessage(stream, (message) => ({ status: true, response: message.text() }));
 * ```
 */
export async function answerMessage(
  stream: Stream,
  answer: MessageAnswerer,
  options: { maxMessageBytes?: number; onError?: (error: unknown) => void } = {},
): Promise<void> {
  let message: OvtpMessage;
  try {
    const type = parseMessageType(stream.head.type);
    message = new OvtpMessage(
      type,
      await stream.readAll(options.maxMessageBytes ?? defaultMaxMessageBytes),
    );
  } catch (error) {
    stream.reset(StreamError.protocol, (error as Error).message);
    throw error;
  }
  let reply: OvtpReply;
  try {
    reply = await answer(message);
    if (typeof reply?.status !== "boolean") {
      throw new TypeError("The handler must return { status: boolean, response? }");
    }
  } catch (error) {
    options.onError?.(error);
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    stream.reset(StreamError.internal, `The handler failed: ${detail.slice(0, 500)}`);
    return;
  }
  const body = OvtpMessage.from(reply.response ?? "");
  const empty = body.data.length === 0;
  stream.reply({ status: reply.status, type: body.type }, { end: empty });
  if (!empty) await stream.write(body.data, { end: true });
}

/**
 * The time limit and signal of a request: its own, or {@linkcode defaultRequestTimeoutMs}.
 *
 * @example The default time limit
 * ```ts
 * import { callLimits, defaultRequestTimeoutMs } from "./message_exchange.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(callLimits({}).timeoutMs, defaultRequestTimeoutMs);
 * assert.equal(callLimits({ timeoutMs: 5 }).timeoutMs, 5);
 * ```
 */
export function callLimits(options: RequestOptions): { timeoutMs: number; signal?: AbortSignal } {
  return { timeoutMs: options.timeoutMs ?? defaultRequestTimeoutMs, signal: options.signal };
}
