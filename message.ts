/**
 * `OvtpMessage`, a message body and its type (`bytes`, `text` or `json`): what `sendMessage()`
 * sends, what a handler receives and what a reply, an event or a queue item carries. It turns
 * values into bytes and back; it knows nothing of streams.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { utf8Decoder, utf8Encoder } from "./wire/_bytes.ts";

/** How a message body is to be read: raw bytes, UTF-8 text, or UTF-8 JSON. */
export type MessageType = "bytes" | "text" | "json";

/** What a message or a response may be: text, bytes, or anything `JSON.stringify` takes. */
export type MessageValue = string | Uint8Array | unknown;

const messageTypes: readonly MessageType[] = ["bytes", "text", "json"];

/**
 * A message body with its type: what a handler receives and what a reply carries.
 *
 * @example Read a JSON message
 * ```ts
 * import { OvtpMessage } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const message = OvtpMessage.from({ job: 7 });
 * assert.equal(message.type, "json");
 * assert.deepEqual(message.json(), { job: 7 });
 * assert.equal(message.text(), '{"job":7}');
 * ```
 */
export class OvtpMessage {
  /** How the sender meant the body to be read. */
  readonly type: MessageType;
  /** The body. */
  readonly data: Uint8Array;

  /**
   * Creates the object.
   *
   * @param type How the body is to be read.
   * @param data The body.
   */
  constructor(type: MessageType, data: Uint8Array) {
    this.type = type;
    this.data = data;
  }

  /**
   * Wraps a value: a string becomes text, a `Uint8Array` bytes, anything else JSON.
   *
   * @example Bytes stay bytes
   * ```ts
   * import { OvtpMessage } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * assert.equal(OvtpMessage.from(new Uint8Array([1])).type, "bytes");
   * assert.equal(OvtpMessage.from("hi").type, "text");
   * ```
   */
  static from(value: MessageValue): OvtpMessage {
    if (typeof value === "string") return new OvtpMessage("text", utf8Encoder.encode(value));
    if (value instanceof Uint8Array) return new OvtpMessage("bytes", value);
    const json = JSON.stringify(value === undefined ? null : value);
    return new OvtpMessage("json", utf8Encoder.encode(json));
  }

  /** The body as UTF-8 text; throws {@linkcode ProtocolError} when it is not valid UTF-8. */
  text(): string {
    try {
      return utf8Decoder.decode(this.data);
    } catch (cause) {
      throw new ProtocolError("The message body is not valid UTF-8", { cause });
    }
  }

  /** The body parsed as JSON; throws {@linkcode ProtocolError} when it is not JSON. */
  json<T = unknown>(): T {
    const text = this.text();
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new ProtocolError("The message body is not valid JSON", { cause });
    }
  }

  /** The body decoded by its type: a string, a `Uint8Array`, or the parsed JSON value. */
  value(): MessageValue {
    switch (this.type) {
      case "text":
        return this.text();
      case "json":
        return this.json();
      default:
        return this.data;
    }
  }
}

/**
 * Reads a message type from a stream head field; anything else is a {@linkcode ProtocolError}.
 *
 * @example
 * ```ts
 * import { parseMessageType } from "./message.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseMessageType("json"), "json");
 * assert.throws(() => parseMessageType("xml"));
 * ```
 */
export function parseMessageType(value: unknown): MessageType {
  if (!messageTypes.includes(value as MessageType)) {
    throw new ProtocolError(`Unknown message type ${JSON.stringify(value)}`);
  }
  return value as MessageType;
}
