/**
 * Encoding and decoding of the handshake messages (SPEC.md §4.1, and §4.6 for resumption). Pure
 * functions over bytes: every decoder checks every length and value before it is used and
 * throws {@linkcode ProtocolError} on anything else. `session/handshake.ts` sends and reads
 * them as frames. Over 450 lines, half of them docs: each message is an encode/decode pair with
 * its byte layout and runnable examples.
 *
 * @module
 */

import { HandshakeType, RefusalReason } from "./protocol_codes.ts";
import { ProtocolError } from "../errors.ts";
import { ByteReader, ByteWriter } from "./_bytes.ts";

/**
 * The highest protocol version this implementation speaks: 2 is version 1 plus session tickets
 * and resumption (SPEC §4.6). A server answers with the lower of the client's and its own.
 */
export const protocolVersion = 2;
/** The lowest protocol version this implementation speaks (no tickets, no resumption). */
export const minProtocolVersion = 1;
/** The first version with session tickets and resumption (SPEC §4.6). */
export const resumptionVersion = 2;
/** Largest session ticket accepted in a ResumeHello or a ServerFinished (SPEC §4.6). */
export const maxTicketBytes = 1024;
/** Size of a ticket box's lifetime field: the ticket's lifetime in seconds. */
const lifetimeFieldBytes = 4;
/** Size of an AES-GCM tag, the least a sealed part can be. */
const tagBytes = 16;
/** `OVTP` in ASCII: the first bytes a client sends. */
export const protocolMagic: Uint8Array = new Uint8Array([0x4f, 0x56, 0x54, 0x50]);
/** Size of each side's handshake nonce. */
export const handshakeNonceBytes = 32;
/** Size of an X25519 public key. */
export const ephemeralKeyBytes = 32;
/** Size of the server's key confirmation value. */
export const finishedBytes = 32;
/** Largest SubjectPublicKeyInfo accepted in a handshake. */
export const maxSpkiBytes = 2048;
/** Largest RSA ciphertext or signature accepted (8192-bit keys). */
export const maxRsaValueBytes = 1024;
/** Smallest record size limit a peer may announce. */
export const minRecordBytes = 16384;
/** Largest record size limit a peer may announce (plaintext of one sealed record). */
export const maxRecordBytesLimit = 16 * 1024 * 1024;
/** Largest number of records under one key a peer may announce. */
export const maxRekeyRecords = 1 << 24;
/**
 * Smallest key update interval a hello may announce: the receiver derives a key every that
 * many records, which must stay a negligible cost next to opening them (SPEC 4.1).
 */
export const minRekeyRecords = 1024;
/** Largest number of concurrent streams a peer may announce. */
export const maxStreamsLimit = 65536;

/** Parameters each side announces in its hello. */
export interface HelloParameters {
  /** Largest plaintext of one sealed record this side accepts. */
  maxRecordBytes: number;
  /** This side moves to its next sending key after this many records. */
  rekeyRecords: number;
  /** Streams the other side may have open towards this side at once. */
  maxStreams: number;
}

/**
 * First message, client to server: a ClientHello (type 1), or with `ticket` a ResumeHello
 * (type 7), which is the same message with a session ticket after it (SPEC §4.6).
 */
export interface ClientHello extends HelloParameters {
  /** Highest protocol version the client speaks. */
  version: number;
  /** 32 fresh random bytes. */
  nonce: Uint8Array;
  /** The client's ephemeral X25519 public key. */
  ephemeralKey: Uint8Array;
  /** The session ticket a ResumeHello presents (1 to {@linkcode maxTicketBytes} bytes). */
  ticket?: Uint8Array;
}

/** The server's hello accepting a resumption (type 8): a ServerHello without identity key. */
export interface ServerResumed extends HelloParameters {
  /** The version the server chose: 2. */
  version: number;
  /** 32 fresh random bytes. */
  nonce: Uint8Array;
  /** The server's ephemeral X25519 public key. */
  ephemeralKey: Uint8Array;
}

/** What a ServerFinished carries. */
export interface ServerFinished {
  /** The server's key confirmation. */
  verifyData: Uint8Array;
  /** A new session ticket, sealed (version 2 only; absent when the server issues none). */
  ticketBox?: Uint8Array;
}

