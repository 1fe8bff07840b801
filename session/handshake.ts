/**
 * The ovtp handshake, both sides, as straight-line steps that follow SPEC.md, "Handshake":
 *
 * ```text
 * client                                              server
 * ClientHello  {version, nonce_c, eph_c, params}  ->
 *              <-  ServerHello {version, nonce_s, eph_s, params, server key}
 * (check the server key against the pin / known_hosts)
 * ClientSecret {OAEP(server key, secret)}  ->           (the server starts decrypting)
 * ClientAuth   {AEAD{client key, signature}}  ->         (sent once signed)
 *              <-  ServerFinished {verify data, [ticket box]}  or  Refused {reason}
 * ```
 *
 * Resuming (SPEC §4.6, version 2): no RSA on either side, fresh X25519 on both.
 *
 * ```text
 * ResumeHello  {ClientHello fields, ticket}  ->          (open the ticket; re-check the key)
 *              <-  ServerResumed {version, nonce_s, eph_s, params}
 *                  ServerFinished {verify data, [ticket box]}
 * ClientFinished {verify data}  ->                       (the client proved the ticket's secret)
 * ```
 *
 * A ticket the server does not accept gets a plain ServerHello instead of ServerResumed, and the
 * handshake goes on as a full one in the same connection.
 *
 * It sits between the transport and the channel: `client.ts` and `server_connection.ts` run it
 * on a fresh `Transport`, and its result (the peer's key, the traffic secrets, the frame reader)
 * starts a `Channel`. Over 450 lines: both sides are kept in one file so that each step reads
 * against its counterpart and SPEC.md, as js-libp2p-noise's `performHandshake.ts` does.
 *
 * @module
 */

import {
  AuthenticationError,
  ConnectionError,
  HostKeyError,
  ProtocolError,
  TimeoutError,
} from "../errors.ts";
import { aesGcmNonceBytes, aesGcmOpen, aesGcmSeal } from "../crypto/aes_gcm.ts";
import type { AuthorizedKey } from "../crypto/authorized_keys.ts";
import type { Identity } from "../crypto/identity.ts";
import { importPublicKey, type PublicKey } from "../crypto/public_key.ts";
import { importSharedPublicKey, sharedPublicKey } from "../crypto/shared_public_key.ts";
import { randomBytes } from "../crypto/random.ts";
import { oaepDecrypt, oaepEncrypt } from "../crypto/rsa_oaep.ts";
import { signPss, verifyPss } from "../crypto/rsa_pss.ts";
import { sha256 } from "../crypto/sha256.ts";
import { timingSafeEqual } from "../crypto/timing_safe_equal.ts";
import type { TicketKeys } from "../crypto/ticket_keys.ts";
import { generateX25519, x25519, type X25519KeyPair } from "../crypto/x25519.ts";
import { importHkdfKey } from "../crypto/hkdf_key.ts";
import { decodeBase64, encodeBase64 } from "../crypto/base64.ts";
import { concatBytes } from "../wire/_bytes.ts";
import { encodeFrame, maxHandshakeFrameBytes } from "../wire/frame.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import {
  decodeClientAuth,
  decodeClientAuthInner,
  decodeClientFinished,
  decodeClientHello,
  decodeClientSecret,
  decodeNewTicket,
  decodeRefusedIfAny,
  decodeServerFinished,
  decodeServerHello,
  decodeServerResumed,
  encodeClientAuth,
  encodeClientAuthInner,
  encodeClientFinished,
  encodeClientHello,
  encodeClientSecret,
  encodeNewTicket,
  encodeRefused,
  encodeServerFinished,
  encodeServerHello,
  encodeServerResumed,
  handshakeNonceBytes,
  HandshakeType,
  type HelloParameters,
  minProtocolVersion,
  protocolVersion,
  RefusalReason,
  resumptionVersion,
  type ServerFinished,
} from "../wire/handshake_codec.ts";
import type { Transport } from "../wire/transport.ts";
import { defaultHandshakeTimeoutMs } from "./settings.ts";
import {
  clientAuthKey,
  clientSignatureContext,
  handshakeIkm,
  resumedIkm,
  resumedSecrets,
  secretBytes,
  sessionSecrets,
  type TicketSecrets,
  ticketSecrets,
  transcriptHash,
} from "./key_schedule.ts";
import type { ResumableSession } from "./session_cache.ts";
import { EphemeralKeys } from "./ephemeral_keys.ts";

