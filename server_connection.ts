/**
 * The life of one accepted connection on a server, as four straight-line steps:
 *
 * ```text
 * accept ──> 1. admit        admission limits and back-off, before any cryptography
 *        ──> 2. authenticate the handshake (SPEC §4), authorized_keys, from=, the key's
 *                            connection cap; the connection's budget allowance
 *        ──> 3. run          a channel whose streams go to the server's router, until it ends
 *        ──> 4. log          one event: refused (which step and why) or connection (the totals)
 * ```
 *
 * `OvtpServer` owns what is shared (admission, budgets, authorized keys, services) and calls
 * {@linkcode serveConnection} for each accepted socket.
 *
 * @module
 */

import { formatHostPort } from "./address.ts";
import type { AuthorizedKeys } from "./crypto/authorized_keys.ts";
import type { Identity } from "./crypto/identity.ts";
import type { TicketKeys } from "./crypto/ticket_keys.ts";
import { allowsFrom } from "./crypto/key_permissions.ts";
import { AuthenticationError, ConnectionError, TimeoutError } from "./errors.ts";
import { PeerConnection } from "./peer_connection.ts";
import type { RefusalCause, ServerLogEvent } from "./server_log.ts";
import type { Admission, AdmissionTicket } from "./session/admission.ts";
import {
  type Allowance,
  type Budget,
  type BudgetRefusal,
  isBudgetRefusal,
} from "./session/budget.ts";
import { Channel } from "./session/channel.ts";
import { serverHandshake, type ServerHandshakeResult } from "./session/handshake.ts";
import type { SessionSettings } from "./session/settings.ts";
import type { StreamRouter } from "./session/stream_router.ts";
import { DenoTransport } from "./wire/deno_transport.ts";
import { encodeFrame } from "./wire/frame.ts";
import { encodeRefused, RefusalReason } from "./wire/handshake_codec.ts";

/** What a server shares with each of its connections. */
export interface ConnectionContext {
  /** The server's identity key. */
  identity: Identity;
  /** Who may connect. */
  authorizedKeys: AuthorizedKeys;
  /** Limits before and during the handshake. */
  admission: Admission;
  /** What authenticated peers may hold. */
  budget: Budget;
  /** The session ticket keys (SPEC §4.6), once loaded; `undefined` issues no tickets. */
  tickets: Promise<TicketKeys | undefined>;
  /** The shared session settings. */
  settings: SessionSettings;
  /** Where the streams of authenticated peers go. */
  router: StreamRouter<PeerConnection>;
  /** True once the server is closing: new connections are refused, open ones closed. */
  closing(): boolean;
  /** Handshakes in progress, for the server to cut when it closes. */
  pending: Set<DenoTransport>;
  /** Authenticated connections, for the server to call and to close. */
  peers: Map<Channel, PeerConnection>;
  /** Where every event goes. */
  log(event: ServerLogEvent): void;
}

/** Serves one accepted connection from admission to its last log line. Never rejects. */
export async function serveConnection(conn: Deno.Conn, context: ConnectionContext): Promise<void> {
  const started = Date.now();
  const transport = new DenoTransport(conn);
  const remote = formatHostPort(transport.remoteAddr);
  // 1. Admit.
  const admitted = await admit(transport, context);
  if (admitted === undefined) return;
  // 2. Authenticate.
  const authenticated = await authenticate(transport, admitted, context);
  if (authenticated === undefined) return;
  const { result, allowance } = authenticated;
  // 3. Run.
  // The channel's callbacks run only once records arrive, after `peer` below exists.
  const channel = new Channel(transport, result, {
    role: "server",
    keepaliveMs: context.settings.keepaliveMs,
    idleTimeoutMs: context.settings.idleTimeoutMs,
    allowance,
    onLimit: (detail) => context.log(limitEvent(peer, detail)),
    onStream: (stream) => context.router.route(stream, peer),
  });
  const peer: PeerConnection = new PeerConnection(
    channel,
    {
      fingerprint: result.peerKey.fingerprint,
      comment: result.authorizedKey.publicKey.comment,
      remoteAddr: transport.remoteAddr,
      options: result.authorizedKey.options,
    },
    context.settings.maxMessageBytes,
    allowance,
  );
  admitted.ticket.authenticated();
  context.peers.set(channel, peer);
  if (context.closing()) channel.close();
  const error = await channel.closed;
  context.peers.delete(channel);
  allowance.close();
  admitted.ticket.release();
  // 4. Log.
  context.log({
    event: "connection",
    time: now(),
    remote,
    fingerprint: peer.fingerprint,
    comment: peer.comment,
    result: error === undefined ? "closed" : "error",
    resumed: result.resumed,
    ...(error === undefined ? {} : { error: error.message }),
    bytesIn: channel.bytesReceived,
    bytesOut: channel.bytesSent,
    durationMs: Date.now() - started,
  });
}

/**
 * Step 1: refuses a connection over an admission limit (one Refused `busy` frame, before any
 * cryptography), or counts it as a startup, after waiting for room among the startups when
 * `maxStartups` is full. A startup shed for a newcomer is closed.
 */
