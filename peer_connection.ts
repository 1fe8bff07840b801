/**
 * An authenticated client connection as a server sees it: who the peer is (its key, comment,
 * address and authorized_keys options, and its share of the budgets) and a way to call it back
 * (the same `Caller` the client uses). Made by `server_connection.ts` once a handshake
 * succeeded; handed to the handler and to every stream service.
 *
 * @module
 */

import type { PeerInfo } from "./session/peer_info.ts";
import { ConnectionError } from "./errors.ts";
import type { MessageValue } from "./message.ts";
import { Caller } from "./session/caller.ts";
import type { Allowance } from "./session/budget.ts";
import type { Channel } from "./session/channel.ts";
import type { OvtpResult, RequestOptions } from "./session/message_exchange.ts";
import { defaultMaxMessageBytes } from "./session/settings.ts";
import type { TransportAddress } from "./wire/transport.ts";

export type { PeerInfo } from "./session/peer_info.ts";

/**
 * An authenticated client connection, as a server sees it: who it is ({@linkcode PeerInfo})
 * and a way to call it. Server-to-server links are symmetric, so a server can send the client
 * a message and await its reply with the same API the client uses; the client answers with
 * its `handler` option.
 *
 * @example Call the client back from a handler
 * ```ts
 * import { AuthorizedKeys, generateIdentity, OvtpClient, serveOvtp } from "./mod.ts";
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
 * }, async (_message, peer) => {
 *   const answer = await peer.sendMessage("who are you?");
 *   return { status: true, response: `you said: ${answer.response}` };
 * });
 * await using client = new OvtpClient(server.addr, {
 *   identity: clientKey,
 *   fingerprint: serverKey.publicKey.fingerprint,
 *   handler: () => ({ status: true, response: "the client" }), // answers the server's calls
 * });
 * assert.equal((await client.sendMessage("hello")).response, "you said: the client");
 * ```
 */
export class PeerConnection implements PeerInfo {
  /** `SHA256:…` fingerprint of the peer's key. */
  readonly fingerprint: string;
  /** The comment of the key's authorized_keys line. */
  readonly comment: string;
  /** The peer's address. */
  readonly remoteAddr: TransportAddress;
  /** The options of the key's authorized_keys line. */
  readonly options: ReadonlyMap<string, string | true>;
  /**
   * What this connection may still take of the server's budgets (open files, buffered bytes,
   * subscriptions, handler calls); every service takes from it before spending. `undefined` on
   * connections the server did not make (tests).
   */
  readonly allowance: Allowance | undefined;
  #channel: Channel;
  #caller: Caller;

  /**
   * Creates the object. Made by the server for each authenticated connection.
   *
   * @param channel The connection's channel.
   * @param info Who the peer is.
   * @param maxMessageBytes Largest reply accepted.
   * @param allowance The connection's share of the server's budgets.
   */
  constructor(
    channel: Channel,
    info: PeerInfo,
    maxMessageBytes: number = defaultMaxMessageBytes,
    allowance?: Allowance,
  ) {
    this.allowance = allowance;
    this.#channel = channel;
    this.fingerprint = info.fingerprint;
    this.comment = info.comment;
    this.remoteAddr = info.remoteAddr;
    this.options = info.options;
    this.#caller = new Caller(() => {
      if (channel.closing) {
        throw new ConnectionError(
          `The connection to ${this.comment || this.fingerprint} is closed`,
        );
      }
      return Promise.resolve(channel);
    }, { maxMessageBytes });
  }

  /** True once the connection is closing or closed. */
  get closed(): boolean {
    return this.#channel.closing;
  }

  /**
   * Sends the peer a message (a string as text, anything else as JSON) and waits for its
   * handler's `{ status, response }`.
   *
   * @throws {ConnectionError} The connection is closed, or the peer accepts no calls.
   */
  sendMessage(
    message: Exclude<MessageValue, Uint8Array>,
    options?: RequestOptions,
  ): Promise<OvtpResult> {
    return this.#caller.sendMessage(message, options);
  }

  /** Sends the peer raw bytes and waits for the reply. */
  sendData(data: Uint8Array, options?: RequestOptions): Promise<OvtpResult> {
    return this.#caller.sendData(data, options);
  }

  /** Closes the connection gracefully. */
  async close(): Promise<void> {
    await this.#channel.close();
  }
}