/** The plaintext of a ticket box: a ticket and how long it may be used. */
export interface NewTicket {
  /** Seconds from now during which the server accepts the ticket. */
  lifetimeSeconds: number;
  /** The opaque ticket, 1 to {@linkcode maxTicketBytes} bytes. */
  ticket: Uint8Array;
}

/** Second message, server to client. */
export interface ServerHello extends HelloParameters {
  /** The version the server chose. */
  version: number;
  /** 32 fresh random bytes. */
  nonce: Uint8Array;
  /** The server's ephemeral X25519 public key. */
  ephemeralKey: Uint8Array;
  /** The server's identity key, DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
}

/**
 * Third message, client to server: a fresh 32-byte secret, RSA-OAEP encrypted to the server's
 * identity key. Sent before the client signs, so the server's decryption runs while the client
 * signs.
 */
export interface ClientSecret {
  /** The wrapped secret. */
  wrappedSecret: Uint8Array;
}

/** Fourth message, client to server. */
export interface ClientAuth {
  /** AES-256-GCM sealed {@linkcode ClientAuthInner}. */
  sealed: Uint8Array;
}

/** What {@linkcode ClientAuth} carries under encryption. */
export interface ClientAuthInner {
  /** The client's identity key, DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** RSASSA-PSS signature over the client signature input (SPEC.md). */
  signature: Uint8Array;
}

export { HandshakeType, RefusalReason } from "./protocol_codes.ts";

function checkParameters(what: string, p: HelloParameters): void {
  if (p.maxRecordBytes < minRecordBytes || p.maxRecordBytes > maxRecordBytesLimit) {
    throw new ProtocolError(
      `Cannot decode ${what}: record limit ${p.maxRecordBytes} is outside ${minRecordBytes}..${maxRecordBytesLimit}`,
    );
  }
  if (p.rekeyRecords < minRekeyRecords || p.rekeyRecords > maxRekeyRecords) {
    throw new ProtocolError(
      `Cannot decode ${what}: rekey interval ${p.rekeyRecords} is outside ${minRekeyRecords}..${maxRekeyRecords}`,
    );
  }
  if (p.maxStreams < 1 || p.maxStreams > maxStreamsLimit) {
    throw new ProtocolError(
      `Cannot decode ${what}: stream limit ${p.maxStreams} is outside 1..${maxStreamsLimit}`,
    );
  }
}

function readType(reader: ByteReader, expected: number, what: string): void {
  const type = reader.u8("message type");
  if (type === HandshakeType.refused && expected !== HandshakeType.refused) {
    throw new ProtocolError(`Cannot decode ${what}: the peer refused the handshake`);
  }
  if (type !== expected) {
    throw new ProtocolError(`Cannot decode ${what}: message type ${type}, expected ${expected}`);
  }
}

/**
 * Encodes a ClientHello:
 * `type (1) = 1 || "OVTP" (4) || version (2) || nonce (32) || ephemeral (32) ||
 * maxRecordBytes (4) || rekeyRecords (4) || maxStreams (4)`.
 *
 * @example Round trip
 * ```ts
 * import { decodeClientHello, encodeClientHello } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const hello = {
 *   version: 1,
 *   nonce: new Uint8Array(32).fill(1),
 *   ephemeralKey: new Uint8Array(32).fill(2),
 *   maxRecordBytes: 65536,
 *   rekeyRecords: 4096,
 *   maxStreams: 100,
 * };
 * const bytes = encodeClientHello(hello);
 * assert.equal(bytes.length, 83);
 * assert.deepEqual(decodeClientHello(bytes), hello);
 * ```
 */
export function encodeClientHello(hello: ClientHello): Uint8Array {
  const writer = new ByteWriter()
    .u8(hello.ticket === undefined ? HandshakeType.clientHello : HandshakeType.resumeHello)
    .bytes(protocolMagic);
  writeHelloFields(writer, hello);
  if (hello.ticket !== undefined) {
    if (hello.ticket.length < 1 || hello.ticket.length > maxTicketBytes) {
      throw new RangeError(
        `Cannot encode ticket: ${hello.ticket.length} bytes, expected 1 to ${maxTicketBytes}`,
      );
    }
    writer.bytes16(hello.ticket);
  }
  return writer.finish();
}

/**
 * Decodes a ClientHello, or a ResumeHello (type 7: the same fields with version 2 or more,
 * then `ticket length (2) || ticket`, SPEC §4.6); see {@linkcode encodeClientHello}.
 *
 * @example Refuses bytes that are not ovtp
 * ```ts
 * import { decodeClientHello } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeClientHello(new TextEncoder().encode("GET / HTTP/1.1")), ProtocolError);
 * ```
 */
export function decodeClientHello(body: Uint8Array): ClientHello {
  const what = "ClientHello";
  const reader = new ByteReader(body, what);
  const resuming = body[0] === HandshakeType.resumeHello;
  readType(reader, resuming ? HandshakeType.resumeHello : HandshakeType.clientHello, what);
  const magic = reader.bytes(4, "magic");
  if (!magic.every((byte, i) => byte === protocolMagic[i])) {
    throw new ProtocolError(`Cannot decode ${what}: the peer does not speak ovtp`);
  }
  const hello: ClientHello = readHelloFields(reader);
  if (resuming) {
    hello.ticket = reader.bytes16("ticket", maxTicketBytes).slice();
    if (hello.ticket.length === 0) {
      throw new ProtocolError(`Cannot decode ${what}: empty ticket`);
    }
    if (hello.version < resumptionVersion) {
      throw new ProtocolError(
        `Cannot decode ${what}: a ResumeHello needs version ${resumptionVersion} or more, got ${hello.version}`,
      );
    }
  }
  reader.end();
  checkParameters(what, hello);
  return hello;
}

/**
 * Encodes a ServerResumed: `type (1) = 8 || version (2) || nonce (32) || ephemeral (32) ||
 * maxRecordBytes (4) || rekeyRecords (4) || maxStreams (4)`, 79 bytes (SPEC §4.6).
 *
 * @example Round trip
 * ```ts
 * import { decodeServerResumed, encodeServerResumed } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const hello = {
 *   version: 2,
 *   nonce: new Uint8Array(32).fill(3),
 *   ephemeralKey: new Uint8Array(32).fill(4),
 *   maxRecordBytes: 65536,
 *   rekeyRecords: 4096,
 *   maxStreams: 8,
 * };
 * const bytes = encodeServerResumed(hello);
 * assert.equal(bytes.length, 79);
 * assert.deepEqual(decodeServerResumed(bytes), hello);
 * ```
 */
export function encodeServerResumed(hello: ServerResumed): Uint8Array {
  return writeHelloFields(new ByteWriter().u8(HandshakeType.serverResumed), hello).finish();
}

/**
 * What every hello shares (ClientHello and ResumeHello after their magic, ServerHello and
 * ServerResumed after their type): `version (2) || nonce (32) || ephemeral (32) ||
 * maxRecordBytes (4) || rekeyRecords (4) || maxStreams (4)`.
 */
function writeHelloFields(writer: ByteWriter, hello: ServerResumed): ByteWriter {
  return writer
    .u16(hello.version)
    .bytes(exact(hello.nonce, handshakeNonceBytes, "nonce"))
    .bytes(exact(hello.ephemeralKey, ephemeralKeyBytes, "ephemeral key"))
    .u32(hello.maxRecordBytes)
    .u32(hello.rekeyRecords)
    .u32(hello.maxStreams);
}

/** Reads the fields {@linkcode writeHelloFields} writes. */
function readHelloFields(reader: ByteReader): ServerResumed {
  return {
    version: reader.u16("version"),
    nonce: reader.bytes(handshakeNonceBytes, "nonce").slice(),
    ephemeralKey: reader.bytes(ephemeralKeyBytes, "ephemeral key").slice(),
    maxRecordBytes: reader.u32("record limit"),
    rekeyRecords: reader.u32("rekey interval"),
    maxStreams: reader.u32("stream limit"),
  };
}

/**
 * Decodes a ServerResumed; see {@linkcode encodeServerResumed} for the layout.
 *
 * @example Trailing bytes are refused
 * ```ts
 * import { decodeServerResumed } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array(80);
 * bytes[0] = 8;
 * assert.throws(() => decodeServerResumed(bytes), ProtocolError);
 * ```
 */
export function decodeServerResumed(body: Uint8Array): ServerResumed {
  const what = "ServerResumed";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.serverResumed, what);
  const hello = readHelloFields(reader);
  reader.end();
  checkParameters(what, hello);
  return hello;
}