async function admit(
  transport: DenoTransport,
  context: ConnectionContext,
): Promise<Admitted | undefined> {
  const address = transport.remoteAddr.hostname;
  const limit = context.closing() ? "closing" : context.admission.check(address);
  if (limit !== undefined) {
    await transport.write(encodeFrame(encodeRefused(RefusalReason.busy))).catch(() => {});
    transport.close();
    context.log({
      event: "refused",
      time: now(),
      remote: formatHostPort(transport.remoteAddr),
      reason: limit,
    });
    return undefined;
  }
  const admitted = { shed: false } as Admitted;
  admitted.ticket = context.admission.admit(address, () => {
    admitted.shed = true;
    transport.close();
  });
  if (admitted.ticket.waiting) {
    // maxStartups is full of young startups: wait for our turn, accepted but unread.
    context.pending.add(transport);
    try {
      await admitted.ticket.ready;
    } finally {
      context.pending.delete(transport);
    }
    if (context.closing()) {
      admitted.ticket.release();
      transport.close();
      return undefined;
    }
  }
  return admitted;
}

/** An admitted connection: its admission ticket, and whether it was shed for a newcomer. */
interface Admitted {
  ticket: AdmissionTicket;
  shed: boolean;
}

/**
 * Step 2: runs the handshake; the key must be in authorized_keys, allowed from this address, and
 * under its connection cap (its allowance is opened then). A refusal is logged with its cause;
 * a handshake that cost an RSA decryption and did not authenticate counts against the address.
 * A resumed handshake (a session ticket, SPEC §4.6) costs no RSA, but once its ticket is
 * accepted the client has spent it: from then on it is not shed (that would send the client back
 * for a full handshake, RSA on both sides), and unless it authenticates (a replayed ticket never
 * does) it counts as a failed handshake of its address, like one cut off after its decryption.
 */
async function authenticate(
  transport: DenoTransport,
  admitted: Admitted,
  context: ConnectionContext,
): Promise<{ result: ServerHandshakeResult; allowance: Allowance } | undefined> {
  const address = transport.remoteAddr.hostname;
  const { ticket } = admitted;
  let allowance: Allowance | undefined;
  let refusedFrom: string | undefined;
  let overBudget: BudgetRefusal | undefined;
  context.pending.add(transport);
  try {
    const tickets = await context.tickets;
    const result = await serverHandshake(transport, {
      identity: context.identity,
      tickets,
      authorize: async (fingerprint) => {
        // A ticket that failed a check falls back to a full handshake, which asks again.
        refusedFrom = undefined;
        overBudget = undefined;
        const key = await context.authorizedKeys.find(fingerprint);
        // The key's from= option: refused like an unknown key, logged with its own reason.
        if (key !== undefined && !allowsFrom(key.options, address)) {
          refusedFrom = `key ${fingerprint} is not allowed from ${address} ` +
            `(its authorized_keys option from="${key.options.get("from")}")`;
          return undefined;
        }
        return key;
      },
      admit: (fingerprint) => {
        const opened = context.budget.open(fingerprint);
        if (isBudgetRefusal(opened)) {
          overBudget = opened;
          return false;
        }
        allowance = opened;
        return true;
      },
      onDecrypt: () => ticket.decrypting(),
      onResume: () => ticket.resuming(),
      onPeerWait: (waiting) => waiting ? ticket.awaitingPeer() : ticket.heardFromPeer(),
      maxRecordBytes: context.settings.maxRecordBytes,
      rekeyRecords: context.settings.rekeyRecords,
      maxStreams: context.settings.maxStreams,
      timeoutMs: context.settings.handshakeTimeoutMs,
    });
    return { result, allowance: allowance! };
  } catch (error) {
    transport.close();
    allowance?.close();
    const fingerprint = error instanceof AuthenticationError ? error.fingerprint : undefined;
    const cause: RefusalCause = admitted.shed
      ? "shed"
      : overBudget !== undefined
      ? "max_connections_per_key"
      : refusedFrom !== undefined && error instanceof AuthenticationError
      ? "from"
      : handshakeFailure(error);
    // Every handshake that cost an RSA decryption and did not authenticate counts against its
    // address group, whatever cut it short; one refused for its key's connection cap did
    // authenticate and does not.
    if (overBudget !== undefined) ticket.authenticated();
    ticket.release(cause === "authentication" || cause === "from");
    context.log({
      event: "refused",
      time: now(),
      remote: formatHostPort(transport.remoteAddr),
      reason: context.closing() ? "closing" : cause,
      ...(fingerprint === undefined ? {} : { fingerprint }),
      detail: cause === "from"
        ? refusedFrom
        : overBudget !== undefined
        ? overBudget.message
        : error instanceof Error
        ? error.message
        : String(error),
    });
    return undefined;
  } finally {
    context.pending.delete(transport);
  }
}

function limitEvent(peer: PeerConnection, detail: string): ServerLogEvent {
  return {
    event: "limit",
    time: now(),
    remote: formatHostPort(peer.remoteAddr),
    fingerprint: peer.fingerprint,
    detail,
  };
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
