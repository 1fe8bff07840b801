/**
 * The key schedule (SPEC.md §5, and §4.6 for resumption): everything derived from the X25519
 * secret, the RSA-OAEP wrapped secret (or, resuming, the ticket's resumption secret) and the
 * transcript. Small async functions over bytes.
 *
 * @module
 */

import { hkdf } from "../crypto/hkdf.ts";
import { importHkdfKey } from "../crypto/hkdf_key.ts";
import { sha256 } from "../crypto/sha256.ts";
import { importAesGcmKey } from "../crypto/aes_gcm.ts";
import { concatBytes, utf8Encoder } from "../wire/_bytes.ts";
import { writeFrameHeader } from "../wire/frame.ts";

/** Size of every secret and key in the schedule. */
export const secretBytes = 32;
/** Size of the per-epoch IV that record nonces are built from. */
export const ivBytes = 12;

const emptySalt = new Uint8Array(0);
/** Every HKDF label of the schedule, encoded once. */
const labels = {
  clientAuth: utf8Encoder.encode("ovtp/1 client auth"),
  serverFinished: utf8Encoder.encode("ovtp/1 server finished"),
  c2sTraffic: utf8Encoder.encode("ovtp/1 c2s traffic"),
  s2cTraffic: utf8Encoder.encode("ovtp/1 s2c traffic"),
  key: utf8Encoder.encode("ovtp/1 key"),
  iv: utf8Encoder.encode("ovtp/1 iv"),
  next: utf8Encoder.encode("ovtp/1 next"),
  resumption: utf8Encoder.encode("ovtp/2 resumption"),
  ticketBox: utf8Encoder.encode("ovtp/2 ticket box"),
  resumedKeys: utf8Encoder.encode("ovtp/2 resumed keys"),
};

/**
 * `ikm` as the HKDF key all its outputs are derived from: one import per secret, however many
 * outputs. A key is passed through.
 */
function hkdfKeyOf(ikm: Uint8Array | CryptoKey): Promise<CryptoKey> {
  return ikm instanceof Uint8Array ? importHkdfKey(ikm) : Promise.resolve(ikm);
}

/** Context string that starts the input the client signs. */
export const clientSignatureContext: Uint8Array = utf8Encoder.encode(
  "ovtp/1 client signature\0",
);

/**
 * SHA-256 over handshake messages, each as it was framed on the wire (4-byte length, body).
 *
 * @example The hash covers the framing
 * ```ts
 * import { transcriptHash } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const a = await transcriptHash([new Uint8Array([1, 2])]);
 * const b = await transcriptHash([new Uint8Array([1]), new Uint8Array([2])]);
 * assert.notDeepEqual(a, b);
 * ```
 */
export function transcriptHash(messages: readonly Uint8Array[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const message of messages) {
    const header = new Uint8Array(4);
    writeFrameHeader(header, message.length);
    parts.push(header, message);
  }
  return sha256(concatBytes(parts));
}

/**
 * The input keying material: `X25519 shared secret (32) || unwrapped client secret (32)`.
 *
 * @example Both halves are needed
 * ```ts
 * import { handshakeIkm } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(handshakeIkm(new Uint8Array(32), new Uint8Array(32)).length, 64);
 * ```
 */
export function handshakeIkm(ecdhSecret: Uint8Array, clientSecret: Uint8Array): Uint8Array {
  if (ecdhSecret.length !== secretBytes || clientSecret.length !== secretBytes) {
    throw new RangeError("handshakeIkm() needs two 32-byte secrets");
  }
  return concatBytes([ecdhSecret, clientSecret]);
}

/**
 * The AES-256-GCM key that seals the client's identity and signature inside ClientAuth:
 * `HKDF(ikm, salt = T1, "ovtp/1 client auth", 32)`.
 *
 * @example Derive it
 * ```ts
 * import { clientAuthKey } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const key = await clientAuthKey(new Uint8Array(64), new Uint8Array(32));
 * assert.equal(key.algorithm.name, "AES-GCM");
 * ```
 */
export async function clientAuthKey(
  ikm: Uint8Array | CryptoKey,
  t1: Uint8Array,
): Promise<CryptoKey> {
  const raw = await hkdf(ikm, t1, labels.clientAuth, secretBytes);
  const key = await importAesGcmKey(raw);
  raw.fill(0);
  return key;
}

