/**
 * The server's session ticket keys (SPEC §4.6, SECURITY.md "Session tickets"): the AES-256-GCM
 * keys that seal what a ticket carries (issue time, resumption secret, both key fingerprints),
 * rotated every ticket lifetime with the previous key kept to open older tickets, and persisted
 * mode 0600 so that tickets survive a restart. Only the server reads a ticket; to the client it
 * is opaque bytes. `OvtpServer` makes one and `serverHandshake()` seals and opens tickets with it.
 *
 * @module
 */

import { dirname } from "node:path";
import { KeyFileError } from "../errors.ts";
import { ByteReader, ByteWriter } from "../wire/_bytes.ts";
import { aesGcmNonceBytes, aesGcmOpen, aesGcmSeal, importAesGcmKey } from "./aes_gcm.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { assertOwnerOnly, describeFileError } from "./_file.ts";
import { randomBytes } from "./random.ts";

/** Default time a ticket may be used after it was issued, and the ticket key's rotation period. */
export const defaultTicketLifetimeMs: number = 24 * 60 * 60 * 1000;
/** Longest ticket lifetime a server may set: 7 days, as TLS 1.3 allows (RFC 8446 §4.6.1). */
export const maxTicketLifetimeMs: number = 7 * 24 * 60 * 60 * 1000;
/** Size of a ticket key and of a ticket's secrets and fingerprints. */
const ticketSecretBytes = 32;
/** Size of a ticket key's identifier at the start of every ticket. */
const keyIdBytes = 4;
/** A ticket issued up to this far in the future (clock steps) is still accepted. */
const clockSkewMs = 60_000;
const ticketKeyFileMode = 0o600;
const keyDirectoryMode = 0o700;
const linePrefix = "ovtp-ticket-key";

/** What a ticket carries, sealed: `issuedAtMs (8) || rms (32) || fp(spki_c) (32) || fp(spki_s) (32)`. */
export interface TicketContents {
  /** When the server issued the ticket (milliseconds since 1970). */
  issuedAtMs: number;
  /** The resumption secret (SPEC §4.6). */
  resumptionSecret: Uint8Array;
  /** SHA-256 of the client key's SPKI. */
  clientFingerprint: Uint8Array;
  /** SHA-256 of the server key's SPKI. */
  serverFingerprint: Uint8Array;
}

/** Options of {@linkcode TicketKeys.load}. */
export interface TicketKeysOptions {
  /** How long a ticket may be used, and how often the key rotates. Default 24 h. */
  lifetimeMs?: number;
  /**
   * Where the keys are kept (created mode 0600, rewritten on each rotation); without it they
   * live in memory only and tickets die with the server.
   */
  file?: string;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

interface TicketKey {
  id: number;
  createdMs: number;
  raw: Uint8Array;
  key: CryptoKey;
}

/**
 * The server's ticket keys: seals ticket contents under the current key and opens tickets
 * sealed under it or under the previous one. A ticket that is unknown, tampered with, expired or
 * not from this key set opens to `undefined`, whatever the reason, so every rejected ticket
 * falls back to the full handshake the same way.
 *
 * Ticket layout (only this server reads it): `keyId (4) || nonce (12) || AEAD(key[keyId], nonce,
 * contents, aad = keyId)`, 136 bytes.
 *
 * @example Seal and open a ticket; a changed byte does not open
 * ```ts
 * import { TicketKeys } from "./ticket_keys.ts";
 * import assert from "node:assert/strict";
 *
 * const keys = await TicketKeys.load({});
 * const contents = {
 *   issuedAtMs: Date.now(),
 *   resumptionSecret: new Uint8Array(32).fill(1),
 *   clientFingerprint: new Uint8Array(32).fill(2),
 *   serverFingerprint: new Uint8Array(32).fill(3),
 * };
 * const ticket = await keys.seal(contents);
 * assert.deepEqual(await keys.open(ticket), contents);
 * ticket[20] ^= 1;
 * assert.equal(await keys.open(ticket), undefined);
 * ```
 */
export class TicketKeys {
  /** How long a ticket may be used after it was issued. */
  readonly lifetimeMs: number;
  #file: string | undefined;
  #now: () => number;
  /** Newest first: the current key, then at most the previous one. */
  #keys: TicketKey[];
  #rotating: Promise<void> | undefined;

