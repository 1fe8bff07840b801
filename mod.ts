/**
 * ovtp: authenticated, encrypted request/reply messaging between servers that trust each
 * other's keys, over one TCP connection, with no passwords and no certificate authority.
 * Clients are allowed by an `authorized_keys` file and servers are pinned by `known_hosts`, as
 * with ssh. Every connection has forward secrecy (ephemeral X25519), the server proves its RSA
 * key (RSA-OAEP key confirmation) and the client signs the transcript (RSASSA-PSS); records
 * are AES-256-GCM with a strict sequence. See SPEC.md for the protocol.
 *
 * @example A server and a client in one script
 * ```ts
 * import {
 *   AuthorizedKeys,
 *   generateIdentity,
 *   OvtpClient,
 *   serveOvtp,
 * } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const [serverKey, clientKey] = await Promise.all([
 *   generateIdentity({ bits: 2048 }),
 *   generateIdentity({ bits: 2048 }),
 * ]);
 * const server = serveOvtp({
 *   identity: serverKey,
 *   authorizedKeys: AuthorizedKeys.fromKeys([clientKey.publicKey]),
 *   hostname: "127.0.0.1",
 *   port: 0,
 * }, (message, peer) => ({ status: true, response: `hello ${peer.fingerprint}: ${message.text()}` }));
 *
 * const client = new OvtpClient(server.addr, {
 *   identity: clientKey,
 *   fingerprint: serverKey.publicKey.fingerprint,
 * });
 * const { status, response } = await client.sendMessage("hi");
 * assert.equal(status, true);
 * assert.match(String(response), /: hi$/);
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */

export { OvtpClient, type OvtpClientOptions } from "./client.ts";
export type { ForwardOptions, LocalForward } from "./forward/local_forward.ts";
export { forwardErrorCodes } from "./forward/forward_service.ts";
export { PeerConnection, type PeerInfo } from "./peer_connection.ts";
export {
  defaultMaxConnections,
  defaultStreamStallTimeoutMs,
  type OvtpHandler,
  OvtpServer,
  type OvtpServerOptions,
  serveOvtp,
  type ServeOvtpOptions,
} from "./server.ts";
export {
  defaultHandshakeTimeoutMs,
  defaultIdleTimeoutMs,
  defaultKeepaliveMs,
  defaultMaxMessageBytes,
  defaultMaxRecordBytes,
  defaultMaxStreams,
  defaultRekeyRecords,
  resolveSessionSettings,
  sessionDefaults,
  type SessionOptions,
  type SessionSettings,
} from "./session/settings.ts";
export {
  defaultMaxTickets,
  defaultMaxTicketsPerServer,
  type ResumableSession,
  SessionCache,
  type SessionCacheOptions,
} from "./session/session_cache.ts";
export { defaultTicketLifetimeMs, maxTicketLifetimeMs } from "./crypto/ticket_keys.ts";
export {
  type AcceptErrorEvent,
  type ConnectionEvent,
  formatLogLine,
  type LimitEvent,
  type RefusalCause,
  type RefusedEvent,
  type ServerLogEvent,
  type WarningEvent,
} from "./server_log.ts";
export type { AdmissionRefusal } from "./session/admission.ts";
export {
  type Allowance,
  type BudgetLimits,
  type BudgetRefusal,
  defaultBudgetLimits,
  type Resource,
  type ResourceLimits,
} from "./session/budget.ts";
export { type MessageType, type MessageValue, OvtpMessage } from "./message.ts";
export {
  defaultRequestTimeoutMs,
  type OvtpReply,
  type OvtpResult,
  type RequestOptions,
} from "./session/message_exchange.ts";
export { defaultPort, formatHostPort, type HostPort, parseHostPort } from "./address.ts";
export {
  AuthenticationError,
  type AuthenticationErrorOptions,
  ConnectionError,
  FileError,
  type FileErrorOptions,
  FileErrorReason,
  HostKeyError,
  type HostKeyErrorOptions,
  type HostKeyProblem,
  KeyFileError,
  LimitError,
  OvtpError,
  type OvtpErrorCode,
  type OvtpErrorOptions,
  ProtocolError,
  QueueStoreError,
  RemoteError,
  type RemoteErrorOptions,
  TimeoutError,
} from "./errors.ts";
export {
  defaultRsaBits,
  generateIdentity,
  type GenerateIdentityOptions,
  type Identity,
  identityFromPkcs8,
  loadIdentity,
  type LoadIdentityOptions,
  saveIdentity,
  type SaveIdentityOptions,
} from "./crypto/identity.ts";
export {
  formatPublicKey,
  importPublicKey,
  parsePublicKey,
  type PublicKey,
} from "./crypto/public_key.ts";
export { fingerprint } from "./crypto/fingerprint.ts";
export {
  addAuthorizedKey,
  type AuthorizedKey,
  AuthorizedKeys,
  type AuthorizedKeysOptions,
} from "./crypto/authorized_keys.ts";
export type { Transport, TransportAddress } from "./wire/transport.ts";
export type { FileTransferOptions, TransferResult } from "./transfer/file_transfer_options.ts";
export type { RemoteFileInfo } from "./transfer/stat_remote.ts";
export type { TransferProgress } from "./transfer/progress_counter.ts";
export type { ListEntry } from "./transfer/file_protocol.ts";
export { fileChunkBytes, type FileDigest, formatDigest } from "./files/chunk_tree.ts";
export { hashFile, type HashFileOptions } from "./files/hash_file.ts";
export {
  type HostKeyCheck,
  type HostKeyStatus,
  type KnownHostEntry,
  KnownHosts,
} from "./crypto/known_hosts.ts";
export {
  type SubscribeOptions,
  Subscription,
  type TopicHandler,
} from "./messaging/subscription.ts";
export {
  type PullOptions,
  type QueueHandler,
  type QueueItemInfo,
  QueueWorker,
} from "./messaging/queue_worker.ts";
export {
  checkTopic,
  checkTopicPattern,
  maxTopicBytes,
  topicMatches,
} from "./messaging/topic_pattern.ts";
export { messagingErrorCodes } from "./messaging/messaging_protocol.ts";
export type { PubSubOptions, PubSubStats } from "./messaging/pubsub.ts";
export type { WorkQueueOptions, WorkQueueStats, WorkQueueUsage } from "./messaging/work_queue.ts";
export {
  memoryQueueStorePath,
  openQueueStore,
  type QueueStore,
  type StoredItem,
  type StoredItemChange,
} from "./messaging/queue_store.ts";
export type { SqliteQueueStoreOptions } from "./messaging/sqlite_queue_store.ts";