export { defaultHandshakeTimeoutMs } from "./settings.ts";

/** What both handshake functions hand to the channel. */
export interface HandshakeResult {
  /** The frame reader, positioned after the handshake; it may hold read-ahead bytes. */
  reader: FrameReader;
  /** First traffic secret for what we send. */
  sendSecret: Uint8Array;
  /** First traffic secret for what we receive. */
  receiveSecret: Uint8Array;
  /** What we announced. */
  local: HelloParameters;
  /** What the peer announced. */
  peer: HelloParameters;
  /** The peer's identity key. */
  peerKey: PublicKey;
  /** The protocol version both sides speak on this connection (1 or 2). */
  version: number;
  /** True when the handshake resumed a session from a ticket (no RSA on either side). */
  resumed: boolean;
  /** Client only: the ticket the server issued in this handshake, for a later resumption. */
  newSession?: ResumableSession;
}

/** Options of {@linkcode clientHandshake}. */
export interface ClientHandshakeOptions extends HelloParameters {
  /** Our identity. */
  identity: Identity;
  /** Decides whether to trust the server key; throws {@linkcode HostKeyError} if not. */
  verifyServerKey: (key: PublicKey) => Promise<void>;
  /**
   * A ticket to resume with (SPEC §4.6); its server key must already be trusted (check it with
   * `verifyServerKey` first). A server that does not accept it answers with a full handshake.
   */
  resume?: ResumableSession;
  /**
   * Our ephemeral X25519 key pair for this handshake, if the caller started making it already
   * (while the TCP connection was being set up, say). Used once. Default: made here.
   */
  ephemeral?: Promise<X25519KeyPair>;
  /** Deadline for the whole handshake. Default {@linkcode defaultHandshakeTimeoutMs}. */
  timeoutMs?: number;
}

/** What the server learns about an authenticated client. */
export interface ServerHandshakeResult extends HandshakeResult {
  /** The authorized_keys entry that let the client in. */
  authorizedKey: AuthorizedKey;
}

/** Options of {@linkcode serverHandshake}. */
export interface ServerHandshakeOptions extends HelloParameters {
  /** Our identity. */
  identity: Identity;
  /** Looks up a client key fingerprint in authorized_keys. */
  authorize: (fingerprint: string) => Promise<AuthorizedKey | undefined>;
  /**
   * Called once the client is authenticated, before ServerFinished: returning `false` refuses
   * it as busy (Refused `busy`), for a key that holds its most connections.
   */
  admit?: (fingerprint: string) => boolean;
  /** Called right before the RSA decryption starts: from here on the connection cost us. */
  onDecrypt?: () => void;
  /**
   * Called once a ticket passed every check, right before ServerResumed goes out: from here on
   * the client has spent its ticket on this connection.
   */
  onResume?: () => void;
  /**
   * Called with `true` when we start waiting for the client's next handshake message and with
   * `false` once it arrived (a slow client can be told from a busy server).
   */
  onPeerWait?: (waiting: boolean) => void;
  /**
   * The ticket keys: with them, a version-2 client gets a ticket in ServerFinished and may
   * resume with it (SPEC §4.6). Without them, no tickets are issued and every ResumeHello gets a
   * full handshake.
   */
  tickets?: TicketKeys;
  /** Deadline for the whole handshake. Default {@linkcode defaultHandshakeTimeoutMs}. */
  timeoutMs?: number;
}

const zeroNonce = new Uint8Array(aesGcmNonceBytes);
/** The server's X25519 pairs: each handshake takes one and makes the next while it waits. */
const serverEphemeralKeys = new EphemeralKeys();
const noData = new Uint8Array(0);

/**
 * Runs the client side of the handshake over `transport`. On failure the transport is closed
 * and the error says what to do.
 *
 * @example See tests/session/handshake_test.ts; in short:
 * ```ts ignore
 * const result = await clientHandshake(transport, { identity, verifyServerKey, maxRecordBytes, rekeyRecords });
 * ```
 */
export function clientHandshake(
  transport: Transport,
  options: ClientHandshakeOptions,
): Promise<HandshakeResult> {
  return withDeadline(transport, options.timeoutMs, () => runClient(transport, options));
}

