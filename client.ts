/**
 * `OvtpClient`, the client endpoint: it connects (TCP, `clientHandshake`, a `Channel`), lets
 * `ServerKeyPolicy` (`crypto/server_key_policy.ts`) decide whether to trust the server's key,
 * reconnects with backoff, and gives each operation to its layer: messages to `Caller`, files to
 * `transfer/`, publish/subscribe, queues and forwarding to `messaging/` and `forward/`. A
 * `StreamRouter` with a `MessageService` answers a server's callbacks. Over 450 lines: one short
 * method per public operation.
 *
 * @module
 */

import { formatHostPort, type HostPort, parseHostPort } from "./address.ts";
import type { Identity } from "./crypto/identity.ts";
import { KnownHosts } from "./crypto/known_hosts.ts";
import type { PublicKey } from "./crypto/public_key.ts";
import { ServerKeyPolicy } from "./crypto/server_key_policy.ts";
import { ConnectionError, FileError, TimeoutError } from "./errors.ts";
import { downloadDirectory } from "./transfer/download_directory.ts";
import { downloadFile } from "./transfer/download_file.ts";
import type { FileTransferOptions, TransferResult } from "./transfer/file_transfer_options.ts";
import type { ListEntry } from "./transfer/file_protocol.ts";
import { listRemote } from "./transfer/list_remote.ts";
import { type RemoteFileInfo, statRemote } from "./transfer/stat_remote.ts";
import { uploadDirectory } from "./transfer/upload_directory.ts";
import { uploadFile } from "./transfer/upload_file.ts";
import {
  type ForwardOptions,
  type LocalForward,
  startLocalForward,
} from "./forward/local_forward.ts";
import { type MessageValue, OvtpMessage } from "./message.ts";
import type { LiveStreamHost } from "./messaging/live_stream.ts";
import { publishMessage, pushMessage } from "./messaging/client_requests.ts";
import { type PullOptions, type QueueHandler, QueueWorker } from "./messaging/queue_worker.ts";
import {
  type SubscribeOptions,
  Subscription,
  type TopicHandler,
} from "./messaging/subscription.ts";
import { Caller } from "./session/caller.ts";
import { Channel } from "./session/channel.ts";
import { clientHandshake } from "./session/handshake.ts";
import { generateX25519, type X25519KeyPair } from "./crypto/x25519.ts";
import { type ResumableSession, SessionCache } from "./session/session_cache.ts";
import type { OvtpReply, OvtpResult, RequestOptions } from "./session/message_exchange.ts";
import { MessageService } from "./session/message_service.ts";
import {
  resolveSessionSettings,
  type SessionOptions,
  type SessionSettings,
} from "./session/settings.ts";
import { StreamRouter } from "./session/stream_router.ts";
import { DenoTransport } from "./wire/deno_transport.ts";

/** Options of {@linkcode OvtpClient}. */
export interface OvtpClientOptions extends SessionOptions {
  /** The client's identity key. */
  identity: Identity;
  /** Known server keys: a {@linkcode KnownHosts} or the path of a known_hosts file. */
  knownHosts?: KnownHosts | string;
  /** Expect exactly this server key (`SHA256:…`), whatever known_hosts says. */
  fingerprint?: string;
  /** Trust an unknown server key on first use and record it in known_hosts. Default false. */
  acceptNew?: boolean;
  /**
   * Called once `acceptNew` recorded the server's key in known_hosts (an unknown key trusted on
   * first use, or a pinned key not yet there); not called when the file knew the key already.
   */
  onHostKeyRecorded?: (key: PublicKey, knownHostsPath: string) => void;
  /** Default time a call may take. Default 30 s. */
  timeoutMs?: number;
  /**
   * Time allowed to connect and finish the handshake together. Default: `handshakeTimeoutMs`
   * (10 s) to connect, then `handshakeTimeoutMs` for the handshake; the handshake itself never
   * takes longer than `handshakeTimeoutMs`.
   */
  connectTimeoutMs?: number;
  /** Reconnect when the link drops (with backoff and jitter). Default true. */
  reconnect?: boolean;
  /** Longest wait between reconnection attempts. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Aborting it closes the client. */
  signal?: AbortSignal;
  /**
   * Answers messages the server sends this client (server-to-server links are symmetric: a
   * server handler can call `peer.sendMessage()`). Without it, such calls are refused.
   */
  handler?: (message: OvtpMessage) => OvtpReply | Promise<OvtpReply>;
  /** Called when answering a server's message fails. */
  onError?: (error: unknown) => void;
  /**
   * Where session tickets are kept (SPEC.md §4.6): a reconnect resumes the session with one,
   * without any RSA operation, and several clients may share one cache (tickets are kept per
   * server address, server key and client key, and each is used once). Default: a cache of this
   * client's own. Pass `false` to never resume.
   */
  sessionCache?: SessionCache | false;
}