/**
 * Encodes a ClientFinished: `type (1) = 9 || verify (32)`, the client's proof of the resumption
 * secret (SPEC §4.6).
 *
 * @example Round trip
 * ```ts
 * import { decodeClientFinished, encodeClientFinished } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const verify = new Uint8Array(32).fill(9);
 * assert.deepEqual(decodeClientFinished(encodeClientFinished(verify)), verify);
 * ```
 */
export function encodeClientFinished(verifyData: Uint8Array): Uint8Array {
  return new ByteWriter()
    .u8(HandshakeType.clientFinished)
    .bytes(exact(verifyData, finishedBytes, "verify data"))
    .finish();
}

/**
 * Decodes a ClientFinished; see {@linkcode encodeClientFinished} for the layout.
 *
 * @example A short one is refused
 * ```ts
 * import { decodeClientFinished } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeClientFinished(new Uint8Array([9, 1])), ProtocolError);
 * ```
 */
export function decodeClientFinished(body: Uint8Array): Uint8Array {
  const what = "ClientFinished";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.clientFinished, what);
  const verifyData = reader.bytes(finishedBytes, "verify data").slice();
  reader.end();
  return verifyData;
}

/**
 * Encodes the plaintext of a ticket box: `lifetimeSeconds (4) || ticket` (SPEC §4.6).
 *
 * @example Round trip
 * ```ts
 * import { decodeNewTicket, encodeNewTicket } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const ticket = { lifetimeSeconds: 86400, ticket: new Uint8Array(136).fill(1) };
 * assert.deepEqual(decodeNewTicket(encodeNewTicket(ticket)), ticket);
 * ```
 */