async function runClient(
  transport: Transport,
  options: ClientHandshakeOptions,
): Promise<HandshakeResult> {
  const reader = new FrameReader(transport, { maxFrameBytes: maxHandshakeFrameBytes });
  const local: HelloParameters = {
    maxRecordBytes: options.maxRecordBytes,
    rekeyRecords: options.rekeyRecords,
    maxStreams: options.maxStreams,
  };
  const resume = options.resume;

  // 1. ClientHello (or ResumeHello, with the ticket): our nonce and ephemeral key.
  const ephemeral = await (options.ephemeral ?? generateX25519());
  const clientHello = encodeClientHello({
    version: protocolVersion,
    nonce: randomBytes(handshakeNonceBytes),
    ephemeralKey: ephemeral.publicKey,
    ...local,
    ...(resume === undefined ? {} : { ticket: resume.ticket }),
  });
  await transport.write(encodeFrame(clientHello));

  // 2. ServerHello (or ServerResumed, when the server accepted the ticket).
  const serverHelloBytes = await readHandshakeFrame(reader, "ServerHello");
  const refusal = decodeRefusedIfAny(serverHelloBytes);
  if (refusal !== undefined) throw refusalError(refusal);
  if (resume !== undefined && serverHelloBytes[0] === HandshakeType.serverResumed) {
    return await runClientResumed(transport, reader, options, resume, {
      local,
      clientHello,
      serverResumedBytes: serverHelloBytes,
      ephemeralKey: ephemeral.privateKey,
    });
  }
  const serverHello = decodeServerHello(serverHelloBytes);
  const version = serverHello.version;
  if (version < minProtocolVersion || version > protocolVersion) {
    throw new ProtocolError(
      `The server chose protocol version ${version}; this client speaks ${minProtocolVersion} to ${protocolVersion}`,
    );
  }

  // 3. Trust decision on the server key: pin or known_hosts, before anything secret is sent.
  const serverKey = await importServerKey(serverHello.spki);
  await options.verifyServerKey(serverKey);

  // 4. ClientSecret: a fresh secret only the server key can unwrap. It goes out at once, so
  //    the server's RSA decryption runs while we sign.
  const clientSecret = randomBytes(secretBytes);
  const [ecdh, wrappedSecret] = await Promise.all([
    x25519(ephemeral.privateKey, serverHello.ephemeralKey),
    oaepEncrypt(serverKey.encryptKey, clientSecret),
  ]);
  const clientSecretBytes = encodeClientSecret({ wrappedSecret });
  await transport.write(encodeFrame(clientSecretBytes));

  // 5. ClientAuth: our key and our signature of the transcript, sealed under a key derived
  //    from the X25519 secret and the wrapped secret.
  const ikm = handshakeIkm(ecdh, clientSecret);
  const [ikmKey, t1] = await Promise.all([
    importHkdfKey(ikm),
    transcriptHash([clientHello, serverHelloBytes, clientSecretBytes]),
  ]);
  ikm.fill(0);
  ecdh.fill(0);
  clientSecret.fill(0);
  const [signature, authKey] = await Promise.all([
    signatureInput(t1, options.identity.publicKey.spki, serverKey.spki).then((input) =>
      signPss(options.identity.signKey, input)
    ),
    clientAuthKey(ikmKey, t1),
  ]);
  const inner = encodeClientAuthInner({ spki: options.identity.publicKey.spki, signature });
  const sealed = await aesGcmSeal(authKey, zeroNonce, inner, t1);
  const clientAuth = encodeClientAuth({ sealed });
  await transport.write(encodeFrame(clientAuth));

  // 6. ServerFinished: the server proves it unwrapped the secret, or refuses us. From version
  //    2 on, it may carry a ticket for the next connection. The secrets are derived while the
  //    server checks us.
  const deriving = transcriptHash([clientHello, serverHelloBytes, clientSecretBytes, clientAuth])
    .then((t2) =>
      Promise.all([
        sessionSecrets(ikmKey, t2),
        version >= resumptionVersion ? ticketSecrets(ikmKey, t2) : undefined,
      ])
    );
  deriving.catch(() => {});
  const finishedBytes = await readHandshakeFrame(reader, "ServerFinished");
  const finished = decodeServerFinished(finishedBytes);
  if ("refused" in finished) throw refusalError(finished.refused, options.identity.publicKey);
  const [secrets, tickets] = await deriving;
  if (!timingSafeEqual(finished.verifyData, secrets.finished)) {
    throw new HostKeyError(
      `The server at ${addressOf(transport)} failed key confirmation: it does not hold the ` +
        `private key of ${serverKey.fingerprint}; someone may be intercepting the connection`,
      {
        problem: "unproven",
        host: addressOf(transport),
        presented: serverKey.fingerprint,
      },
    );
  }
  const newSession = await openTicketBox(finished, tickets, serverKey);
  reader.maxFrameBytes = options.maxRecordBytes + 16;
  return {
    reader,
    sendSecret: secrets.clientToServer,
    receiveSecret: secrets.serverToClient,
    local,
    peer: {
      maxRecordBytes: serverHello.maxRecordBytes,
      rekeyRecords: serverHello.rekeyRecords,
      maxStreams: serverHello.maxStreams,
    },
    peerKey: serverKey,
    version,
    resumed: false,
    ...(newSession === undefined ? {} : { newSession }),
  };
}