/**
 * The input keying material of a resumed handshake (SPEC §4.6): `X25519 shared secret (32) ||
 * resumption secret (32)`. Both halves are needed: the resumption secret alone (a stolen ticket
 * key opens it from the ticket) does not give the session keys without the fresh X25519 secret.
 *
 * @example The same layout as a full handshake's ikm
 * ```ts
 * import { resumedIkm } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(resumedIkm(new Uint8Array(32), new Uint8Array(32).fill(1)).length, 64);
 * ```
 */
export function resumedIkm(ecdhSecret: Uint8Array, resumptionSecret: Uint8Array): Uint8Array {
  if (ecdhSecret.length !== secretBytes || resumptionSecret.length !== secretBytes) {
    throw new RangeError("resumedIkm() needs two 32-byte secrets");
  }
  return concatBytes([ecdhSecret, resumptionSecret]);
}

/** What a version-2 handshake derives to issue the next ticket (SPEC §4.6). */
export interface TicketSecrets {
  /** The resumption secret the next ticket carries (the client keeps its own copy). */
  resumption: Uint8Array;
  /** The AES-256-GCM key of the ticket box in ServerFinished. */
  boxKey: CryptoKey;
}

/**
 * Derives the ticket secrets of a full version-2 handshake from its `ikm` and `T2`:
 * `HKDF(ikm, T2, label, 32)` with the labels `ovtp/2 resumption` and `ovtp/2 ticket box`.
 * (A resumed handshake derives its own with {@linkcode resumedSecrets}.)
 *
 * @example Two different values
 * ```ts
 * import { ticketSecrets } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const secrets = await ticketSecrets(new Uint8Array(64), new Uint8Array(32));
 * assert.equal(secrets.resumption.length, 32);
 * assert.equal(secrets.boxKey.algorithm.name, "AES-GCM");
 * ```
 */
export async function ticketSecrets(
  ikm: Uint8Array | CryptoKey,
  t2: Uint8Array,
): Promise<TicketSecrets> {
  const key = await hkdfKeyOf(ikm);
  const [resumption, box] = await Promise.all([
    hkdf(key, t2, labels.resumption, secretBytes),
    hkdf(key, t2, labels.ticketBox, secretBytes),
  ]);
  const boxKey = await importAesGcmKey(box);
  box.fill(0);
  return { resumption, boxKey };
}

/** Everything a resumed handshake derives (SPEC §4.6). */
export interface ResumedSecrets extends SessionSecrets {
  /** The value ClientFinished carries. */
  clientFinished: Uint8Array;
  /** The next ticket's secrets. */
  tickets: TicketSecrets;
}

/** Bytes of `okm_r`: verify, c2s, s2c, verify_c, rms and k_box, 32 bytes each. */
const resumedKeysBytes = 6 * secretBytes;

/**
 * Derives every secret of a resumed handshake from `ikm_r` and `TR` with one HKDF call (SPEC
 * §4.6): `okm_r = HKDF(ikm_r, TR, "ovtp/2 resumed keys", 192)`, cut into `verify (32) ||
 * c2s_secret[0] (32) || s2c_secret[0] (32) || verify_c (32) || rms (32) || k_box (32)`.
 *
 * @example Every part differs
 * ```ts
 * import { resumedSecrets } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const secrets = await resumedSecrets(new Uint8Array(64), new Uint8Array(32));
 * assert.notDeepEqual(secrets.clientToServer, secrets.serverToClient);
 * assert.notDeepEqual(secrets.clientFinished, secrets.finished);
 * assert.notDeepEqual(secrets.tickets.resumption, secrets.clientFinished);
 * ```
 */
export async function resumedSecrets(
  ikmR: Uint8Array | CryptoKey,
  tr: Uint8Array,
): Promise<ResumedSecrets> {
  const okm = await hkdf(ikmR, tr, labels.resumedKeys, resumedKeysBytes);
  const part = (index: number) => okm.slice(index * secretBytes, (index + 1) * secretBytes);
  const box = okm.subarray(5 * secretBytes);
  const boxKey = await importAesGcmKey(box);
  const secrets: ResumedSecrets = {
    finished: part(0),
    clientToServer: part(1),
    serverToClient: part(2),
    clientFinished: part(3),
    tickets: { resumption: part(4), boxKey },
  };
  okm.fill(0);
  return secrets;
}

