/**
 * The server endpoint: `OvtpServer` listens, accepts, and serves each connection
 * (`server_connection.ts`: admit → authenticate → run → log) with one stream router built from
 * its services: messages (the handler), files, publish/subscribe, work queues and forwarding.
 * Its options are in `server_options.ts`; the settings it shares with the client in
 * `session/settings.ts`.
 *
 * @module
 */

import { defaultPort, type HostPort } from "./address.ts";
import { AuthorizedKeys } from "./crypto/authorized_keys.ts";
import { TicketKeys } from "./crypto/ticket_keys.ts";
import type { MessageValue } from "./message.ts";
import { ForwardService } from "./forward/forward_service.ts";
import { PubSub, type PubSubStats } from "./messaging/pubsub.ts";
import { memoryQueueStorePath, openQueueStore } from "./messaging/queue_store.ts";
import { WorkQueues, type WorkQueueStats } from "./messaging/work_queue.ts";
import type { PeerConnection } from "./peer_connection.ts";
import { serveConnection } from "./server_connection.ts";
import {
  defaultStreamStallTimeoutMs,
  type OvtpHandler,
  type OvtpServerOptions,
} from "./server_options.ts";
import type { ServerLogEvent } from "./server_log.ts";
import { Admission } from "./session/admission.ts";
import { Budget, budgetLimits, type Resource } from "./session/budget.ts";
import type { Channel } from "./session/channel.ts";
import { MessageService } from "./session/message_service.ts";
import { resolveSessionSettings, type SessionSettings } from "./session/settings.ts";
import type { Stream } from "./session/stream.ts";
import { StreamRouter, type StreamService } from "./session/stream_router.ts";
import { fileErrorCodes } from "./transfer/file_protocol.ts";
import { FileService, fileStreamKinds } from "./transfer/file_service.ts";
import { acceptLoop } from "./wire/accept_loop.ts";
import type { DenoTransport } from "./wire/deno_transport.ts";

export {
  defaultMaxConnections,
  defaultStreamStallTimeoutMs,
  type OvtpHandler,
  type OvtpServerOptions,
} from "./server_options.ts";
export {
  defaultMaxRecordBytes,
  defaultRekeyRecords,
  type SessionOptions,
} from "./session/settings.ts";

/**
 * An ovtp server: accepts connections, authenticates clients against authorized_keys, and
 * answers their messages with a handler.
 *
 * @example Serve on a free port, then close
 * ```ts
 * import { AuthorizedKeys, generateIdentity, OvtpServer } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const identity = await generateIdentity({ bits: 2048 }); // the smallest size, for speed
 * const server = new OvtpServer((message) => ({ status: true, response: message.text() }), {
 *   identity,
 *   authorizedKeys: AuthorizedKeys.fromKeys([]),
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const address = server.listen();
 * assert.ok(address.port > 0);
 * await server.close();
 * ```
 */
export class OvtpServer {
  #options: OvtpServerOptions;
  #settings: SessionSettings;
  #authorizedKeys: AuthorizedKeys;
  #pubsub: PubSub;
  #queues: WorkQueues;
  #router: StreamRouter<PeerConnection>;
  #admission: Admission;
  #budget: Budget;
  #tickets: Promise<TicketKeys | undefined>;
  #listener: Deno.Listener | undefined;
  #peers = new Map<Channel, PeerConnection>();
  #pending = new Set<DenoTransport>();
  #accepting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #resolveFinished!: () => void;
  /** Resolves once the server has closed and every connection has ended. */
  readonly finished: Promise<void>;