/** What the client's first two steps leave for a resumed handshake. */
interface ResumedStart {
  local: HelloParameters;
  clientHello: Uint8Array;
  serverResumedBytes: Uint8Array;
  ephemeralKey: CryptoKey;
}

/**
 * The client's resumed handshake after ServerResumed (SPEC §4.6): keys from the fresh X25519
 * secret and the ticket's resumption secret; the server proves both with ServerFinished, we
 * prove the secret with ClientFinished.
 */
async function runClientResumed(
  transport: Transport,
  reader: FrameReader,
  options: ClientHandshakeOptions,
  resume: ResumableSession,
  start: ResumedStart,
): Promise<HandshakeResult> {
  // 3. ServerResumed: version 2 and fresh X25519 from the server; the key is the ticket's.
  const serverResumed = decodeServerResumed(start.serverResumedBytes);
  if (serverResumed.version !== resumptionVersion) {
    throw new ProtocolError(
      `The server resumed with protocol version ${serverResumed.version}; resumption needs ${resumptionVersion}`,
    );
  }
  const [ecdh, tr] = await Promise.all([
    x25519(start.ephemeralKey, serverResumed.ephemeralKey),
    transcriptHash([start.clientHello, start.serverResumedBytes]),
  ]);
  const ikm = resumedIkm(ecdh, resume.resumptionSecret);
  ecdh.fill(0);
  const secrets = await resumedSecrets(ikm, tr);
  ikm.fill(0);

  // 4. ServerFinished: only the holder of the ticket key (who opened our ticket) can compute it.
  const finished = decodeServerFinished(await readHandshakeFrame(reader, "ServerFinished"));
  if ("refused" in finished) throw refusalError(finished.refused, options.identity.publicKey);
  if (!timingSafeEqual(finished.verifyData, secrets.finished)) {
    throw new HostKeyError(
      `The server at ${addressOf(transport)} failed key confirmation on resumption: it did not ` +
        `open the ticket issued by ${resume.serverKey.fingerprint}; someone may be intercepting ` +
        `the connection`,
      {
        problem: "unproven",
        host: addressOf(transport),
        presented: resume.serverKey.fingerprint,
      },
    );
  }
  // 5. ClientFinished: our proof of the resumption secret over this transcript. It goes out
  //    before we open the ticket box, so the server's last step overlaps ours.
  const opening = openTicketBox(finished, secrets.tickets, resume.serverKey);
  opening.catch(() => {});
  await transport.write(encodeFrame(encodeClientFinished(secrets.clientFinished)));
  const newSession = await opening;
  reader.maxFrameBytes = options.maxRecordBytes + 16;
  return {
    reader,
    sendSecret: secrets.clientToServer,
    receiveSecret: secrets.serverToClient,
    local: start.local,
    peer: {
      maxRecordBytes: serverResumed.maxRecordBytes,
      rekeyRecords: serverResumed.rekeyRecords,
      maxStreams: serverResumed.maxStreams,
    },
    peerKey: resume.serverKey,
    version: resumptionVersion,
    resumed: true,
    ...(newSession === undefined ? {} : { newSession }),
  };
}

/** Opens the ticket box of a ServerFinished; a box that does not open is a protocol error. */
async function openTicketBox(
  finished: ServerFinished,
  tickets: TicketSecrets | undefined,
  serverKey: PublicKey,
): Promise<ResumableSession | undefined> {
  if (finished.ticketBox === undefined) return undefined;
  if (tickets === undefined) {
    throw new ProtocolError("The server sent a session ticket in protocol version 1");
  }
  let plaintext: Uint8Array;
  try {
    plaintext = await aesGcmOpen(tickets.boxKey, zeroNonce, finished.ticketBox, noData);
  } catch (cause) {
    throw new ProtocolError("The server's session ticket box does not open", { cause });
  }
  const { lifetimeSeconds, ticket } = decodeNewTicket(plaintext);
  if (lifetimeSeconds === 0) return undefined;
  return {
    serverKey,
    ticket,
    resumptionSecret: tickets.resumption,
    expiresAtMs: Date.now() + lifetimeSeconds * 1000,
  };
}

