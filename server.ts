import { defaultPort, formatHostPort, type HostPort } from "./address.ts";
import { AuthenticationError, ConnectionError, LimitError, TimeoutError } from "./errors.ts";
import type { RefusalCause, ServerLogEvent } from "./server_log.ts";
import { Admission, defaultAdmissionLimits } from "./session/admission.ts";
import {
  type Allowance,
  Budget,
  type BudgetLimits,
  budgetLimits,
  type BudgetRefusal,
  isBudgetRefusal,
  type Resource,
  type ResourceLimits,
} from "./session/budget.ts";
import { AuthorizedKeys } from "./crypto/authorized_keys.ts";
import { allowsFrom } from "./crypto/key_permissions.ts";
import { ForwardService } from "./forward/forward_service.ts";
import type { Identity } from "./crypto/identity.ts";
import type { MessageValue, OvtpMessage } from "./message.ts";
import { PubSub, type PubSubOptions, type PubSubStats } from "./messaging/pubsub.ts";
import { type WorkQueueOptions, WorkQueues, type WorkQueueStats } from "./messaging/work_queue.ts";
import { PeerConnection, type PeerInfo } from "./peer_connection.ts";
import { Channel, type ChannelOptions, defaultMaxStreams } from "./session/channel.ts";
import { serverHandshake } from "./session/handshake.ts";
import {
  answerMessage,
  defaultMaxMessageBytes,
  type OvtpReply,
} from "./session/message_exchange.ts";
import { type Stream, StreamError, StreamKind } from "./session/stream.ts";
import { FileService } from "./transfer/file_service.ts";
import { fileErrorCodes } from "./transfer/file_protocol.ts";
import { acceptLoop } from "./wire/accept_loop.ts";
import { DenoTransport } from "./wire/deno_transport.ts";
import { encodeFrame } from "./wire/frame.ts";
import { encodeRefused, RefusalReason } from "./wire/handshake_codec.ts";

/** Default largest record plaintext we accept: 1 MiB of data plus room for record headers. */
export const defaultMaxRecordBytes: number = 1024 * 1024 + 1024;
/** Default records per key before a key update (well below AES-GCM's 2^24.5 limit). */
export const defaultRekeyRecords: number = 1 << 23;
/** Default time a stream may wait for its peer's data or window credit before it is reset. */
export const defaultStreamStallTimeoutMs: number = 30_000;
/** Default number of connections served at once. */
export const defaultMaxConnections: number = defaultAdmissionLimits.maxConnections;

/** What answers messages on a server: like OVTP's callback, it returns `{ status, response }`. */
export type OvtpHandler = (
  message: OvtpMessage,
  peer: PeerConnection,
) => OvtpReply | Promise<OvtpReply>;

/** Settings shared by both endpoints: record sizes and channel limits. */
export interface SessionOptions {
  /** Largest record plaintext we accept. Default 1 MiB + 1 KiB. */
  maxRecordBytes?: number;
  /** Records we send under one key before updating it. Default 2^23. */
  rekeyRecords?: number;
  /** Time allowed for the handshake. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Ping after this much silence. Default 15 s. */
  keepaliveMs?: number;
  /** Close after this much silence. Default 60 s. */
  idleTimeoutMs?: number;
  /** Streams the peer may have open towards us at once (announced in the hello). Default 256. */
  maxStreams?: number;
  /** Largest message body accepted. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * A stream whose peer stops half way (a message without its end, an upload that stops
   * sending, a download that stops reading) is reset after this long without progress.
   * Default 30 s.
   */
  streamStallTimeoutMs?: number;
}