export function encodeNewTicket(message: NewTicket): Uint8Array {
  if (message.ticket.length < 1 || message.ticket.length > maxTicketBytes) {
    throw new RangeError(
      `Cannot encode ticket: ${message.ticket.length} bytes, expected 1 to ${maxTicketBytes}`,
    );
  }
  return new ByteWriter().u32(message.lifetimeSeconds).bytes(message.ticket).finish();
}

/**
 * Decodes the plaintext of a ticket box; see {@linkcode encodeNewTicket} for the layout.
 *
 * @example A box without a ticket is refused
 * ```ts
 * import { decodeNewTicket } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeNewTicket(new Uint8Array(4)), ProtocolError);
 * ```
 */
export function decodeNewTicket(plaintext: Uint8Array): NewTicket {
  const what = "ticket box";
  const reader = new ByteReader(plaintext, what);
  const lifetimeSeconds = reader.u32("lifetime");
  const ticket = reader.rest().slice();
  if (ticket.length < 1 || ticket.length > maxTicketBytes) {
    throw new ProtocolError(
      `Cannot decode ${what}: ticket of ${ticket.length} bytes, expected 1 to ${maxTicketBytes}`,
    );
  }
  return { lifetimeSeconds, ticket };
}

/**
 * Encodes a ServerHello:
 * `type (1) = 2 || version (2) || nonce (32) || ephemeral (32) || maxRecordBytes (4) ||
 * rekeyRecords (4) || maxStreams (4) || spki length (2) || spki`.
 *
 * @example Round trip
 * ```ts
 * import { decodeServerHello, encodeServerHello } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const hello = {
 *   version: 1,
 *   nonce: new Uint8Array(32),
 *   ephemeralKey: new Uint8Array(32),
 *   maxRecordBytes: 65536,
 *   rekeyRecords: 4096,
 *   maxStreams: 1,
 *   spki: new Uint8Array([48, 0]),
 * };
 * assert.deepEqual(decodeServerHello(encodeServerHello(hello)), hello);
 * ```
 */