/**
 * Runs the server side of the handshake over `transport`. A client that fails any check gets
 * the same Refused message at the same step, and the transport is closed.
 *
 * @example See tests/session/handshake_test.ts; in short:
 * ```ts ignore
 * const result = await serverHandshake(transport, { identity, authorize, maxRecordBytes, rekeyRecords });
 * ```
 */
export async function serverHandshake(
  transport: Transport,
  options: ServerHandshakeOptions,
): Promise<ServerHandshakeResult> {
  try {
    return await withDeadline(transport, options.timeoutMs, () => runServer(transport, options));
  } finally {
    // The next handshake's key pair, if this one took the spare and its making is not done (it
    // was started once our flight went out); nothing is left running behind a handshake.
    await serverEphemeralKeys.refill();
  }
}

async function runServer(
  transport: Transport,
  options: ServerHandshakeOptions,
): Promise<ServerHandshakeResult> {
  const reader = new FrameReader(transport, { maxFrameBytes: maxHandshakeFrameBytes });
  const local: HelloParameters = {
    maxRecordBytes: options.maxRecordBytes,
    rekeyRecords: options.rekeyRecords,
    maxStreams: options.maxStreams,
  };

  // 1. ClientHello (or ResumeHello).
  const clientHelloBytes = await readFromClient(reader, "ClientHello", options);
  const clientHello = decodeClientHello(clientHelloBytes);
  if (clientHello.version < minProtocolVersion) {
    await refuse(transport, RefusalReason.version);
    throw new ProtocolError(
      `The client speaks protocol version ${clientHello.version}; this server needs ${minProtocolVersion} or more`,
    );
  }
  const version = Math.min(clientHello.version, protocolVersion);
  const serverNonce = randomBytes(handshakeNonceBytes);
  // A ticket is checked while our ephemeral key is made (independent Web Crypto calls).
  const checkingTicket = clientHello.ticket !== undefined && options.tickets !== undefined
    ? acceptTicket(clientHello.ticket, options.tickets, options)
    : undefined;
  checkingTicket?.catch(() => {});
  const ephemeral = await serverEphemeralKeys.take();
  // With a ticket, the ServerResumed we would send and TR are ready by the time it is accepted.
  const serverResumed = checkingTicket === undefined ? undefined : encodeServerResumed({
    version: resumptionVersion,
    nonce: serverNonce,
    ephemeralKey: ephemeral.publicKey,
    ...local,
  });
  const hashingTr = serverResumed === undefined
    ? undefined
    : transcriptHash([clientHelloBytes, serverResumed]);
  hashingTr?.catch(() => {});
  let ecdh: Uint8Array;
  try {
    ecdh = await x25519(ephemeral.privateKey, clientHello.ephemeralKey);
  } catch (error) {
    // Settle the ticket's checks first: they may have taken a connection slot (`admit`),
    // which the caller gives back when we throw.
    await checkingTicket;
    await refuse(transport, RefusalReason.protocol);
    throw error;
  }

  // 1a. A ResumeHello whose ticket passes every check resumes (SPEC §4.6); any other goes on
  //     as a full handshake, the same way whatever was wrong with the ticket.
  if (checkingTicket !== undefined) {
    const accepted = await checkingTicket;
    if (accepted !== undefined) {
      options.onResume?.();
      return await runServerResumed(transport, reader, options, accepted, {
        local,
        clientHello,
        serverResumed: serverResumed!,
        tr: await hashingTr!,
        ecdh,
      });
    }
  }

  // 2. ServerHello: our nonce, ephemeral key and identity key.
  const serverHello = encodeServerHello({
    version,
    nonce: serverNonce,
    ephemeralKey: ephemeral.publicKey,
    spki: options.identity.publicKey.spki,
    ...local,
  });
  await transport.write(encodeFrame(serverHello));
  serverEphemeralKeys.refill();

  // 3. ClientSecret: start unwrapping the secret at once (the client signs meanwhile). A
  //    failure goes on with a random secret and fails below, at the same step as every other
  //    authentication failure.
  const clientSecretBytes = await readFromClient(reader, "ClientSecret", options);
  const { wrappedSecret } = decodeClientSecret(clientSecretBytes);
  options.onDecrypt?.();
  const unwrapping = oaepDecrypt(options.identity.decryptKey, wrappedSecret);

  // 4. ClientAuth: open the sealed part, check the key against authorized_keys and the
  //    signature against the transcript.
  const clientAuthBytes = await readFromClient(reader, "ClientAuth", options);
  const clientAuth = decodeClientAuth(clientAuthBytes);
  // Both transcript hashes while the RSA decryption runs.
  const [unwrapped, t1, t2] = await Promise.all([
    unwrapping,
    transcriptHash([clientHelloBytes, serverHello, clientSecretBytes]),
    transcriptHash([clientHelloBytes, serverHello, clientSecretBytes, clientAuthBytes]),
  ]);
  const clientSecret = unwrapped?.length === secretBytes ? unwrapped : randomBytes(secretBytes);
  const ikm = handshakeIkm(ecdh, clientSecret);
  const ikmKey = await importHkdfKey(ikm);
  ikm.fill(0);
  ecdh.fill(0);
  clientSecret.fill(0);
  // The session (and ticket) secrets are derived while the client is checked; a refused client
  // never sees them.
  const issuing = version >= resumptionVersion && options.tickets !== undefined;
  const deriving = Promise.all([
    sessionSecrets(ikmKey, t2),
    issuing ? ticketSecrets(ikmKey, t2) : undefined,
  ]);
  deriving.catch(() => {});
  const verdict = await checkClient(ikmKey, t1, clientAuth.sealed, options);
  if (verdict.refusal !== undefined) {
    await refuse(transport, verdict.refusal);
    throw new AuthenticationError(`Refused client at ${addressOf(transport)}: ${verdict.why}`, {
      fingerprint: verdict.fingerprint,
    });
  }
  if (options.admit !== undefined && !options.admit(verdict.key.fingerprint)) {
    await refuse(transport, RefusalReason.busy);
    throw new ConnectionError(
      `Refused client at ${
        addressOf(transport)
      }: key ${verdict.key.fingerprint} holds its most connections`,
    );
  }

  // 5. ServerFinished: proof that we unwrapped the secret, bound to the whole transcript, and
  //    from version 2 on a ticket for the next connection.
  const [secrets, tickets] = await deriving;
  const ticketBox = tickets === undefined
    ? undefined
    : await sealTicketBox(tickets, options.tickets!, verdict.key, options.identity.publicKey);
  await transport.write(
    encodeFrame(encodeServerFinished({ verifyData: secrets.finished, ticketBox })),
  );
  reader.maxFrameBytes = options.maxRecordBytes + 16;
  return {
    reader,
    sendSecret: secrets.serverToClient,
    receiveSecret: secrets.clientToServer,
    local,
    peer: {
      maxRecordBytes: clientHello.maxRecordBytes,
      rekeyRecords: clientHello.rekeyRecords,
      maxStreams: clientHello.maxStreams,
    },
    peerKey: verdict.key,
    authorizedKey: verdict.authorized,
    version,
    resumed: false,
  };
}

