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
import { makeRemoteDirectory } from "./transfer/make_remote_directory.ts";
import { removeRemote } from "./transfer/remove_remote.ts";
import { renameRemote } from "./transfer/rename_remote.ts";
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
 * `await using` closes it at the end of the block ({@linkcode OvtpClient[Symbol.asyncDispose]}).
 *
 * @example Send a message, closing the client at the end of the block
 * ```ts
 * import { AuthorizedKeys, generateIdentity, OvtpClient, OvtpServer } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const [serverKey, clientKey] = await Promise.all([
 *   generateIdentity({ bits: 2048 }), // the smallest size, for speed
 *   generateIdentity({ bits: 2048 }),
 * ]);
 * await using server = new OvtpServer((message) => ({ status: true, response: message.text() }), {
 *   identity: serverKey,
 *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const { port } = server.listen();
 *
 * await using client = await OvtpClient.connect(`127.0.0.1:${port}`, {
 *   identity: clientKey,
 *   fingerprint: serverKey.publicKey.fingerprint, // or knownHosts: "…/known_hosts"
 * });
 * const { status, response } = await client.sendMessage("hello");
 * assert.equal(status, true);
 * assert.equal(response, "hello");
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
   * Makes a client and connects it at once, so that a wrong server key or a refused client key
   * fails here rather than on the first call. The same as `new OvtpClient(address, options)`
   * followed by {@linkcode OvtpClient.prototype.connect}; on failure the client is closed.
   *
   * @param address `host:port` (default port 4242) or a host and port.
   * @param options Identity, server key trust, timeouts and limits.
   * @returns The connected client; close it (or declare it with `await using`) when done.
   * @throws {HostKeyError} The server key is unknown or does not match.
   * @throws {AuthenticationError} The server refused our key.
   * @throws {ConnectionError} The connection failed.
   * @throws {TimeoutError} Connecting took longer than `connectTimeoutMs`.
   *
   * @example Refuse a server whose key is not the pinned one
   * ```ts
   * import { AuthorizedKeys, generateIdentity, HostKeyError, OvtpClient, OvtpServer } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const [serverKey, clientKey, otherKey] = await Promise.all([
   *   generateIdentity({ bits: 2048 }),
   *   generateIdentity({ bits: 2048 }),
   *   generateIdentity({ bits: 2048 }),
   * ]);
   * await using server = new OvtpServer(() => ({ status: true }), {
   *   identity: serverKey,
   *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
   *   hostname: "127.0.0.1",
   *   port: 0,
   * });
   * const { port } = server.listen();
   * await assert.rejects(
   *   OvtpClient.connect(`127.0.0.1:${port}`, {
   *     identity: clientKey,
   *     fingerprint: otherKey.publicKey.fingerprint,
   *   }),
   *   HostKeyError,
   * );
   * ```
   */
  static async connect(
    address: string | HostPort,
    options: OvtpClientOptions,
  ): Promise<OvtpClient> {
    const client = new OvtpClient(address, options);
    try {
      await client.connect();
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

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

  /**
   * Lists a remote folder recursively: every entry below it, folders before their contents.
   * `""` and `"."` name the served folder itself.
   *
   * @param remoteDir The folder.
   * @param options `depth: 1` lists only the folder's own entries, 2 one level below them too;
   * default: all levels.
   */
  async list(remoteDir: string, options: { depth?: number } = {}): Promise<ListEntry[]> {
    const { depth } = options;
    if (depth !== undefined && (!Number.isSafeInteger(depth) || depth < 1)) {
      throw new RangeError(`list(): depth ${depth} is not an integer >= 1`);
    }
    const entries = await listRemote(await this.#getChannel(), remoteDir, depth);
    // A server that predates `depth` lists every level: keep what was asked for.
    return depth === undefined
      ? entries
      : entries.filter((entry) => entry.path.split("/").length <= depth);
  }

  /**
   * Makes a remote folder, and its missing parents unless `parents` is false; a folder that
   * already exists is fine.
   *
   * @param remotePath The folder, relative to the served folder.
   * @param options `parents: false` refuses a missing parent (`not_found`), as `mkdir` without
   * `-p` does.
   * @returns True if the folder was made, false if it was already there.
   * @throws {FileError} `exists` (a file is there), `permission` (a `read-only` key), …
   *
   * @example Make a folder, then see that it exists
   * ```ts
   * import { AuthorizedKeys, FileError, generateIdentity, OvtpClient, serveOvtp } from "./mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const [serverKey, clientKey] = await Promise.all([
   *   generateIdentity({ bits: 2048 }),
   *   generateIdentity({ bits: 2048 }),
   * ]);
   * const root = await Deno.makeTempDir();
   * const server = serveOvtp({
   *   identity: serverKey,
   *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
   *   hostname: "127.0.0.1",
   *   port: 0,
   *   root,
   * }, () => ({ status: true }));
   * const client = new OvtpClient(server.addr, {
   *   identity: clientKey,
   *   fingerprint: serverKey.publicKey.fingerprint,
   * });
   * try {
   *   assert.equal(await client.mkdir("in/2024"), true);
   *   assert.equal(await client.mkdir("in/2024"), false);
   *   assert.equal((await Deno.stat(join(root, "in", "2024"))).isDirectory, true);
   * } finally {
   *   await client.close();
   *   await server.close();
   *   await Deno.remove(root, { recursive: true });
   * }
   * ```
   */
  async mkdir(remotePath: string, options: { parents?: boolean } = {}): Promise<boolean> {
    return await makeRemoteDirectory(
      await this.#getChannel(),
      remotePath,
      options.parents ?? true,
    );
  }

  /**
   * Removes a remote file, symbolic link (the link, never what it points to) or empty folder;
   * with `recursive`, a folder and everything in it. The server checks the whole tree first and
   * refuses it untouched if it holds a partial upload (another transfer in progress).
   *
   * @param remotePath The path, relative to the served folder (not the folder itself).
   * @param options `recursive: true` to remove a folder that is not empty.
   * @returns How many entries were removed, the path itself included.
   * @throws {FileError} `not_found`, `not_empty` (a folder without `recursive`, or one holding
   * a partial upload), `permission` (a `read-only` key), `outside_root`, `bad_path`, …
   *
   * @example Remove a file, then a folder with what it holds
   * ```ts
   * import { AuthorizedKeys, FileError, generateIdentity, OvtpClient, serveOvtp } from "./mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const [serverKey, clientKey] = await Promise.all([
   *   generateIdentity({ bits: 2048 }),
   *   generateIdentity({ bits: 2048 }),
   * ]);
   * const root = await Deno.makeTempDir();
   * const server = serveOvtp({
   *   identity: serverKey,
   *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
   *   hostname: "127.0.0.1",
   *   port: 0,
   *   root,
   * }, () => ({ status: true }));
   * const client = new OvtpClient(server.addr, {
   *   identity: clientKey,
   *   fingerprint: serverKey.publicKey.fingerprint,
   * });
   * try {
   *   await Deno.writeTextFile(join(root, "old.txt"), "x");
   *   await Deno.mkdir(join(root, "logs", "2023"), { recursive: true });
   *   await Deno.writeTextFile(join(root, "logs", "2023", "a.log"), "x");
   *   assert.equal(await client.remove("old.txt"), 1);
   *   await assert.rejects(client.remove("logs"), (error) =>
   *     error instanceof FileError && error.reason === "not_empty");
   *   assert.equal(await client.remove("logs", { recursive: true }), 3);
   *   assert.deepEqual(await client.list(""), []);
   * } finally {
   *   await client.close();
   *   await server.close();
   *   await Deno.remove(root, { recursive: true });
   * }
   * ```
   */
  async remove(remotePath: string, options: { recursive?: boolean } = {}): Promise<number> {
    return await removeRemote(await this.#getChannel(), remotePath, options.recursive ?? false);
  }

  /**
   * Renames (moves) a remote file, symbolic link or folder to another path in the same served
   * folder, in one step. An existing destination is refused unless `overwrite`; a folder never
   * moves into itself, and nothing moves out of the served folder.
   *
   * @param from The path to move.
   * @param to Its new path; its folder must exist.
   * @param options `overwrite: true` to replace an existing file (or an empty folder by a
   * folder).
   * @throws {FileError} `not_found`, `exists` (without `overwrite`), `permission` (a
   * `read-only` key), `outside_root`, `bad_path`, …
   *
   * @example Rename a file, refusing to replace another unless asked
   * ```ts
   * import { AuthorizedKeys, FileError, generateIdentity, OvtpClient, serveOvtp } from "./mod.ts";
   * import { join } from "node:path";
   * import assert from "node:assert/strict";
   *
   * const [serverKey, clientKey] = await Promise.all([
   *   generateIdentity({ bits: 2048 }),
   *   generateIdentity({ bits: 2048 }),
   * ]);
   * const root = await Deno.makeTempDir();
   * const server = serveOvtp({
   *   identity: serverKey,
   *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
   *   hostname: "127.0.0.1",
   *   port: 0,
   *   root,
   * }, () => ({ status: true }));
   * const client = new OvtpClient(server.addr, {
   *   identity: clientKey,
   *   fingerprint: serverKey.publicKey.fingerprint,
   * });
   * try {
   *   await Deno.writeTextFile(join(root, "a.txt"), "new");
   *   await Deno.writeTextFile(join(root, "b.txt"), "old");
   *   await assert.rejects(client.rename("a.txt", "b.txt"), (error) =>
   *     error instanceof FileError && error.reason === "exists");
   *   await client.rename("a.txt", "b.txt", { overwrite: true });
   *   assert.equal(await Deno.readTextFile(join(root, "b.txt")), "new");
   * } finally {
   *   await client.close();
   *   await server.close();
   *   await Deno.remove(root, { recursive: true });
   * }
   * ```
   */
  async rename(
    from: string,
    to: string,
    options: { overwrite?: boolean } = {},
  ): Promise<void> {
    await renameRemote(await this.#getChannel(), from, to, options.overwrite ?? false);
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

  /**
   * Closes the client when a block that declared it with `await using` ends: the same as
   * {@linkcode OvtpClient.prototype.close}.
   *
   * @returns Once the connection is closed.
   *
   * @example Close at the end of a block
   * ```ts
   * import { generateIdentity, OvtpClient } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const identity = await generateIdentity({ bits: 2048 });
   * let outside: OvtpClient;
   * {
   *   await using client = new OvtpClient("127.0.0.1:4242", { identity, fingerprint: "SHA256:x" });
   *   outside = client; // never connected: closing costs nothing
   * }
   * assert.equal(outside.connected, false);
   * await assert.rejects(outside.sendMessage("late"), /closed/);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