/** Options of {@linkcode OvtpServer}. */
export interface OvtpServerOptions extends SessionOptions {
  /** The server's identity key. */
  identity: Identity;
  /** Who may connect: an {@linkcode AuthorizedKeys} or the path of an authorized_keys file. */
  authorizedKeys: AuthorizedKeys | string;
  /** Address to listen on. Default `0.0.0.0`. */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. Default 4242. */
  port?: number;
  /**
   * The folder whose files clients may upload, download, list and hash. Without it, file
   * operations are refused. A key's `root=` option in authorized_keys narrows it further, and
   * `read-only` / `write-only` options restrict what the key may do.
   */
  root?: string;
  /** Partial uploads older than this are removed. Default 24 hours. */
  partialMaxAgeMs?: number;
  /**
   * Destinations clients may open TCP forwards to (`ssh -L` style; SPEC.md, section 14):
   * `host:port`, `host:*` (any port) or `[IPv6]:port`, hosts compared as text. Default none:
   * every forward is refused. Keys with `no-forward` or `restrict` may not forward at all, and a
   * key's `permitopen="host:port,…"` narrows the list further.
   */
  forwardAllow?: string[];
  /** Time allowed to connect to a forward's destination. Default 10 s. */
  forwardConnectTimeoutMs?: number;
  /**
   * Limits of publish/subscribe and the work queues (SPEC.md sections 12 and 13): the bounded
   * queue of each slow subscriber (default 1000 events or 8 MiB, then the oldest are dropped),
   * subscriptions per connection (256), items per work queue (10,000 or 64 MiB).
   */
  messaging?: Omit<PubSubOptions & WorkQueueOptions, "onError" | "maxMessageBytes">;
  /** Connections served at once; more are refused as busy. Default 1024. */
  maxConnections?: number;
  /** Connections from one address (an IPv4 address, an IPv6 /64) at once. Default 256. */
  maxConnectionsPerAddress?: number;
  /**
   * Connections of one client key at once; more are refused as busy once authenticated, so
   * one key cannot take every slot. Default 256.
   */
  maxConnectionsPerKey?: number;
  /**
   * What one connection, all connections of one key, and the whole server may hold at once:
   * buffered bytes, open files, handler calls running, subscriptions (SECURITY.md, "Budgets").
   * A peer over a budget has its stream refused; nothing else is affected.
   */
  budgets?: { [S in keyof BudgetLimits]?: Partial<ResourceLimits> };
  /**
   * Connections still in the handshake at once. When full, a new connection pushes out the
   * oldest startup that has cost no RSA decryption yet (from the address group holding the
   * most), so a flood of silent connections cannot lock out good clients; only when every
   * startup is already costly is the newcomer refused as busy. Default 64.
   */
  maxStartups?: number;
  /**
   * Failed handshakes from one address group (an IPv4 address, an IPv6 /64) within a minute
   * before it is held off: refused at once for 1 s, then twice as long after every further
   * failure, up to 5 minutes. Every handshake that cost an RSA decryption and did not
   * authenticate counts, however it ended. Never counted per key, which anyone can name.
   * Default 5.
   */
  authFailureLimit?: number;
  /** The first hold-off after `authFailureLimit` failures. Default 1000 ms. */
  authBackoffMs?: number;
  /**
   * Called with one structured event per connection outcome and per refusal (which limit or
   * which check). Nothing secret is in them. `formatLogLine()` makes a JSON line of one.
   */
  onLog?: (event: ServerLogEvent) => void;
  /** Aborting it closes the server, as {@linkcode OvtpServer.close} does. */
  signal?: AbortSignal;
  /** Called once listening, with the bound address. */
  onListen?: (address: HostPort) => void;
  /** Called with every connection or handler failure; the server goes on serving. */
  onError?: (error: unknown, peer?: PeerInfo) => void;
}