export function encodeServerHello(hello: ServerHello): Uint8Array {
  return writeHelloFields(new ByteWriter().u8(HandshakeType.serverHello), hello)
    .bytes16(hello.spki)
    .finish();
}

/**
 * Decodes a ServerHello; see {@linkcode encodeServerHello} for the layout.
 *
 * @example A truncated message is a ProtocolError
 * ```ts
 * import { decodeServerHello } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeServerHello(new Uint8Array([2, 0, 1])), ProtocolError);
 * ```
 */
export function decodeServerHello(body: Uint8Array): ServerHello {
  const what = "ServerHello";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.serverHello, what);
  const hello: ServerHello = {
    ...readHelloFields(reader),
    spki: reader.bytes16("server key", maxSpkiBytes).slice(),
  };
  reader.end();
  checkParameters(what, hello);
  return hello;
}

/**
 * Encodes a ClientSecret: `type (1) = 3 || wrapped length (2) || wrapped secret`.
 *
 * @example Round trip
 * ```ts
 * import { decodeClientSecret, encodeClientSecret } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const secret = { wrappedSecret: new Uint8Array(384) };
 * assert.deepEqual(decodeClientSecret(encodeClientSecret(secret)), secret);
 * ```
 */
export function encodeClientSecret(message: ClientSecret): Uint8Array {
  return new ByteWriter()
    .u8(HandshakeType.clientSecret)
    .bytes16(message.wrappedSecret)
    .finish();
}

/**
 * Decodes a ClientSecret; see {@linkcode encodeClientSecret} for the layout.
 *
 * @example An oversized wrapped secret is refused
 * ```ts
 * import { decodeClientSecret, encodeClientSecret } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeClientSecret({ wrappedSecret: new Uint8Array(2000) });
 * assert.throws(() => decodeClientSecret(bytes), ProtocolError);
 * ```
 */
export function decodeClientSecret(body: Uint8Array): ClientSecret {
  const what = "ClientSecret";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.clientSecret, what);
  const wrappedSecret = reader.bytes16("wrapped secret", maxRsaValueBytes).slice();
  reader.end();
  return { wrappedSecret };
}

/**
 * Encodes a ClientAuth: `type (1) = 4 || sealed`, where `sealed` runs to the end of the frame.
 *
 * @example Round trip
 * ```ts
 * import { decodeClientAuth, encodeClientAuth } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const auth = { sealed: new Uint8Array(40) };
 * assert.deepEqual(decodeClientAuth(encodeClientAuth(auth)), auth);
 * ```
 */
export function encodeClientAuth(auth: ClientAuth): Uint8Array {
  return new ByteWriter().u8(HandshakeType.clientAuth).bytes(auth.sealed).finish();
}

/**
 * Decodes a ClientAuth; see {@linkcode encodeClientAuth} for the layout.
 *
 * @example The sealed part needs at least its tag
 * ```ts
 * import { decodeClientAuth } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeClientAuth(new Uint8Array([4, 1, 2])), ProtocolError);
 * ```
 */
export function decodeClientAuth(body: Uint8Array): ClientAuth {
  const what = "ClientAuth";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.clientAuth, what);
  const sealed = reader.rest().slice();
  if (sealed.length < 16) {
    throw new ProtocolError(`Cannot decode ${what}: sealed part is shorter than its tag`);
  }
  return { sealed };
}

/**
 * Encodes the plaintext sealed inside ClientAuth:
 * `spki length (2) || spki || signature length (2) || signature`.
 *
 * @example Round trip
 * ```ts
 * import { decodeClientAuthInner, encodeClientAuthInner } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const inner = { spki: new Uint8Array([1, 2]), signature: new Uint8Array([3]) };
 * assert.deepEqual(decodeClientAuthInner(encodeClientAuthInner(inner)), inner);
 * ```
 */
export function encodeClientAuthInner(inner: ClientAuthInner): Uint8Array {
  return new ByteWriter().bytes16(inner.spki).bytes16(inner.signature).finish();
}

/**
 * Decodes the plaintext sealed inside ClientAuth.
 *
 * @example Trailing bytes are refused
 * ```ts
 * import { decodeClientAuthInner } from "./handshake_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeClientAuthInner(new Uint8Array([0, 0, 0, 0, 9])), ProtocolError);
 * ```
 */