/** A ticket that passed every check, with the authorized_keys entry it names today. */
interface AcceptedTicket {
  resumptionSecret: Uint8Array;
  authorized: AuthorizedKey;
}

/**
 * Every check of a presented ticket (SPEC §4.6, server step R1), in order: it opens under a
 * ticket key we hold and is within its lifetime, names our own key, names a client key that
 * authorized_keys lists *now* (with its from= option), and that key is under its connection
 * cap. `undefined` for any failure: the caller falls back to a full handshake.
 */
async function acceptTicket(
  ticket: Uint8Array,
  keys: TicketKeys,
  options: ServerHandshakeOptions,
): Promise<AcceptedTicket | undefined> {
  const contents = await keys.open(ticket);
  if (contents === undefined) return undefined;
  const ourFingerprint = rawFingerprint(options.identity.publicKey);
  if (!timingSafeEqual(contents.serverFingerprint, ourFingerprint)) return undefined;
  const fingerprint = `SHA256:${encodeBase64(contents.clientFingerprint).replace(/=+$/, "")}`;
  const authorized = await options.authorize(fingerprint);
  if (authorized === undefined || authorized.publicKey.fingerprint !== fingerprint) {
    return undefined;
  }
  if (options.admit !== undefined && !options.admit(fingerprint)) return undefined;
  return { resumptionSecret: contents.resumptionSecret, authorized };
}

