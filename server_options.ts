/**
 * What an `OvtpServer` is given: its options (identity, authorized keys, address, services and
 * every limit) and the server-only defaults. The settings it shares with the client live in
 * `session/settings.ts`; the budgets in `session/budget.ts`; the admission limits in
 * `session/admission.ts`.
 *
 * @module
 */

import type { HostPort } from "./address.ts";
import type { AuthorizedKeys } from "./crypto/authorized_keys.ts";
import type { Identity } from "./crypto/identity.ts";
import type { OvtpMessage } from "./message.ts";
import type { PubSubOptions } from "./messaging/pubsub.ts";
import type { WorkQueueOptions } from "./messaging/work_queue.ts";
import type { PeerConnection, PeerInfo } from "./peer_connection.ts";
import type { ServerLogEvent } from "./server_log.ts";
import { defaultAdmissionLimits } from "./session/admission.ts";
import type { BudgetLimits, ResourceLimits } from "./session/budget.ts";
import type { OvtpReply } from "./session/message_exchange.ts";
import type { SessionOptions } from "./session/settings.ts";

/** Default time a stream may wait for its peer's data or window credit before it is reset. */
export const defaultStreamStallTimeoutMs: number = 30_000;
/** Default number of connections served at once. */
export const defaultMaxConnections: number = defaultAdmissionLimits.maxConnections;

/** What answers messages on a server: like OVTP's callback, it returns `{ status, response }`. */
export type OvtpHandler = (
  message: OvtpMessage,
  peer: PeerConnection,
) => OvtpReply | Promise<OvtpReply>;

/** Options of {@linkcode OvtpServer}: the shared session settings and the server's own. */
export interface OvtpServerOptions extends SessionOptions {
  /**
   * Server only: a stream whose peer stops half way (a message without its end, an upload that
   * stops sending, a download that stops reading) is reset after this long without progress.
   * Default 30 s.
   */
  streamStallTimeoutMs?: number;
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
   * How the file system calls that check paths and create, check and move uploaded files are
   * made: `"inline"` (synchronous, on the event loop: about 2 µs each on a local disk, but a file
   * system that hangs, such as an unreachable network file system, freezes the whole server) or
   * `"threaded"` (on worker threads: about 25–30 µs of CPU each, and a hang holds only its own
   * transfer). Syncs to disk are always threaded. Default `"inline"`; choose `"threaded"` when
   * `root` is on a network file system. See SECURITY.md, "Inline file system calls".
   */
  fileCalls?: "inline" | "threaded";
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
  messaging?: Omit<PubSubOptions & WorkQueueOptions, "onError" | "maxMessageBytes" | "store">;
  /**
   * Where the work queues keep their items: the path of a SQLite database file (created with mode
   * 0600; a PUSH is answered once its item is committed, and the items survive a restart or a
   * crash), or `":memory:"` (they live in memory only). A corrupt or unreadable file makes the
   * constructor throw a `QueueStoreError` naming it. Default `":memory:"`.
   */
  queueStore?: string;
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
   * Connections still in the handshake at once. When full, a newcomer waits its turn,
   * accepted but unread, so a burst of good clients (a restart under many) is served in order;
   * a startup that has cost nothing yet (no RSA decryption, no accepted ticket) and has kept the
   * server waiting for its next handshake message for 500 ms is pushed out for it (the oldest of
   * the address group holding the most), so a flood of silent connections cannot lock out good
   * clients. Default 64.
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
  /**
   * Where the session ticket keys are kept (SPEC.md §4.6, SECURITY.md "Session tickets"):
   * created mode 0600, rewritten when the key rotates, so that clients resume across a restart.
   * Without it the keys live in memory and every client makes one full handshake after a
   * restart. `ovtp serve` uses `$OVTP_HOME/ticket_keys`.
   */
  ticketKeyFile?: string;
  /**
   * How long a session ticket may be used, and how often the ticket key rotates. Default 24 h;
   * at most 7 days.
   */
  ticketLifetimeMs?: number;
  /** Aborting it closes the server, as {@linkcode OvtpServer.close} does. */
  signal?: AbortSignal;
  /** Called once listening, with the bound address. */
  onListen?: (address: HostPort) => void;
  /** Called with every connection or handler failure; the server goes on serving. */
  onError?: (error: unknown, peer?: PeerInfo) => void;
}