export function decodeClientAuthInner(plaintext: Uint8Array): ClientAuthInner {
  const reader = new ByteReader(plaintext, "ClientAuth (sealed part)");
  const inner = {
    spki: reader.bytes16("client key", maxSpkiBytes).slice(),
    signature: reader.bytes16("signature", maxRsaValueBytes).slice(),
  };
  reader.end();
  return inner;
}

/**
 * Encodes a ServerFinished: `type (1) = 5 || verify data (32) || ticket box (rest, version 2
 * only, optional)`; the box is `AEAD(k_box, 0^12, NewTicket, "")` (SPEC §4.6).
 *
 * @example Round trip
 * ```ts
 * import { decodeServerFinished, encodeServerFinished } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const verifyData = new Uint8Array(32).fill(5);
 * assert.deepEqual(decodeServerFinished(encodeServerFinished({ verifyData })), { verifyData });
 * const ticketBox = new Uint8Array(60);
 * assert.deepEqual(decodeServerFinished(encodeServerFinished({ verifyData, ticketBox })), {
 *   verifyData,
 *   ticketBox,
 * });
 * ```
 */
export function encodeServerFinished(message: ServerFinished): Uint8Array {
  const writer = new ByteWriter()
    .u8(HandshakeType.serverFinished)
    .bytes(exact(message.verifyData, finishedBytes, "verify data"));
  if (message.ticketBox !== undefined) writer.bytes(message.ticketBox);
  return writer.finish();
}

/**
 * Decodes a ServerFinished. A Refused message in its place is returned as a reason instead.
 *
 * @example A refusal
 * ```ts
 * import { decodeServerFinished, encodeRefused, RefusalReason } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const result = decodeServerFinished(encodeRefused(RefusalReason.authentication));
 * assert.deepEqual(result, { refused: RefusalReason.authentication });
 * ```
 */
export function decodeServerFinished(
  body: Uint8Array,
): ServerFinished | { refused: RefusalReason } {
  const refused = decodeRefusedIfAny(body);
  if (refused !== undefined) return { refused };
  const what = "ServerFinished";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.serverFinished, what);
  const verifyData = reader.bytes(finishedBytes, "verify data").slice();
  const box = reader.rest();
  if (box.length === 0) return { verifyData };
  const maxBoxBytes = lifetimeFieldBytes + maxTicketBytes + tagBytes;
  if (box.length < lifetimeFieldBytes + 1 + tagBytes || box.length > maxBoxBytes) {
    throw new ProtocolError(
      `Cannot decode ${what}: ticket box of ${box.length} bytes, expected ${
        lifetimeFieldBytes + 1 + tagBytes
      } to ${maxBoxBytes}`,
    );
  }
  return { verifyData, ticketBox: box.slice() };
}

/**
 * Encodes a Refused message: `type (1) = 6 || reason (1)`.
 *
 * @example Two bytes
 * ```ts
 * import { encodeRefused, RefusalReason } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(encodeRefused(RefusalReason.busy), new Uint8Array([6, 3]));
 * ```
 */
export function encodeRefused(reason: RefusalReason): Uint8Array {
  return Uint8Array.of(HandshakeType.refused, reason);
}

/**
 * Returns the reason when `body` is a well-formed Refused message, else `undefined`. An
 * unknown reason byte is reported as a protocol refusal.
 *
 * @example Not a refusal
 * ```ts
 * import { decodeRefusedIfAny } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeRefusedIfAny(new Uint8Array([2, 0])), undefined);
 * ```
 */
export function decodeRefusedIfAny(body: Uint8Array): RefusalReason | undefined {
  if (body.length !== 2 || body[0] !== HandshakeType.refused) return undefined;
  const known = Object.values(RefusalReason) as number[];
  return (known.includes(body[1]) ? body[1] : RefusalReason.protocol) as RefusalReason;
}

function exact(bytes: Uint8Array, length: number, field: string): Uint8Array {
  if (bytes.length !== length) {
    throw new RangeError(`Cannot encode ${field}: ${bytes.length} bytes, expected ${length}`);
  }
  return bytes;
}