  private constructor(
    keys: TicketKey[],
    lifetimeMs: number,
    file: string | undefined,
    now: () => number,
  ) {
    this.#keys = keys;
    this.lifetimeMs = lifetimeMs;
    this.#file = file;
    this.#now = now;
  }

  /**
   * Loads the keys from `options.file` (creating it, mode 0600, when missing) or makes an
   * in-memory key.
   *
   * @throws {KeyFileError} The file cannot be read or written, is malformed, or group or others
   * may access it (run `chmod 600` on it).
   * @throws {RangeError} `lifetimeMs` is not an integer from 1 ms to 7 days.
   */
  static async load(options: TicketKeysOptions = {}): Promise<TicketKeys> {
    const lifetimeMs = TicketKeys.checkLifetimeMs(options.lifetimeMs);
    const now = options.now ?? Date.now;
    const keys = options.file === undefined ? [] : await readKeyFile(options.file);
    const ticketKeys = new TicketKeys(keys, lifetimeMs, options.file, now);
    if (keys.length === 0) await ticketKeys.#rotate();
    return ticketKeys;
  }

  /**
   * Checks a ticket lifetime setting and fills in the default (24 h).
   *
   * @throws {RangeError} Not an integer from 1 ms to 7 days.
   */
  static checkLifetimeMs(lifetimeMs: number = defaultTicketLifetimeMs): number {
    if (!Number.isSafeInteger(lifetimeMs) || lifetimeMs < 1 || lifetimeMs > maxTicketLifetimeMs) {
      throw new RangeError(
        `The setting ticketLifetimeMs must be an integer from 1 to ${maxTicketLifetimeMs}, got ${lifetimeMs}`,
      );
    }
    return lifetimeMs;
  }

  /** Seals `contents` into a fresh ticket under the current key, rotating it first if due. */
  async seal(contents: TicketContents): Promise<Uint8Array> {
    if (this.#now() - this.#keys[0].createdMs >= this.lifetimeMs) {
      this.#rotating ??= this.#rotate().finally(() => this.#rotating = undefined);
      await this.#rotating;
    }
    const current = this.#keys[0];
    const id = new ByteWriter().u32(current.id).finish();
    const nonce = randomBytes(aesGcmNonceBytes);
    const plaintext = new ByteWriter()
      .u64(contents.issuedAtMs)
      .bytes(exact(contents.resumptionSecret, "resumption secret"))
      .bytes(exact(contents.clientFingerprint, "client fingerprint"))
      .bytes(exact(contents.serverFingerprint, "server fingerprint"))
      .finish();
    const sealed = await aesGcmSeal(current.key, nonce, plaintext, id);
    plaintext.fill(0);
    return new ByteWriter().bytes(id).bytes(nonce).bytes(sealed).finish();
  }

  /**
   * Opens a ticket: `undefined` when its key is unknown (rotated out, another server), it was
   * changed, it is malformed, or it is older than the lifetime (or issued in the future).
   */
  async open(ticket: Uint8Array): Promise<TicketContents | undefined> {
    if (ticket.length < keyIdBytes + aesGcmNonceBytes + 16) return undefined;
    const id = new DataView(ticket.buffer, ticket.byteOffset).getUint32(0);
    const key = this.#keys.find((candidate) => candidate.id === id);
    if (key === undefined) return undefined;
    let plaintext: Uint8Array;
    try {
      plaintext = await aesGcmOpen(
        key.key,
        ticket.subarray(keyIdBytes, keyIdBytes + aesGcmNonceBytes),
        ticket.subarray(keyIdBytes + aesGcmNonceBytes),
        ticket.subarray(0, keyIdBytes),
      );
    } catch {
      return undefined;
    }
    try {
      const reader = new ByteReader(plaintext, "ticket");
      const contents: TicketContents = {
        issuedAtMs: reader.u64("issue time"),
        resumptionSecret: reader.bytes(ticketSecretBytes, "resumption secret").slice(),
        clientFingerprint: reader.bytes(ticketSecretBytes, "client fingerprint").slice(),
        serverFingerprint: reader.bytes(ticketSecretBytes, "server fingerprint").slice(),
      };
      reader.end();
      const ageMs = this.#now() - contents.issuedAtMs;
      if (ageMs >= this.lifetimeMs || ageMs < -clockSkewMs) return undefined;
      return contents;
    } catch {
      return undefined;
    } finally {
      plaintext.fill(0);
    }
  }

