/**
 * The settings both endpoints share, in one place: their options, their defaults, and the one
 * check that fills and validates them (the model is js-libp2p-yamux's `defaultConfig` and
 * `verifyConfig()`). `OvtpClient` and `OvtpServer` call {@linkcode resolveSessionSettings} once;
 * everything below them (handshake, channel, message exchange) takes the resolved figures.
 *
 * @module
 */

import { maxRekeyRecords, minRekeyRecords } from "../wire/handshake_codec.ts";

/** Settings shared by both endpoints: record sizes, timeouts and channel limits. */
export interface SessionOptions {
  /** Largest record plaintext we accept (announced in the hello). Default 1 MiB + 1 KiB. */
  maxRecordBytes?: number;
  /** Records we send under one key before updating it (announced). Default 2^23. */
  rekeyRecords?: number;
  /** Time allowed for the handshake. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Ping after this much silence. Default 15 s. */
  keepaliveMs?: number;
  /** Close after this much silence. Default 60 s. */
  idleTimeoutMs?: number;
  /** Streams the peer may have open towards us at once (announced in the hello). Default 256. */
  maxStreams?: number;
  /** Largest message body (or reply) accepted. Default 16 MiB. */
  maxMessageBytes?: number;
}

/** {@linkcode SessionOptions} with every field filled and checked. */
export type SessionSettings = Readonly<Required<SessionOptions>>;

/** Default largest record plaintext we accept: 1 MiB of data plus room for record headers. */
export const defaultMaxRecordBytes: number = 1024 * 1024 + 1024;
/** Default records per key before a key update (well below AES-GCM's 2^24.5 limit). */
export const defaultRekeyRecords: number = 1 << 23;
/** Default time allowed for a handshake. */
export const defaultHandshakeTimeoutMs: number = 10_000;
/** Default interval of silence after which we ping the peer. */
export const defaultKeepaliveMs: number = 15_000;
/** Default interval of silence after which the peer is taken for dead. */
export const defaultIdleTimeoutMs: number = 60_000;
/** Default number of streams the peer may have open towards us at once. */
export const defaultMaxStreams: number = 256;
/** Default largest message or response body accepted. */
export const defaultMaxMessageBytes: number = 16 * 1024 * 1024;

/** Every default of {@linkcode SessionOptions}. */
export const sessionDefaults: SessionSettings = Object.freeze({
  maxRecordBytes: defaultMaxRecordBytes,
  rekeyRecords: defaultRekeyRecords,
  handshakeTimeoutMs: defaultHandshakeTimeoutMs,
  keepaliveMs: defaultKeepaliveMs,
  idleTimeoutMs: defaultIdleTimeoutMs,
  maxStreams: defaultMaxStreams,
  maxMessageBytes: defaultMaxMessageBytes,
});

/** The range each setting must lie in (SPEC.md 4.1 for the announced ones). */
const ranges: Readonly<Record<keyof SessionOptions, readonly [number, number]>> = {
  maxRecordBytes: [16_384, 16_777_216],
  rekeyRecords: [minRekeyRecords, maxRekeyRecords],
  handshakeTimeoutMs: [1, 3_600_000],
  keepaliveMs: [1, 86_400_000],
  idleTimeoutMs: [1, 86_400_000],
  maxStreams: [1, 65_536],
  maxMessageBytes: [0, 2 ** 31 - 1],
};

/**
 * Fills every unset field of `options` with its default and checks every figure against its
 * range, once, for both endpoints.
 *
 * @throws {RangeError} A setting that is not an integer in its range; the message names it.
 *
 * @example Defaults, an override, and a refusal
 * ```ts
 * import { resolveSessionSettings } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const settings = resolveSessionSettings({ handshakeTimeoutMs: 200 });
 * assert.equal(settings.handshakeTimeoutMs, 200);
 * assert.equal(settings.maxStreams, 256);
 * assert.throws(() => resolveSessionSettings({ rekeyRecords: 5 }), RangeError);
 * ```
 */
export function resolveSessionSettings(options: SessionOptions = {}): SessionSettings {
  const settings = { ...sessionDefaults } as Required<SessionOptions>;
  for (const name of Object.keys(ranges) as (keyof SessionOptions)[]) {
    const value = options[name];
    if (value === undefined) continue;
    const [min, max] = ranges[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new RangeError(
        `The setting ${name} must be an integer from ${min} to ${max}, got ${value}`,
      );
    }
    settings[name] = value;
  }
  return Object.freeze(settings);
}