  /**
   * Creates the object.
   *
   * @param handler Answers each message.
   * @param options Identity, authorized keys, address and limits.
   * @throws {RangeError} A setting out of its range (the message names it).
   * @throws {QueueStoreError} The `queueStore` file cannot be used (corrupt, unreadable, held by
   * another server).
   */
  constructor(handler: OvtpHandler, options: OvtpServerOptions) {
    this.#options = options;
    this.#settings = resolveSessionSettings(options);
    this.#authorizedKeys = typeof options.authorizedKeys === "string"
      ? AuthorizedKeys.fromFile(options.authorizedKeys, {
        // A skipped line or a file writable by others: logged once, never sent to a peer.
        onWarning: (warning) => this.#log({ event: "warning", time: now(), detail: warning }),
      })
      : options.authorizedKeys;
    this.#admission = new Admission({
      maxConnections: options.maxConnections,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      maxStartups: options.maxStartups,
      authFailureLimit: options.authFailureLimit,
      authBackoffMs: options.authBackoffMs,
    });
    this.#budget = new Budget(budgetLimits({
      ...options.budgets,
      key: { connections: options.maxConnectionsPerKey, ...options.budgets?.key },
      process: { connections: options.maxConnections, ...options.budgets?.process },
    }));
    const stallTimeoutMs = options.streamStallTimeoutMs ?? defaultStreamStallTimeoutMs;
    const messagingLimits = {
      ...options.messaging,
      maxMessageBytes: this.#settings.maxMessageBytes,
      onError: options.onError,
    };
    this.#pubsub = new PubSub(messagingLimits);
    this.#queues = new WorkQueues({
      ...messagingLimits,
      store: openQueueStore(options.queueStore ?? memoryQueueStorePath, {
        onError: options.onError,
      }),
    });
    const onError = (error: unknown, peer?: PeerConnection) => options.onError?.(error, peer);
    this.#router = new StreamRouter<PeerConnection>([
      new MessageService<PeerConnection>({
        answer: handler,
        maxMessageBytes: this.#settings.maxMessageBytes,
        stallTimeoutMs,
        onLimit: (detail, peer) => this.#logLimit(peer, detail),
        onError,
      }),
      options.root === undefined ? noFiles : new FileService({
        root: options.root,
        partialMaxAgeMs: options.partialMaxAgeMs,
        fileCalls: options.fileCalls,
        stallTimeoutMs,
        // The budgets count open files per connection, key and process; this is the same cap.
        maxOpenFilesPerConnection: this.#budget.limits.connection.fileHandles,
      }),
      this.#pubsub,
      this.#queues,
      new ForwardService({
        allow: options.forwardAllow ?? [],
        connectTimeoutMs: options.forwardConnectTimeoutMs,
      }),
    ], { onError });
    TicketKeys.checkLifetimeMs(options.ticketLifetimeMs);
    // Loaded once; a key file that cannot be used is reported, and the server resumes nothing.
    this.#tickets = TicketKeys.load({
      file: options.ticketKeyFile,
      lifetimeMs: options.ticketLifetimeMs,
    }).catch((error: unknown) => {
      options.onError?.(error);
      this.#log({ event: "warning", time: now(), detail: (error as Error).message });
      return undefined;
    });
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** The bound address once listening. */
  get addr(): HostPort {
    if (this.#listener === undefined) throw new TypeError("The server is not listening");
    const addr = this.#listener.addr as Deno.NetAddr;
    return { hostname: addr.hostname, port: addr.port };
  }

  /** Connections that finished the handshake and are open now. */
  get connectionCount(): number {
    return this.#peers.size;
  }

  /**
   * What all connections together hold now of the budgets (buffered bytes, open files,
   * handler calls, subscriptions, connections), for monitoring and tests.
   */
  get held(): Readonly<Record<Resource, number>> {
    return this.#budget.held;
  }

  /** The authenticated connections open now, each of which can be called. */
  get connections(): PeerConnection[] {
    return [...this.#peers.values()];
  }

  /**
   * Publishes `value` (a string as text, a `Uint8Array` as bytes, anything else as JSON) on
   * `topic` to the subscribers of every connection; returns how many subscriptions it was queued
   * for.
   *
   * @throws {TypeError} `topic` is not a valid topic (dot-separated `[A-Za-z0-9_-]` tokens).
   */
  publish(topic: string, value: MessageValue): number {
    return this.#pubsub.publish(topic, value);
  }

  /**
   * Adds `value` to the work queue `queue`, for one of the clients that pull from it; returns
   * the number of items waiting in it afterwards.
   *
   * @throws {RangeError} The queue is full.
   * @throws {QueueStoreError} The `queueStore` file could not commit it.
   */
  push(queue: string, value: MessageValue): number {
    return this.#queues.push(queue, value);
  }

  /** What publish/subscribe and a work queue hold now (for monitoring and tests). */
  messagingStats(queue?: string): PubSubStats & { queue?: WorkQueueStats } {
    return {
      ...this.#pubsub.stats(),
      ...(queue === undefined ? {} : { queue: this.#queues.stats(queue) }),
    };
  }

  /** Starts listening and accepting; returns the bound address. */
  listen(): HostPort {
    if (this.#listener !== undefined) throw new TypeError("The server is already listening");
    if (this.#closing !== undefined) throw new TypeError("The server is closed");
    this.#listener = Deno.listen({
      hostname: this.#options.hostname ?? "0.0.0.0",
      port: this.#options.port ?? defaultPort,
    });
    this.#accepting = this.#acceptLoop(this.#listener);
    const address = this.addr;
    this.#options.onListen?.(address);
    return address;
  }

  /**
   * Closes the server when a block that declared it with `await using` ends: the same as
   * {@linkcode OvtpServer.prototype.close} (in-flight requests finish first).
   *
   * @returns Once every connection has ended.
   *
   * @example Serve for the length of a block
   * ```ts
   * import { AuthorizedKeys, generateIdentity, OvtpServer } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const identity = await generateIdentity({ bits: 2048 });
   * let port: number;
   * {
   *   await using server = new OvtpServer(() => ({ status: true }), {
   *     identity,
   *     authorizedKeys: AuthorizedKeys.fromKeys([]),
   *     hostname: "127.0.0.1",
   *     port: 0,
   *   });
   *   port = server.listen().port;
   * }
   * // Closed: nothing listens on the port any more.
   * await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Stops accepting, lets in-flight requests finish (each connection closes gracefully), and
   * resolves once every connection has ended.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  async #drain(): Promise<void> {
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const transport of this.#pending) transport.close();
    this.#admission.close();
    this.#pubsub.close();
    this.#queues.close();
    await Promise.all([...this.#peers.keys()].map((channel) => channel.close()));
    await this.#accepting;
    this.#resolveFinished();
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    const serving = new Set<Promise<void>>();
    const context = {
      identity: this.#options.identity,
      authorizedKeys: this.#authorizedKeys,
      admission: this.#admission,
      budget: this.#budget,
      tickets: this.#tickets,
      settings: this.#settings,
      router: this.#router,
      closing: () => this.#closing !== undefined,
      pending: this.#pending,
      peers: this.#peers,
      log: (event: ServerLogEvent) => this.#log(event),
    };
    await acceptLoop(listener, (conn) => {
      const task = serveConnection(conn, context).catch((error) => this.#options.onError?.(error));
      serving.add(task);
      task.finally(() => serving.delete(task));
    }, {
      onError: (error) => {
        if (this.#closing !== undefined) return;
        this.#options.onError?.(error);
        this.#log({
          event: "accept_error",
          time: now(),
          error: error instanceof Error ? error.message : String(error),
        });
      },
    });
    await Promise.all(serving);
  }

  #logLimit(peer: PeerConnection, detail: string): void {
    this.#log({
      event: "limit",
      time: now(),
      remote: `${peer.remoteAddr.hostname}:${peer.remoteAddr.port}`,
      fingerprint: peer.fingerprint,
      detail,
    });
  }

  #log(event: ServerLogEvent): void {
    try {
      this.#options.onLog?.(event);
    } catch {
      // A failing logger must not take the server down.
    }
  }
}

/** Answers every file stream of a server that serves no folder. */
const noFiles: StreamService<PeerConnection> = {
  kinds: fileStreamKinds,
  handle(stream: Stream): Promise<void> {
    stream.reset(
      fileErrorCodes.permission,
      "This server serves no files: it was started without a root (the root option, ovtp serve --root DIR)",
    );
    return Promise.resolve();
  },
};

/** Options of {@linkcode serveOvtp}: the server's options without a separate `listen()`. */
export type ServeOvtpOptions = OvtpServerOptions;

/**
 * Starts an {@linkcode OvtpServer} at once, like `Deno.serve`: returns the listening server,
 * whose `finished` resolves when it has been closed (by `close()` or the `signal`).
 *
 * @example Serve until aborted
 * ```ts
 * import { AuthorizedKeys, generateIdentity, serveOvtp } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const controller = new AbortController();
 * const server = serveOvtp({
 *   identity: await generateIdentity({ bits: 2048 }),
 *   authorizedKeys: AuthorizedKeys.fromKeys([]),
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   signal: controller.signal,
 * }, () => ({ status: true }));
 * assert.ok(server.addr.port > 0);
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serveOvtp(options: ServeOvtpOptions, handler: OvtpHandler): OvtpServer {
  const server = new OvtpServer(handler, options);
  server.listen();
  return server;
}

function now(): string {
  return new Date().toISOString();
}