/**
 * An ovtp server: accepts connections, authenticates clients against authorized_keys, and
 * answers their messages with a handler.
 *
 * @example Serve on a free port, then close
 * ```ts
 * import { OvtpServer } from "./server.ts";
 * import { AuthorizedKeys } from "./crypto/authorized_keys.ts";
 * import { identityFromPkcs8, parsePrivateKeyPem } from "./crypto/identity.ts";
 * import assert from "node:assert/strict";
 *
 * const pem = await Deno.readTextFile(new URL("./tests/fixtures/keys/server", import.meta.url));
 * const identity = await identityFromPkcs8(parsePrivateKeyPem(pem));
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
  #handler: OvtpHandler;
  #options: OvtpServerOptions;
  #authorizedKeys: AuthorizedKeys;
  #files: FileService | undefined;
  #forwards: ForwardService;
  #pubsub: PubSub;
  #queues: WorkQueues;
  #admission: Admission;
  #budget: Budget;
  #listener: Deno.Listener | undefined;
  #channels = new Set<Channel>();
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
   */
  constructor(handler: OvtpHandler, options: OvtpServerOptions) {
    this.#handler = handler;
    this.#options = options;
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
    this.#files = options.root === undefined ? undefined : new FileService({
      root: options.root,
      partialMaxAgeMs: options.partialMaxAgeMs,
      stallTimeoutMs: options.streamStallTimeoutMs ?? defaultStreamStallTimeoutMs,
      // The budgets count open files per connection, key and process; this is the same cap.
      maxOpenFilesPerConnection: this.#budget.limits.connection.fileHandles,
    });
    this.#forwards = new ForwardService({
      allow: options.forwardAllow ?? [],
      connectTimeoutMs: options.forwardConnectTimeoutMs,
    });
    const limits = {
      ...options.messaging,
      maxMessageBytes: options.maxMessageBytes,
      onError: options.onError,
    };
    this.#pubsub = new PubSub(limits);
    this.#queues = new WorkQueues(limits);
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
    return this.#channels.size;
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
    this.#pubsub.close();
    this.#queues.close();
    await Promise.all([...this.#channels].map((channel) => channel.close()));
    await this.#accepting;
    this.#resolveFinished();
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    const serving = new Set<Promise<void>>();
    await acceptLoop(listener, (conn) => {
      const task = this.#serve(conn).catch((error) => this.#options.onError?.(error));
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

  async #serve(conn: Deno.Conn): Promise<void> {
    const started = Date.now();
    const transport = new DenoTransport(conn);
    const address = transport.remoteAddr.hostname;
    const remote = formatHostPort(transport.remoteAddr);
    const limit = this.#closing !== undefined ? "closing" : this.#admission.check(address);
    if (limit !== undefined) {
      // Turned away before any cryptography: one write, then close.
      await transport.write(encodeFrame(encodeRefused(RefusalReason.busy))).catch(() => {});
      transport.close();
      this.#log({ event: "refused", time: now(), remote, reason: limit });
      return;
    }
    let shed = false;
    const ticket = this.#admission.admit(address, () => {
      shed = true;
      transport.close();
    });
    this.#pending.add(transport);
    let channel: Channel;
    let peer!: PeerConnection;
    let allowance: Allowance | undefined;
    let refusedFrom: string | undefined;
    let overBudget: BudgetRefusal | undefined;
    try {
      const result = await serverHandshake(transport, {
        identity: this.#options.identity,
        authorize: async (fingerprint) => {
          const key = await this.#authorizedKeys.find(fingerprint);
          // The key's from= option: refused like an unknown key, logged with its own reason.
          if (key !== undefined && !allowsFrom(key.options, address)) {
            refusedFrom = `key ${fingerprint} is not allowed from ${address} ` +
              `(its authorized_keys option from="${key.options.get("from")}")`;
            return undefined;
          }
          return key;
        },
        admit: (fingerprint) => {
          const opened = this.#budget.open(fingerprint);
          if (isBudgetRefusal(opened)) {
            overBudget = opened;
            return false;
          }
          allowance = opened;
          return true;
        },
        onDecrypt: () => ticket.decrypting(),
        maxRecordBytes: this.#options.maxRecordBytes ?? defaultMaxRecordBytes,
        rekeyRecords: this.#options.rekeyRecords ?? defaultRekeyRecords,
        maxStreams: this.#options.maxStreams ?? defaultMaxStreams,
        timeoutMs: this.#options.handshakeTimeoutMs,
      });
      channel = new Channel(transport, result, {
        ...this.#channelOptions(),
        role: "server",
        allowance,
        onLimit: (detail) => this.#logLimit(peer, detail),
        onStream: (stream) => this.#onStream(stream, peer),
      });
      peer = new PeerConnection(
        channel,
        {
          fingerprint: result.peerKey.fingerprint,
          comment: result.authorizedKey.publicKey.comment,
          remoteAddr: transport.remoteAddr,
          options: result.authorizedKey.options,
        },
        this.#options.maxMessageBytes,
        allowance,
      );
      ticket.authenticated();
    } catch (error) {
      transport.close();
      allowance?.close();
      const fingerprint = error instanceof AuthenticationError ? error.fingerprint : undefined;
      const cause: RefusalCause = shed
        ? "shed"
        : overBudget !== undefined
        ? "max_connections_per_key"
        : refusedFrom !== undefined && error instanceof AuthenticationError
        ? "from"
        : handshakeFailure(error);
      // Every handshake that cost an RSA decryption and did not authenticate counts against
      // its address group, whatever cut it short; one refused for its key's connection cap
      // authenticated and does not.
      if (overBudget !== undefined) ticket.authenticated();
      ticket.release(cause === "authentication" || cause === "from");
      this.#log({
        event: "refused",
        time: now(),
        remote,
        reason: this.#closing !== undefined ? "closing" : cause,
        ...(fingerprint === undefined ? {} : { fingerprint }),
        detail: cause === "from"
          ? refusedFrom
          : overBudget !== undefined
          ? overBudget.message
          : error instanceof Error
          ? error.message
          : String(error),
      });
      return;
    } finally {
      this.#pending.delete(transport);
    }
    this.#channels.add(channel);
    this.#peers.set(channel, peer);
    if (this.#closing !== undefined) channel.close();
    const error = await channel.closed;
    this.#channels.delete(channel);
    this.#peers.delete(channel);
    allowance?.close();
    ticket.release();
    this.#log({
      event: "connection",
      time: now(),
      remote,
      fingerprint: peer.fingerprint,
      comment: peer.comment,
      result: error === undefined ? "closed" : "error",
      ...(error === undefined ? {} : { error: error.message }),
      bytesIn: channel.bytesReceived,
      bytesOut: channel.bytesSent,
      durationMs: Date.now() - started,
    });
  }

  #log(event: ServerLogEvent): void {
    try {
      this.#options.onLog?.(event);
    } catch {
      // A failing logger must not take the server down.
    }
  }

  #channelOptions(): Omit<ChannelOptions, "role"> {
    return {
      keepaliveMs: this.#options.keepaliveMs,
      idleTimeoutMs: this.#options.idleTimeoutMs,
    };
  }

  #onStream(stream: Stream, peer: PeerConnection): void {
    if (PubSub.handles(stream.kind) || WorkQueues.handles(stream.kind)) {
      const service = PubSub.handles(stream.kind) ? this.#pubsub : this.#queues;
      service.handle(stream, peer).catch((error) => this.#options.onError?.(error, peer));
      return;
    }
    if (FileService.handles(stream.kind)) {
      if (this.#files === undefined) {
        stream.reset(fileErrorCodes.permission, "This server serves no files (it has no root)");
        return;
      }
      this.#files.handle(stream, peer).catch((error) => this.#options.onError?.(error, peer));
      return;
    }
    if (stream.kind === StreamKind.forward) {
      this.#forwards.handle(stream, peer).catch((error) => this.#options.onError?.(error, peer));
      return;
    }
    if (stream.kind !== StreamKind.message) {
      stream.reset(StreamError.unsupported, `Unknown stream kind ${stream.kind}`);
      return;
    }
    // A message that stops half way is reset; handler calls running at once are budgeted.
    stream.setStallTimeout(this.#options.streamStallTimeoutMs ?? defaultStreamStallTimeoutMs);
    const overBudget = peer.allowance?.take("handlerCalls", 1);
    if (overBudget !== undefined) {
      this.#logLimit(peer, `stream ${stream.id} refused: ${overBudget.message}`);
      stream.reset(StreamError.refused, overBudget.message);
      return;
    }
    answerMessage(stream, (message) => this.#handler(message, peer), {
      maxMessageBytes: this.#options.maxMessageBytes ?? defaultMaxMessageBytes,
      onError: (error) => this.#options.onError?.(error, peer),
    }).catch((error) => {
      // A stream ended by a budget, a stall or the connection is logged where that happened;
      // only the handler's own failures are reported here.
      if (error instanceof LimitError || error instanceof TimeoutError) return;
      if (error instanceof ConnectionError && stream.done) return;
      this.#options.onError?.(error, peer);
    }).finally(() => peer.allowance?.give("handlerCalls", 1));
  }

  #logLimit(peer: PeerConnection, detail: string): void {
    this.#log({
      event: "limit",
      time: now(),
      remote: formatHostPort(peer.remoteAddr),
      fingerprint: peer.fingerprint,
      detail,
    });
  }
}

/** Options of {@linkcode serveOvtp}: the server's options without a separate `listen()`. */
export type ServeOvtpOptions = OvtpServerOptions;

/**
 * Starts an {@linkcode OvtpServer} at once, like `Deno.serve`: returns the listening server,
 * whose `finished` resolves when it has been closed (by `close()` or the `signal`).
 *
 * @example Serve until aborted
 * ```ts
 * import { serveOvtp } from "./server.ts";
 * import { AuthorizedKeys } from "./crypto/authorized_keys.ts";
 * import { identityFromPkcs8, parsePrivateKeyPem } from "./crypto/identity.ts";
 * import assert from "node:assert/strict";
 *
 * const pem = await Deno.readTextFile(new URL("./tests/fixtures/keys/server", import.meta.url));
 * const controller = new AbortController();
 * const server = serveOvtp({
 *   identity: await identityFromPkcs8(parsePrivateKeyPem(pem)),
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

function handshakeFailure(error: unknown): RefusalCause {
  if (error instanceof AuthenticationError) return "authentication";
  if (error instanceof TimeoutError) return "handshake_timeout";
  if (error instanceof ConnectionError) return "handshake_aborted";
  return "protocol";
}