/** Who opens streams towards a client: its server, which holds nothing of a client's budgets. */
type TheServer = { readonly allowance?: undefined };
const theServer: TheServer = {};

const initialRetryDelayMs = 100;
const defaultMaxRetryDelayMs = 30_000;

/**
 * An ovtp client: connects to one server, checks its key against a pin or known_hosts,
 * authenticates with the client's key, and sends messages. Many calls may be in flight at
 * once over the one connection. When the link drops, calls in flight fail with a
 * {@linkcode ConnectionError} (they may or may not have reached the server, so they are not
 * retried), and the next call reconnects, waiting with exponential backoff and jitter after
 * failed attempts.
 *
 * @example Send a message (see the README for a full setup)
 * ```ts ignore
 * const client = new OvtpClient("127.0.0.1:4242", { identity, knownHosts: "known_hosts" });
 * const { status, response } = await client.sendMessage("hello");
 * await client.close();
 * ```
 */
export class OvtpClient {
  /** Where the client connects. */
  readonly address: HostPort;
  #options: OvtpClientOptions;
  #settings: SessionSettings;
  #caller: Caller;
  #router: StreamRouter<TheServer> | undefined;
  #serverKeys: ServerKeyPolicy;
  #sessions: SessionCache | undefined;
  #lastHandshake: { resumed: boolean } | undefined;
  #channel: Channel | undefined;
  #connecting: Promise<Channel> | undefined;
  #failures = 0;
  /** The X25519 pair of the next handshake, when an attempt that made it could not connect. */
  #ephemeral: Promise<X25519KeyPair> | undefined;
  #connectedOnce = false;
  #closed = false;
  #live = new Set<Subscription | QueueWorker>();
  #forwards = new Set<LocalForward>();