/** What the server's first step leaves for a resumed handshake. */
interface ServerResumedStart {
  local: HelloParameters;
  clientHello: { maxRecordBytes: number; rekeyRecords: number; maxStreams: number };
  /** The ServerResumed to send: our nonce and ephemeral key. */
  serverResumed: Uint8Array;
  /** `H(ResumeHello, ServerResumed)`. */
  tr: Uint8Array;
  ecdh: Uint8Array;
}

/**
 * The server's resumed handshake once the ticket was accepted (SPEC §4.6): ServerResumed and
 * ServerFinished in one write, then the client's ClientFinished.
 */
async function runServerResumed(
  transport: Transport,
  reader: FrameReader,
  options: ServerHandshakeOptions,
  accepted: AcceptedTicket,
  start: ServerResumedStart,
): Promise<ServerHandshakeResult> {
  // R2. ServerResumed and ServerFinished: keys from the fresh X25519 secret and the ticket's.
  const ikm = resumedIkm(start.ecdh, accepted.resumptionSecret);
  start.ecdh.fill(0);
  accepted.resumptionSecret.fill(0);
  const secrets = await resumedSecrets(ikm, start.tr);
  ikm.fill(0);
  const clientKey = accepted.authorized.publicKey;
  const ticketBox = await sealTicketBox(
    secrets.tickets,
    options.tickets!,
    clientKey,
    options.identity.publicKey,
  );
  await transport.write(concatBytes([
    encodeFrame(start.serverResumed),
    encodeFrame(encodeServerFinished({ verifyData: secrets.finished, ticketBox })),
  ]));
  serverEphemeralKeys.refill();

  // R3. ClientFinished: the client proves the resumption secret; a replayed ResumeHello, or a
  //     ticket presented by someone without its secret, stops here.
  const clientFinished = decodeClientFinished(
    await readFromClient(reader, "ClientFinished", options),
  );
  if (!timingSafeEqual(clientFinished, secrets.clientFinished)) {
    await refuse(transport, RefusalReason.authentication);
    throw new AuthenticationError(
      `Refused client at ${addressOf(transport)}: resumption without the ticket's secret ` +
        `(a replayed or stolen ticket) for key ${clientKey.fingerprint}`,
      { fingerprint: clientKey.fingerprint },
    );
  }
  reader.maxFrameBytes = options.maxRecordBytes + 16;
  return {
    reader,
    sendSecret: secrets.serverToClient,
    receiveSecret: secrets.clientToServer,
    local: start.local,
    peer: {
      maxRecordBytes: start.clientHello.maxRecordBytes,
      rekeyRecords: start.clientHello.rekeyRecords,
      maxStreams: start.clientHello.maxStreams,
    },
    peerKey: clientKey,
    authorizedKey: accepted.authorized,
    version: resumptionVersion,
    resumed: true,
  };
}

/** `fp(spki)` (32 raw bytes) from a key's `SHA256:<base64>` fingerprint. */
function rawFingerprint(key: PublicKey): Uint8Array {
  return decodeBase64(`${key.fingerprint.slice("SHA256:".length)}=`);
}

/** Seals a fresh ticket for `clientKey` into the ServerFinished ticket box. */
async function sealTicketBox(
  secrets: TicketSecrets,
  keys: TicketKeys,
  clientKey: PublicKey,
  serverKey: PublicKey,
): Promise<Uint8Array> {
  // fp() of each key is already in its fingerprint text: no hashing on the critical path.
  const clientFingerprint = rawFingerprint(clientKey);
  const serverFingerprint = rawFingerprint(serverKey);
  const ticket = await keys.seal({
    issuedAtMs: Date.now(),
    resumptionSecret: secrets.resumption,
    clientFingerprint,
    serverFingerprint,
  });
  const plaintext = encodeNewTicket({
    lifetimeSeconds: Math.ceil(keys.lifetimeMs / 1000),
    ticket,
  });
  return await aesGcmSeal(secrets.boxKey, zeroNonce, plaintext, noData);
}
type ClientVerdict =
  | { refusal: undefined; key: PublicKey; authorized: AuthorizedKey }
  | { refusal: RefusalReason; why: string; fingerprint?: string };

