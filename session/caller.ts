/**
 * The calling side of messages, shared by both endpoints: `OvtpClient` calls its server with it,
 * and a server calls a connected client back through `PeerConnection`. It turns a value into a
 * message, opens a message stream on the current channel and waits for the reply.
 *
 * @module
 */

import { type MessageValue, OvtpMessage } from "../message.ts";
import type { Channel } from "./channel.ts";
import { type OvtpResult, requestMessage, type RequestOptions } from "./message_exchange.ts";

/**
 * Sends messages over whatever channel `getChannel()` gives (connecting first, for a client).
 *
 * @example Call over a channel (see tests/callback_test.ts)
 * ```ts ignore
 * const caller = new Caller(() => Promise.resolve(channel), { timeoutMs: 5000 });
 * const { status, response } = await caller.sendMessage("hello");
 * ```
 */
export class Caller {
  #getChannel: () => Promise<Channel>;
  #defaults: RequestOptions;

  /**
   * @param getChannel Gives the channel to call on (and throws when there is none).
   * @param defaults Options of every call, which a call's own options override.
   */
  constructor(getChannel: () => Promise<Channel>, defaults: RequestOptions = {}) {
    this.#getChannel = getChannel;
    this.#defaults = defaults;
  }

  /**
   * Sends a message: a string as text, anything else as JSON; resolves to the handler's
   * `{ status, response }`.
   */
  sendMessage(
    message: Exclude<MessageValue, Uint8Array>,
    options?: RequestOptions,
  ): Promise<OvtpResult> {
    return this.request(OvtpMessage.from(message), options);
  }

  /** Sends raw bytes. Do not modify `data` until the promise settles. */
  sendData(data: Uint8Array, options?: RequestOptions): Promise<OvtpResult> {
    return this.request(new OvtpMessage("bytes", data), options);
  }

  /** Sends a message as it is. */
  async request(message: OvtpMessage, options: RequestOptions = {}): Promise<OvtpResult> {
    const channel = await this.#getChannel();
    return await requestMessage(channel, message, { ...this.#defaults, ...options });
  }
}