  /**
   * Creates the object.
   *
   * @param address `host:port` (default port 4242) or a host and port.
   * @param options Identity, server key trust, timeouts and limits.
   */
  constructor(address: string | HostPort, options: OvtpClientOptions) {
    this.address = typeof address === "string" ? parseHostPort(address) : { ...address };
    this.#options = options;
    this.#settings = resolveSessionSettings(options);
    this.#caller = new Caller(() => this.#getChannel(), {
      timeoutMs: options.timeoutMs,
      maxMessageBytes: this.#settings.maxMessageBytes,
    });
    const handler = options.handler;
    // A server may call back: only messages, answered by the handler option.
    this.#router = handler === undefined ? undefined : new StreamRouter<TheServer>([
      new MessageService<TheServer>({
        answer: (message) => handler(message),
        maxMessageBytes: this.#settings.maxMessageBytes,
        onError: (error) => options.onError?.(error),
      }),
    ], { onError: (error) => options.onError?.(error) });
    this.#serverKeys = new ServerKeyPolicy(this.address, {
      fingerprint: options.fingerprint,
      knownHosts: typeof options.knownHosts === "string"
        ? new KnownHosts(options.knownHosts)
        : options.knownHosts,
      acceptNew: options.acceptNew,
      onHostKeyRecorded: options.onHostKeyRecorded,
    });
    this.#sessions = options.sessionCache === false
      ? undefined
      : options.sessionCache ?? new SessionCache();
    options.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /**
   * How the current (or last) connection was authenticated: `resumed` is true when it resumed a
   * session from a ticket (no RSA on either side), false after a full handshake; `undefined`
   * before the first connection.
   */
  get lastHandshake(): { resumed: boolean } | undefined {
    return this.#lastHandshake;
  }

  /** The server's key, once a handshake succeeded. */
  get serverKey(): PublicKey | undefined {
    return this.#serverKeys.trusted;
  }

  /** True while a connection is up and not closing. */
  get connected(): boolean {
    return this.#channel !== undefined && !this.#channel.closing;
  }

  /**
   * Connects and authenticates now (calls do it on demand otherwise).
   *
   * @throws {HostKeyError} The server key is unknown or does not match.
   * @throws {AuthenticationError} The server refused our key.
   * @throws {ConnectionError} The connection failed.
   * @throws {TimeoutError} Connecting took longer than `connectTimeoutMs`.
   */
  async connect(): Promise<void> {
    await this.#getChannel();
  }

  /**
   * Sends a message: a string goes as text, anything else as JSON. Resolves to the handler's
   * `{ status, response }`.
   */
  sendMessage(
    message: Exclude<MessageValue, Uint8Array>,
    options?: RequestOptions,
  ): Promise<OvtpResult> {
    return this.#caller.sendMessage(message, options);
  }

  /** Sends raw bytes. Do not modify `data` until the promise settles. */
  sendData(data: Uint8Array, options?: RequestOptions): Promise<OvtpResult> {
    return this.#caller.sendData(data, options);
  }

  /**
   * Uploads a file (folders: {@linkcode OvtpClient.sendDirectory}). The server writes a partial
   * file next to the destination and renames it into place only once the content's digest
   * matched; an existing destination is refused unless `overwrite`.
   *
   * @throws {FileError} Refused by the server (`exists`, `outside_root`, `permission`, …) or
   * unreadable here.
   */
  async sendFile(
    localPath: string,
    remotePath: string,
    options?: FileTransferOptions,
  ): Promise<TransferResult> {
    return await uploadFile(await this.#getChannel(), localPath, remotePath, options);
  }

  /** Downloads a file; it appears at `localPath` whole, or not at all. */
  async getFile(
    remotePath: string,
    localPath: string,
    options?: FileTransferOptions,
  ): Promise<TransferResult> {
    return await downloadFile(await this.#getChannel(), remotePath, localPath, options);
  }

  /** Uploads a folder tree recursively (`sync` skips files that already match). */
  async sendDirectory(
    localDir: string,
    remoteDir: string,
    options?: FileTransferOptions,
  ): Promise<TransferResult> {
    return await uploadDirectory(await this.#getChannel(), localDir, remoteDir, options);
  }

  /** Downloads a folder tree recursively into `localDir`. */
  async getDirectory(
    remoteDir: string,
    localDir: string,
    options?: FileTransferOptions,
  ): Promise<TransferResult> {
    return await downloadDirectory(await this.#getChannel(), remoteDir, localDir, options);
  }

  /** Type, size, modification time and mode of a remote path. */
  async stat(remotePath: string): Promise<RemoteFileInfo> {
    return await statRemote(await this.#getChannel(), remotePath, false);
  }

  /** Like {@linkcode OvtpClient.stat}, with the chunk-tree digest of the content (OVTP's verify). */
  async hash(remotePath: string): Promise<RemoteFileInfo & { digest: string }> {
    const info = await statRemote(await this.#getChannel(), remotePath, true);
    if (info.digest === undefined) {
      throw new FileError(`${remotePath} is a folder; only files have a digest`, {
        reason: "unsupported_type",
        path: remotePath,
        remote: true,
      });
    }
    return info as RemoteFileInfo & { digest: string };
  }

  /** Lists a remote folder recursively. */
  async list(remoteDir: string): Promise<ListEntry[]> {
    return await listRemote(await this.#getChannel(), remoteDir);
  }

  /**
   * Forwards a local TCP port through the server, like `ssh -L`: listens on
   * `localHost:localPort` (default host 127.0.0.1) and carries each accepted connection over
   * this client's connection to the server, which connects to `remoteHost:remotePort`. The
   * server must allow it (its `forwardAllow` list, and the key's options); this is checked
   * before anything listens. {@linkcode OvtpClient.close} closes the forward too.
   *
   * @throws {RemoteError} The server refused the forward (code 13).
   * @throws {RangeError} A malformed host or port.
   */
  async forward(options: ForwardOptions): Promise<LocalForward> {
    const forward = await startLocalForward(() => this.#getChannel(), options);
    this.#forwards.add(forward);
    forward.finished.then(() => this.#forwards.delete(forward));
    return forward;
  }

  /**
   * Subscribes to one or more topic patterns (`metrics.*` matches one token, `metrics.>` one or
   * more; SPEC.md section 12); resolves once the server accepted. `onMessage` gets each event in
   * order, one at a time. The subscription is made again after a reconnect, and the client keeps
   * reconnecting in the background while it has one (unless `reconnect` is false).
   *
   * @throws {TypeError} A malformed pattern.
   * @throws {RemoteError} The server refused: code 13 when the key's `topics=` option does not
   * cover a pattern, 40 when the connection holds too many subscriptions.
   */
  async subscribe(
    patterns: string | readonly string[],
    onMessage: TopicHandler,
    options?: SubscribeOptions,
  ): Promise<Subscription> {
    const list = typeof patterns === "string" ? [patterns] : patterns;
    const subscription = new Subscription(this.#liveHost(), list, onMessage, {
      maxMessageBytes: this.#settings.maxMessageBytes,
      ...options,
    });
    return await this.#startLive(subscription);
  }

  /**
   * Publishes `value` (a string as text, a `Uint8Array` as bytes, anything else as JSON) on
   * `topic`; resolves to the number of subscriptions (on any connection) it was delivered to.
   *
   * @throws {RemoteError} Code 13: the key's `topics=` option does not allow the topic.
   */
  async publish(topic: string, value: MessageValue, options?: RequestOptions): Promise<number> {
    return await publishMessage(await this.#getChannel(), topic, OvtpMessage.from(value), {
      timeoutMs: this.#options.timeoutMs,
      ...options,
    });
  }

  /**
   * Adds `value` to the server's work queue `queue` (SPEC.md section 13); resolves to the number
   * of items waiting in it afterwards.
   *
   * @throws {RemoteError} Code 40: the queue is full; code 13: the key may not use the queue.
   */
  async push(queue: string, value: MessageValue, options?: RequestOptions): Promise<number> {
    return await pushMessage(await this.#getChannel(), queue, OvtpMessage.from(value), {
      timeoutMs: this.#options.timeoutMs,
      ...options,
    });
  }

  /**
   * Works on the server's queue `queue`: `worker` gets one item at a time; its promise resolving
   * acknowledges the item, rejecting hands it back to the queue. An item this client holds when
   * it disconnects goes to another worker. Survives reconnects, like a subscription.
   *
   * @throws {RemoteError} Code 13: the key may not use the queue.
   */
  async pull(queue: string, worker: QueueHandler, options?: PullOptions): Promise<QueueWorker> {
    return await this.#startLive(
      new QueueWorker(this.#liveHost(), queue, worker, {
        maxMessageBytes: this.#settings.maxMessageBytes,
        ...options,
      }),
    );
  }

  async #startLive<T extends Subscription | QueueWorker>(live: T): Promise<T> {
    await live.start();
    this.#live.add(live);
    live.closed.then(() => this.#live.delete(live));
    return live;
  }

  #liveHost(): LiveStreamHost {
    return {
      getChannel: () => this.#getChannel(),
      canReconnect: () => !this.#closed && this.#options.reconnect !== false,
      onError: this.#options.onError,
    };
  }

  /** Measures a round trip to the server in milliseconds. */
  async ping(): Promise<number> {
    return await (await this.#getChannel()).ping();
  }

  /** Closes the connection gracefully (calls in flight finish first). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#live].map((live) => live.stop()));
    await Promise.all([...this.#forwards].map((forward) => forward.close()));
    const channel = this.#channel ?? await this.#connecting?.catch(() => undefined);
    await channel?.close();
  }

  async #getChannel(): Promise<Channel> {
    if (this.#closed) throw new ConnectionError("The client is closed; create a new one");
    if (this.#channel !== undefined && !this.#channel.closing) return this.#channel;
    if (this.#connectedOnce && this.#options.reconnect === false) {
      throw new ConnectionError(
        `The connection to ${formatHostPort(this.address)} was lost and reconnect is off`,
      );
    }
    this.#connecting ??= this.#connectWithBackoff().finally(() => this.#connecting = undefined);
    return await this.#connecting;
  }

  async #connectWithBackoff(): Promise<Channel> {
    if (this.#failures > 0) {
      const maxMs = this.#options.maxRetryDelayMs ?? defaultMaxRetryDelayMs;
      const ceilingMs = Math.min(maxMs, initialRetryDelayMs * 2 ** (this.#failures - 1));
      await new Promise((resolve) =>
        setTimeout(resolve, ceilingMs / 2 + Math.random() * ceilingMs / 2)
      );
    }
    try {
      const channel = await this.#connectOnce();
      this.#failures = 0;
      this.#connectedOnce = true;
      this.#channel = channel;
      return channel;
    } catch (error) {
      this.#failures++;
      throw error;
    }
  }

  async #connectOnce(): Promise<Channel> {
    const { handshakeTimeoutMs } = this.#settings;
    const timeoutMs = this.#options.connectTimeoutMs ?? handshakeTimeoutMs;
    const started = Date.now();
    const target = formatHostPort(this.address);
    let conn: Deno.TcpConn;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    // The handshake's ephemeral key is made while TCP connects; an attempt that cannot connect
    // leaves it, never sent, to the next one (a client retrying a server that is down makes one).
    const ephemeral = this.#ephemeral ??= generateX25519();
    ephemeral.catch(() => {
      if (this.#ephemeral === ephemeral) this.#ephemeral = undefined;
    });
    try {
      conn = await Deno.connect({
        hostname: this.address.hostname,
        port: this.address.port,
        signal: controller.signal,
      });
    } catch (cause) {
      if (controller.signal.aborted) {
        throw new TimeoutError(`Cannot connect to ${target} within ${timeoutMs} ms`, { cause });
      }
      throw new ConnectionError(`Cannot connect to ${target}: ${describe(cause)}`, { cause });
    } finally {
      clearTimeout(timer);
    }
    this.#ephemeral = undefined;
    const transport = new DenoTransport(conn);
    const resume = await this.#takeTicket(target);
    const handshake = await clientHandshake(transport, {
      identity: this.#options.identity,
      verifyServerKey: (key) => this.#serverKeys.verify(key),
      resume,
      ephemeral,
      maxRecordBytes: this.#settings.maxRecordBytes,
      rekeyRecords: this.#settings.rekeyRecords,
      maxStreams: this.#settings.maxStreams,
      // The handshake's own deadline (its message names the figure the caller set), within
      // what is left of an explicit connect deadline.
      timeoutMs: this.#options.connectTimeoutMs === undefined
        ? handshakeTimeoutMs
        : Math.max(1, Math.min(handshakeTimeoutMs, timeoutMs - (Date.now() - started))),
    });
    this.#serverKeys.confirmed(handshake.peerKey);
    this.#lastHandshake = { resumed: handshake.resumed };
    if (handshake.newSession !== undefined) {
      this.#sessions?.put(
        target,
        this.#options.identity.publicKey.fingerprint,
        handshake.newSession,
      );
    }
    const router = this.#router;
    return new Channel(transport, handshake, {
      role: "client",
      keepaliveMs: this.#settings.keepaliveMs,
      idleTimeoutMs: this.#settings.idleTimeoutMs,
      onStream: router === undefined ? undefined : (stream) => router.route(stream, theServer),
    });
  }

  /**
   * A ticket to resume with, taken out of the cache (each is used once), if its server key still
   * passes our trust policy; a ticket whose key does not is dropped.
   */
  async #takeTicket(target: string): Promise<ResumableSession | undefined> {
    const fingerprint = this.#options.identity.publicKey.fingerprint;
    for (;;) {
      const session = this.#sessions?.take(target, fingerprint);
      if (session === undefined) return undefined;
      try {
        await this.#serverKeys.verify(session.serverKey);
        return session;
      } catch {
        // Not trusted any more (known_hosts changed, another pin): try the next, else in full.
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