/** Every check of ClientAuth's sealed part; the reason stays local (it goes to logs only). */
async function checkClient(
  ikm: CryptoKey,
  t1: Uint8Array,
  sealed: Uint8Array,
  options: ServerHandshakeOptions,
): Promise<ClientVerdict> {
  const refused = (why: string, fingerprint?: string): ClientVerdict => ({
    refusal: RefusalReason.authentication,
    why,
    fingerprint,
  });
  let plaintext: Uint8Array;
  try {
    plaintext = await aesGcmOpen(await clientAuthKey(ikm, t1), zeroNonce, sealed, t1);
  } catch {
    return refused("key confirmation failed (wrong server key or tampered handshake)");
  }
  let inner;
  try {
    inner = decodeClientAuthInner(plaintext);
  } catch (error) {
    return { refusal: RefusalReason.protocol, why: (error as Error).message };
  }
  let key: PublicKey;
  try {
    key = await importPublicKey(inner.spki);
  } catch {
    return refused("the client key is not a usable RSA key");
  }
  // Both checks always run, so an unauthorized key and a bad signature cost the same.
  const [signatureOk, authorized] = await Promise.all([
    signatureInput(t1, key.spki, options.identity.publicKey.spki).then((input) =>
      verifyPss(key.verifyKey, inner.signature, input)
    ),
    options.authorize(key.fingerprint),
  ]);
  if (authorized === undefined) {
    return refused(`key ${key.fingerprint} is not authorized`, key.fingerprint);
  }
  if (!signatureOk) return refused(`bad signature for key ${key.fingerprint}`, key.fingerprint);
  // Shared only now: a key imported every time costs the same whether or not another
  // connection holds it, so the time to a refusal tells nothing about who is connected.
  return { refusal: undefined, key: sharedPublicKey(key), authorized };
}

/** `context || T1 || SHA-256(client SPKI) || SHA-256(server SPKI)`. */
async function signatureInput(
  t1: Uint8Array,
  clientSpki: Uint8Array,
  serverSpki: Uint8Array,
): Promise<Uint8Array> {
  const [clientHash, serverHash] = await Promise.all([sha256(clientSpki), sha256(serverSpki)]);
  return concatBytes([clientSignatureContext, t1, clientHash, serverHash]);
}

async function importServerKey(spki: Uint8Array): Promise<PublicKey> {
  try {
    // One object per server key in the process, however many connections hold it.
    return await importSharedPublicKey(spki);
  } catch (cause) {
    throw new ProtocolError("The server presented a key that is not a usable RSA key", { cause });
  }
}

/** The server's reads: it tells `onPeerWait` while it waits. */
async function readFromClient(
  reader: FrameReader,
  what: string,
  options: ServerHandshakeOptions,
): Promise<Uint8Array> {
  options.onPeerWait?.(true);
  try {
    return await readHandshakeFrame(reader, what);
  } finally {
    options.onPeerWait?.(false);
  }
}

async function readHandshakeFrame(reader: FrameReader, what: string): Promise<Uint8Array> {
  const body = await reader.read();
  if (body === null) {
    throw new ConnectionError(`The peer closed the connection before sending ${what}`);
  }
  return body;
}

async function refuse(transport: Transport, reason: RefusalReason): Promise<void> {
  try {
    await transport.write(encodeFrame(encodeRefused(reason)));
    await transport.closeWrite();
  } catch {
    // The peer is gone already; the refusal is moot.
  }
}

function refusalError(reason: RefusalReason, ourKey?: PublicKey): Error {
  switch (reason) {
    case RefusalReason.authentication:
      return new AuthenticationError(
        `The server refused our key ${ourKey?.fingerprint ?? ""}: ask its owner to add our ` +
          `public key to its authorized_keys`,
      );
    case RefusalReason.version:
      return new ProtocolError("The server does not speak this protocol version; upgrade ovtp");
    case RefusalReason.busy:
      return new ConnectionError("The server is busy (connection limit reached); retry later");
    default:
      return new ProtocolError("The server refused the handshake as malformed");
  }
}

function addressOf(transport: Transport): string {
  const { hostname, port } = transport.remoteAddr;
  return `${hostname}:${port}`;
}

async function withDeadline<T>(
  transport: Transport,
  timeoutMs: number | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const limitMs = timeoutMs ?? defaultHandshakeTimeoutMs;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    transport.close();
  }, limitMs);
  try {
    return await run();
  } catch (error) {
    transport.close();
    if (timedOut) {
      throw new TimeoutError(
        `The handshake with ${addressOf(transport)} did not finish within ${limitMs} ms`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
