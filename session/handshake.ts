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
 *              <-  ServerFinished {verify data}  or  Refused {reason}
 * ```
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
import { randomBytes } from "../crypto/random.ts";
import { oaepDecrypt, oaepEncrypt } from "../crypto/rsa_oaep.ts";
import { signPss, verifyPss } from "../crypto/rsa_pss.ts";
import { sha256 } from "../crypto/sha256.ts";
import { timingSafeEqual } from "../crypto/timing_safe_equal.ts";
import { generateX25519, x25519 } from "../crypto/x25519.ts";
import { concatBytes } from "../wire/_bytes.ts";
import { encodeFrame, maxHandshakeFrameBytes } from "../wire/frame.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import {
  decodeClientAuth,
  decodeClientAuthInner,
  decodeClientHello,
  decodeClientSecret,
  decodeRefusedIfAny,
  decodeServerFinished,
  decodeServerHello,
  encodeClientAuth,
  encodeClientAuthInner,
  encodeClientHello,
  encodeClientSecret,
  encodeRefused,
  encodeServerFinished,
  encodeServerHello,
  handshakeNonceBytes,
  type HelloParameters,
  protocolVersion,
  RefusalReason,
} from "../wire/handshake_codec.ts";
import type { Transport } from "../wire/transport.ts";
import { defaultHandshakeTimeoutMs } from "./settings.ts";
import {
  clientAuthKey,
  clientSignatureContext,
  handshakeIkm,
  secretBytes,
  sessionSecrets,
  transcriptHash,
} from "./key_schedule.ts";

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
}

/** Options of {@linkcode clientHandshake}. */
export interface ClientHandshakeOptions extends HelloParameters {
  /** Our identity. */
  identity: Identity;
  /** Decides whether to trust the server key; throws {@linkcode HostKeyError} if not. */
  verifyServerKey: (key: PublicKey) => Promise<void>;
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
  /** Deadline for the whole handshake. Default {@linkcode defaultHandshakeTimeoutMs}. */
  timeoutMs?: number;
}

const zeroNonce = new Uint8Array(aesGcmNonceBytes);

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

  // 1. ClientHello: our nonce and ephemeral key.
  const ephemeral = await generateX25519();
  const clientHello = encodeClientHello({
    version: protocolVersion,
    nonce: randomBytes(handshakeNonceBytes),
    ephemeralKey: ephemeral.publicKey,
    ...local,
  });
  await transport.write(encodeFrame(clientHello));

  // 2. ServerHello: the server's nonce, ephemeral key and identity key.
  const serverHelloBytes = await readHandshakeFrame(reader, "ServerHello");
  const refusal = decodeRefusedIfAny(serverHelloBytes);
  if (refusal !== undefined) throw refusalError(refusal);
  const serverHello = decodeServerHello(serverHelloBytes);
  if (serverHello.version !== protocolVersion) {
    throw new ProtocolError(
      `The server chose protocol version ${serverHello.version}; this client speaks ${protocolVersion}`,
    );
  }

  // 3. Trust decision on the server key: pin or known_hosts, before anything secret is sent.
  const serverKey = await importServerKey(serverHello.spki);
  await options.verifyServerKey(serverKey);

  // 4. ClientSecret: a fresh secret only the server key can unwrap. It goes out at once, so
  //    the server's RSA decryption runs while we sign.
  const ecdh = await x25519(ephemeral.privateKey, serverHello.ephemeralKey);
  const clientSecret = randomBytes(secretBytes);
  const clientSecretBytes = encodeClientSecret({
    wrappedSecret: await oaepEncrypt(serverKey.encryptKey, clientSecret),
  });
  await transport.write(encodeFrame(clientSecretBytes));

  // 5. ClientAuth: our key and our signature of the transcript, sealed under a key derived
  //    from the X25519 secret and the wrapped secret.
  const ikm = handshakeIkm(ecdh, clientSecret);
  const t1 = await transcriptHash([clientHello, serverHelloBytes, clientSecretBytes]);
  const signature = await signPss(
    options.identity.signKey,
    await signatureInput(t1, options.identity.publicKey.spki, serverKey.spki),
  );
  const inner = encodeClientAuthInner({ spki: options.identity.publicKey.spki, signature });
  const sealed = await aesGcmSeal(await clientAuthKey(ikm, t1), zeroNonce, inner, t1);
  const clientAuth = encodeClientAuth({ sealed });
  await transport.write(encodeFrame(clientAuth));

  // 6. ServerFinished: the server proves it unwrapped the secret, or refuses us.
  const finishedBytes = await readHandshakeFrame(reader, "ServerFinished");
  const finished = decodeServerFinished(finishedBytes);
  if ("refused" in finished) throw refusalError(finished.refused, options.identity.publicKey);
  const t2 = await transcriptHash([clientHello, serverHelloBytes, clientSecretBytes, clientAuth]);
  const secrets = await sessionSecrets(ikm, t2);
  ikm.fill(0);
  clientSecret.fill(0);
  if (!timingSafeEqual(finished, secrets.finished)) {
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
export function serverHandshake(
  transport: Transport,
  options: ServerHandshakeOptions,
): Promise<ServerHandshakeResult> {
  return withDeadline(transport, options.timeoutMs, () => runServer(transport, options));
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

  // 1. ClientHello.
  const clientHelloBytes = await readHandshakeFrame(reader, "ClientHello");
  const clientHello = decodeClientHello(clientHelloBytes);
  if (clientHello.version < protocolVersion) {
    await refuse(transport, RefusalReason.version);
    throw new ProtocolError(
      `The client speaks protocol version ${clientHello.version}; this server needs ${protocolVersion}`,
    );
  }
  const ephemeral = await generateX25519();
  let ecdh: Uint8Array;
  try {
    ecdh = await x25519(ephemeral.privateKey, clientHello.ephemeralKey);
  } catch (error) {
    await refuse(transport, RefusalReason.protocol);
    throw error;
  }

  // 2. ServerHello: our nonce, ephemeral key and identity key.
  const serverHello = encodeServerHello({
    version: protocolVersion,
    nonce: randomBytes(handshakeNonceBytes),
    ephemeralKey: ephemeral.publicKey,
    spki: options.identity.publicKey.spki,
    ...local,
  });
  await transport.write(encodeFrame(serverHello));

  // 3. ClientSecret: start unwrapping the secret at once (the client signs meanwhile). A
  //    failure goes on with a random secret and fails below, at the same step as every other
  //    authentication failure.
  const clientSecretBytes = await readHandshakeFrame(reader, "ClientSecret");
  const { wrappedSecret } = decodeClientSecret(clientSecretBytes);
  options.onDecrypt?.();
  const unwrapping = oaepDecrypt(options.identity.decryptKey, wrappedSecret);

  // 4. ClientAuth: open the sealed part, check the key against authorized_keys and the
  //    signature against the transcript.
  const clientAuthBytes = await readHandshakeFrame(reader, "ClientAuth");
  const clientAuth = decodeClientAuth(clientAuthBytes);
  const unwrapped = await unwrapping;
  const clientSecret = unwrapped?.length === secretBytes ? unwrapped : randomBytes(secretBytes);
  const ikm = handshakeIkm(ecdh, clientSecret);
  const t1 = await transcriptHash([clientHelloBytes, serverHello, clientSecretBytes]);
  const verdict = await checkClient(ikm, t1, clientAuth.sealed, options);
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

  // 5. ServerFinished: proof that we unwrapped the secret, bound to the whole transcript.
  const t2 = await transcriptHash([
    clientHelloBytes,
    serverHello,
    clientSecretBytes,
    clientAuthBytes,
  ]);
  const secrets = await sessionSecrets(ikm, t2);
  ikm.fill(0);
  clientSecret.fill(0);
  await transport.write(encodeFrame(encodeServerFinished(secrets.finished)));
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
  };
}

type ClientVerdict =
  | { refusal: undefined; key: PublicKey; authorized: AuthorizedKey }
  | { refusal: RefusalReason; why: string; fingerprint?: string };

/** Every check of ClientAuth's sealed part; the reason stays local (it goes to logs only). */
async function checkClient(
  ikm: Uint8Array,
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
  return { refusal: undefined, key, authorized };
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
    return await importPublicKey(spki);
  } catch (cause) {
    throw new ProtocolError("The server presented a key that is not a usable RSA key", { cause });
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