  /** Makes a new current key, keeps the previous one, and saves both when there is a file. */
  async #rotate(): Promise<void> {
    const raw = randomBytes(ticketSecretBytes);
    let id: number;
    do {
      id = new DataView(randomBytes(keyIdBytes).buffer).getUint32(0);
    } while (this.#keys.some((key) => key.id === id));
    const fresh = { id, createdMs: this.#now(), raw, key: await importAesGcmKey(raw) };
    const keys = [fresh, ...this.#keys.slice(0, 1)];
    if (this.#file !== undefined) await writeKeyFile(this.#file, keys);
    this.#keys = keys;
  }
}

function exact(bytes: Uint8Array, field: string): Uint8Array {
  if (bytes.length !== ticketSecretBytes) {
    throw new RangeError(`Cannot seal ticket: ${field} is ${bytes.length} bytes, expected 32`);
  }
  return bytes;
}

/** Reads `ovtp-ticket-key <id> <createdMs> <base64 key>` lines; a missing file gives none. */
async function readKeyFile(path: string): Promise<TicketKey[]> {
  let text: string;
  try {
    if (Deno.build.os !== "windows") {
      const info = await Deno.stat(path);
      if (info.mode !== null) assertOwnerOnly(path, info.mode, "Ticket key file");
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(
      `Cannot read ticket key file "${path}": ${describeFileError(error)}`,
      { cause: error },
    );
  }
  const keys: TicketKey[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    const [prefix, id, createdMs, base64, ...rest] = line.trim().split(/\s+/);
    let raw: Uint8Array | undefined;
    try {
      raw = base64 === undefined ? undefined : decodeBase64(base64);
    } catch {
      raw = undefined;
    }
    if (
      prefix !== linePrefix || rest.length > 0 || !/^\d+$/.test(id ?? "") ||
      !/^\d+$/.test(createdMs ?? "") || raw?.length !== ticketSecretBytes ||
      Number(id) > 0xffffffff
    ) {
      throw new KeyFileError(
        `Ticket key file "${path}" line ${index + 1} is malformed; remove the file to start ` +
          `with a new key (clients then make one full handshake)`,
      );
    }
    keys.push({
      id: Number(id),
      createdMs: Number(createdMs),
      raw,
      key: await importAesGcmKey(raw),
    });
  }
  return keys.sort((a, b) => b.createdMs - a.createdMs).slice(0, 2);
}

/** Writes the keys to a new file beside `path`, mode 0600, and renames it into place. */
async function writeKeyFile(path: string, keys: readonly TicketKey[]): Promise<void> {
  const text = keys
    .map((key) => `${linePrefix} ${key.id} ${key.createdMs} ${encodeBase64(key.raw)}\n`)
    .join("");
  const temporary = `${path}.${encodeBase64(randomBytes(6)).replace(/[+/=]/g, "_")}.tmp`;
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: keyDirectoryMode });
    await Deno.writeTextFile(temporary, text, { mode: ticketKeyFileMode, createNew: true });
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, ticketKeyFileMode);
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new KeyFileError(
      `Cannot write ticket key file "${path}": ${describeFileError(error)}`,
      { cause: error },
    );
  }
}