/** What the handshake hands to the channel. */
export interface SessionSecrets {
  /** The value ServerFinished carries. */
  finished: Uint8Array;
  /** First traffic secret, client to server. */
  clientToServer: Uint8Array;
  /** First traffic secret, server to client. */
  serverToClient: Uint8Array;
}

/**
 * Derives the server's key confirmation and both first traffic secrets from the whole
 * handshake: `HKDF(ikm, salt = T2, label, 32)` with the labels `ovtp/1 server finished`,
 * `ovtp/1 c2s traffic` and `ovtp/1 s2c traffic`.
 *
 * @example Directions get different secrets
 * ```ts
 * import { sessionSecrets } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const secrets = await sessionSecrets(new Uint8Array(64), new Uint8Array(32));
 * assert.notDeepEqual(secrets.clientToServer, secrets.serverToClient);
 * ```
 */
export async function sessionSecrets(
  ikm: Uint8Array | CryptoKey,
  t2: Uint8Array,
): Promise<SessionSecrets> {
  const key = await hkdfKeyOf(ikm);
  const [finished, clientToServer, serverToClient] = await Promise.all([
    hkdf(key, t2, labels.serverFinished, secretBytes),
    hkdf(key, t2, labels.c2sTraffic, secretBytes),
    hkdf(key, t2, labels.s2cTraffic, secretBytes),
  ]);
  return { finished, clientToServer, serverToClient };
}

/** The record protection state of one direction for one key epoch. */
export interface EpochKeys {
  /** AES-256-GCM key for this epoch. */
  key: CryptoKey;
  /** 12-byte IV that record nonces are built from. */
  iv: Uint8Array;
  /**
   * Derives the traffic secret of the next epoch (at the key update only: a connection that
   * never reaches one never derives it).
   */
  next: () => Promise<Uint8Array>;
}

/**
 * Expands a traffic secret into the epoch's key and IV, and ratchets it forward:
 * `key = HKDF(secret, "", "ovtp/1 key", 32)`, `iv = HKDF(secret, "", "ovtp/1 iv", 12)`,
 * `next = HKDF(secret, "", "ovtp/1 next", 32)`. The secret is kept only as a non-extractable
 * HKDF key, for `next`.
 *
 * @example The next secret differs
 * ```ts
 * import { epochKeys } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const secret = new Uint8Array(32).fill(7);
 * const keys = await epochKeys(secret);
 * assert.equal(keys.iv.length, 12);
 * assert.notDeepEqual(await keys.next(), secret);
 * ```
 */
export async function epochKeys(secret: Uint8Array): Promise<EpochKeys> {
  const hkdfKey = await importHkdfKey(secret);
  const [raw, iv] = await Promise.all([
    hkdf(hkdfKey, emptySalt, labels.key, secretBytes),
    hkdf(hkdfKey, emptySalt, labels.iv, ivBytes),
  ]);
  const key = await importAesGcmKey(raw);
  raw.fill(0);
  return { key, iv, next: () => hkdf(hkdfKey, emptySalt, labels.next, secretBytes) };
}

/**
 * The nonce of record number `sequence` (counted per direction from 0, across epochs): the IV
 * XOR-ed with the 64-bit big-endian sequence number in its last 8 bytes, as in TLS 1.3.
 *
 * @example Sequence 1
 * ```ts
 * import { recordNonce } from "./key_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const nonce = recordNonce(new Uint8Array(12), 1);
 * assert.deepEqual(nonce, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
 * ```
 */
export function recordNonce(iv: Uint8Array, sequence: number): Uint8Array {
  if (!Number.isSafeInteger(sequence) || sequence < 0) {
    throw new RangeError(`Record sequence ${sequence} is out of range`);
  }
  const nonce = iv.slice();
  const view = new DataView(nonce.buffer);
  view.setUint32(4, view.getUint32(4) ^ Math.floor(sequence / 2 ** 32));
  view.setUint32(8, view.getUint32(8) ^ (sequence >>> 0));
  return nonce;
}
