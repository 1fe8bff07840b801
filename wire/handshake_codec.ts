/**
 * Encoding and decoding of the five handshake messages (SPEC.md, "Handshake messages"). Pure
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

/** The protocol version this implementation speaks. */
export const protocolVersion = 1;
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

/** First message, client to server. */
export interface ClientHello extends HelloParameters {
  /** Highest protocol version the client speaks. */
  version: number;
  /** 32 fresh random bytes. */
  nonce: Uint8Array;
  /** The client's ephemeral X25519 public key. */
  ephemeralKey: Uint8Array;
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
  return new ByteWriter()
    .u8(HandshakeType.clientHello)
    .bytes(protocolMagic)
    .u16(hello.version)
    .bytes(exact(hello.nonce, handshakeNonceBytes, "nonce"))
    .bytes(exact(hello.ephemeralKey, ephemeralKeyBytes, "ephemeral key"))
    .u32(hello.maxRecordBytes)
    .u32(hello.rekeyRecords)
    .u32(hello.maxStreams)
    .finish();
}

/**
 * Decodes a ClientHello; see {@linkcode encodeClientHello} for the layout.
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
  readType(reader, HandshakeType.clientHello, what);
  const magic = reader.bytes(4, "magic");
  if (!magic.every((byte, i) => byte === protocolMagic[i])) {
    throw new ProtocolError(`Cannot decode ${what}: the peer does not speak ovtp`);
  }
  const hello: ClientHello = {
    version: reader.u16("version"),
    nonce: reader.bytes(handshakeNonceBytes, "nonce").slice(),
    ephemeralKey: reader.bytes(ephemeralKeyBytes, "ephemeral key").slice(),
    maxRecordBytes: reader.u32("record limit"),
    rekeyRecords: reader.u32("rekey interval"),
    maxStreams: reader.u32("stream limit"),
  };
  reader.end();
  checkParameters(what, hello);
  return hello;
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
  return new ByteWriter()
    .u8(HandshakeType.serverHello)
    .u16(hello.version)
    .bytes(exact(hello.nonce, handshakeNonceBytes, "nonce"))
    .bytes(exact(hello.ephemeralKey, ephemeralKeyBytes, "ephemeral key"))
    .u32(hello.maxRecordBytes)
    .u32(hello.rekeyRecords)
    .u32(hello.maxStreams)
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
    version: reader.u16("version"),
    nonce: reader.bytes(handshakeNonceBytes, "nonce").slice(),
    ephemeralKey: reader.bytes(ephemeralKeyBytes, "ephemeral key").slice(),
    maxRecordBytes: reader.u32("record limit"),
    rekeyRecords: reader.u32("rekey interval"),
    maxStreams: reader.u32("stream limit"),
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
 * Encodes a ServerFinished: `type (1) = 5 || verify data (32)`.
 *
 * @example Round trip
 * ```ts
 * import { decodeServerFinished, encodeServerFinished } from "./handshake_codec.ts";
 * import assert from "node:assert/strict";
 *
 * const verify = new Uint8Array(32).fill(5);
 * assert.deepEqual(decodeServerFinished(encodeServerFinished(verify)), verify);
 * ```
 */
export function encodeServerFinished(verifyData: Uint8Array): Uint8Array {
  return new ByteWriter()
    .u8(HandshakeType.serverFinished)
    .bytes(exact(verifyData, finishedBytes, "verify data"))
    .finish();
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
): Uint8Array | { refused: RefusalReason } {
  const refused = decodeRefusedIfAny(body);
  if (refused !== undefined) return { refused };
  const what = "ServerFinished";
  const reader = new ByteReader(body, what);
  readType(reader, HandshakeType.serverFinished, what);
  const verifyData = reader.bytes(finishedBytes, "verify data").slice();
  reader.end();
  return verifyData;
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
