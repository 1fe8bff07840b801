/**
 * Our own key: `Identity` (an RSA key pair for signing and unwrapping) and how it is made, saved
 * and loaded (`generateIdentity()`, `saveIdentity()`, `loadIdentity()`, PKCS#8 PEM, mode 0600).
 * Both endpoints take one; the handshake signs and unwraps with it. Over 450 lines, a third of
 * them docs: PEM, PKCS#8 import, saving and loading each have their checks.
 *
 * @module
 */

import { dirname } from "node:path";
import { KeyFileError } from "../errors.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { bufferSource } from "./_buffer_source.ts";
import { rsaPublicExponent } from "./_rsa_key.ts";
import { assertOwnerOnly, describeFileError, type FileContents, readFileUpTo } from "./_file.ts";
import { assertComment, KeyProblem } from "./_key_problem.ts";
import {
  formatPublicKey,
  importPublicKey,
  maxRsaBits,
  minRsaBits,
  parsePublicKey,
  type PublicKey,
} from "./public_key.ts";
import { randomBytes } from "./random.ts";
import { signPss, verifyPss } from "./rsa_pss.ts";
import { timingSafeEqual } from "./timing_safe_equal.ts";

/** RSA modulus length that {@linkcode generateIdentity} uses by default, in bits. */
export const defaultRsaBits = 3072;

const bitsPerByte = 8;
/** An RSA-8192 private key takes about 4.8 KB of PKCS#8. */
const maxPkcs8Bytes = 16_384;
/** Largest private key file read, in bytes (base64 and PEM lines add about a third). */
const maxPrivateKeyFileBytes = 32_768;
/** Largest `.pub` file read when looking for a comment, in bytes. */
const maxPublicKeyFileBytes = 32_768;
const privateKeyFileMode = 0o600;
const publicKeyFileMode = 0o644;
const keyDirectoryMode = 0o700;
const pemBegin = "-----BEGIN PRIVATE KEY-----";
const pemEnd = "-----END PRIVATE KEY-----";
const pemLineChars = 64;
const pemFormat = `expected an unencrypted PKCS#8 key between "${pemBegin}" and "${pemEnd}"`;
const selfTestMessage = new TextEncoder().encode("ovtp identity self-test");

/** Our own key pair: the public key that peers see and the two private keys behind it. */
export interface Identity {
  /** The public half, with its fingerprint and comment. */
  readonly publicKey: PublicKey;
  /** The RSA-PSS SHA-256 private key that signs handshakes. */
  readonly signKey: CryptoKey;
  /** The RSA-OAEP SHA-256 private key (the same RSA key) that decrypts handshake secrets. */
  readonly decryptKey: CryptoKey;
}

/** Options for {@linkcode generateIdentity}. */
export interface GenerateIdentityOptions {
  /**
   * RSA modulus length, in bits: a multiple of 8 from 2048 to 8192.
   *
   * @default {3072}
   */
  bits?: number;
  /**
   * Free text naming the key, one line (`alice@laptop`).
   *
   * @default {""}
   */
  comment?: string;
}

/**
 * Generates a new RSA identity (public exponent 65537). Its `signKey` is extractable, so that
 * {@linkcode saveIdentity} can write it to a file; its `decryptKey` is not.
 *
 * RSA-3072 takes about a second to generate.
 *
 * @param options The key size and comment.
 * @returns The new identity.
 * @throws {RangeError} If `bits` is not a multiple of 8 from 2048 to 8192.
 * @throws {TypeError} If `comment` has a line break.
 *
 * @example Generate an identity
 * ```ts
 * import { generateIdentity } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const identity = await generateIdentity({ bits: 2048, comment: "alice@laptop" });
 * assert.equal(identity.publicKey.bits, 2048);
 * assert.equal(identity.publicKey.comment, "alice@laptop");
 * assert.match(identity.publicKey.fingerprint, /^SHA256:/);
 * ```
 */
export async function generateIdentity(options: GenerateIdentityOptions = {}): Promise<Identity> {
  const { bits = defaultRsaBits, comment = "" } = options;
  if (
    !Number.isInteger(bits) || bits < minRsaBits || bits > maxRsaBits || bits % bitsPerByte !== 0
  ) {
    throw new RangeError(
      `Cannot generate identity: ${bits} bits is not a multiple of 8 from ${minRsaBits} to ${maxRsaBits}`,
    );
  }
  const pair = await crypto.subtle.generateKey(
    { name: "RSA-PSS", modulusLength: bits, publicExponent: rsaPublicExponent, hash: "SHA-256" },
    true,
    ["sign", "verify"],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const publicKey = await importPublicKey(spki, comment);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  try {
    const decryptKey = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      { name: "RSA-OAEP", hash: "SHA-256" },
      false,
      ["decrypt"],
    );
    return { publicKey, signKey: pair.privateKey, decryptKey };
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * Builds an identity from an RSA private key in PKCS#8 (DER). Both private keys are
 * non-extractable. The public key is derived from the private key, and a test signature checks
 * that the two belong together.
 *
 * @param pkcs8 The DER PKCS#8 bytes (see {@linkcode parsePrivateKeyPem}).
 * @param comment Free text naming the key, one line.
 * @returns The identity.
 * @throws {KeyFileError} If the bytes are not an acceptable RSA private key.
 * @throws {TypeError} If `comment` has a line break.
 *
 * @example Import a key made by Web Crypto
 * ```ts
 * import { identityFromPkcs8 } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const pair = await crypto.subtle.generateKey(
 *   {
 *     name: "RSA-PSS",
 *     modulusLength: 2048,
 *     publicExponent: new Uint8Array([1, 0, 1]),
 *     hash: "SHA-256",
 *   },
 *   true,
 *   ["sign", "verify"],
 * );
 * const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
 * const identity = await identityFromPkcs8(pkcs8, "bob@desk");
 * assert.equal(identity.publicKey.bits, 2048);
 * assert.equal(identity.signKey.extractable, false);
 * ```
 */
export async function identityFromPkcs8(pkcs8: Uint8Array, comment = ""): Promise<Identity> {
  const action = "Cannot import private key";
  if (pkcs8.length === 0) throw new KeyProblem(action, "the key is empty");
  if (pkcs8.length > maxPkcs8Bytes) {
    throw new KeyProblem(
      action,
      `the key is ${pkcs8.length} bytes, more than the ${maxPkcs8Bytes}-byte limit`,
    );
  }
  const der = bufferSource(pkcs8);
  const rsaPss = { name: "RSA-PSS", hash: "SHA-256" };
  const rsaOaep = { name: "RSA-OAEP", hash: "SHA-256" };
  let signKey: CryptoKey;
  let decryptKey: CryptoKey;
  let publicJwk: JsonWebKey;
  try {
    const extractable = await crypto.subtle.importKey("pkcs8", der, rsaPss, true, ["sign"]);
    const { n, e } = await crypto.subtle.exportKey("jwk", extractable);
    publicJwk = { kty: "RSA", n, e };
    signKey = await crypto.subtle.importKey("pkcs8", der, rsaPss, false, ["sign"]);
    decryptKey = await crypto.subtle.importKey("pkcs8", der, rsaOaep, false, ["decrypt"]);
  } catch (error) {
    throw new KeyProblem(action, "not a DER PKCS#8 RSA private key", undefined, error);
  }
  const verifyKey = await crypto.subtle.importKey("jwk", publicJwk, rsaPss, true, ["verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", verifyKey));
  let publicKey: PublicKey;
  try {
    publicKey = await importPublicKey(spki, comment);
  } catch (error) {
    if (error instanceof KeyProblem) throw new KeyProblem(action, error.reason, undefined, error);
    throw error;
  }
  const signature = await signPss(signKey, selfTestMessage);
  if (!await verifyPss(publicKey.verifyKey, signature, selfTestMessage)) {
    throw new KeyProblem(action, "the private key is inconsistent (its test signature failed)");
  }
  return { publicKey, signKey, decryptKey };
}

/**
 * Decodes a PEM private key file: an unencrypted PKCS#8 key between `-----BEGIN PRIVATE KEY-----`
 * and `-----END PRIVATE KEY-----` lines. Other PEM kinds (PKCS#1 `RSA PRIVATE KEY`, encrypted or
 * OpenSSH keys) are refused with a message saying how to convert them.
 *
 * @param pem The PEM text.
 * @returns The DER PKCS#8 bytes (not checked further: see {@linkcode identityFromPkcs8}).
 * @throws {KeyFileError} If the text is not a PKCS#8 PEM block. The message never quotes it.
 *
 * @example Round-trip with formatPrivateKeyPem
 * ```ts
 * import { formatPrivateKeyPem, parsePrivateKeyPem } from "./identity.ts";
 * import { KeyFileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]);
 * assert.deepEqual(parsePrivateKeyPem(formatPrivateKeyPem(der)), der);
 * assert.throws(
 *   () => parsePrivateKeyPem("-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----"),
 *   KeyFileError,
 * );
 * ```
 */
export function parsePrivateKeyPem(pem: string): Uint8Array<ArrayBuffer> {
  const action = "Cannot parse private key";
  if (pem.length > maxPrivateKeyFileBytes) {
    throw new KeyProblem(
      action,
      `the text is longer than ${maxPrivateKeyFileBytes} characters`,
      pemFormat,
    );
  }
  const lines = pem.trim().split(/\r?\n/).map((line) => line.trim());
  const first = lines[0] ?? "";
  if (first !== pemBegin) {
    if (first === "-----BEGIN RSA PRIVATE KEY-----") {
      throw new KeyProblem(
        action,
        "it is a PKCS#1 RSA key",
        "convert it with: openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW",
      );
    }
    if (first === "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
      throw new KeyProblem(
        action,
        "it is encrypted",
        "ovtp reads only unencrypted PKCS#8 keys, protected by file permissions (chmod 600)",
      );
    }
    if (first === "-----BEGIN OPENSSH PRIVATE KEY-----") {
      throw new KeyProblem(action, "it is an OpenSSH key", pemFormat);
    }
    throw new KeyProblem(action, `the first line is not "${pemBegin}"`, pemFormat);
  }
  if (lines.length < 2 || lines[lines.length - 1] !== pemEnd) {
    throw new KeyProblem(action, `the last line is not "${pemEnd}"`, pemFormat);
  }
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = decodeBase64(lines.slice(1, -1).join(""));
  } catch (error) {
    throw new KeyProblem(action, "the key is not valid base64", pemFormat, error);
  }
  if (der.length === 0) throw new KeyProblem(action, "the key is empty", pemFormat);
  return der;
}

/**
 * Encodes a DER PKCS#8 private key as PEM: `-----BEGIN PRIVATE KEY-----`, base64 in lines of 64
 * characters, `-----END PRIVATE KEY-----`, and a final line break.
 *
 * @param pkcs8 The DER PKCS#8 bytes.
 * @returns The PEM text.
 *
 * @example Format three bytes
 * ```ts
 * import { formatPrivateKeyPem } from "./identity.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   formatPrivateKeyPem(new Uint8Array([1, 2, 3])),
 *   "-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n",
 * );
 * ```
 */
export function formatPrivateKeyPem(pkcs8: Uint8Array): string {
  const base64 = encodeBase64(pkcs8);
  const lines = [pemBegin];
  for (let start = 0; start < base64.length; start += pemLineChars) {
    lines.push(base64.slice(start, start + pemLineChars));
  }
  lines.push(pemEnd, "");
  return lines.join("\n");
}

/** Options for {@linkcode saveIdentity}. */
export interface SaveIdentityOptions {
  /**
   * Replace existing files instead of refusing.
   *
   * @default {false}
   */
  overwrite?: boolean;
}

/**
 * Saves an identity as two files: `path`, the private key as PKCS#8 PEM with mode 0600 (set
 * explicitly, whatever the umask), and `path + ".pub"`, the public key line and a line break
 * with mode 0644. The folder is created (mode 0700) if it is missing.
 *
 * Unless `overwrite` is set, nothing is written if either file exists. With `overwrite`, the
 * private key is written to a temporary file and renamed over the old one, so it is never
 * readable by others, even for a moment.
 *
 * @param identity An identity from {@linkcode generateIdentity} (its `signKey` must be
 * extractable).
 * @param path The private key file; the public key goes to `path + ".pub"`.
 * @param options Whether to overwrite existing files.
 * @throws {KeyFileError} If a file exists (and `overwrite` is not set) or cannot be written.
 * @throws {TypeError} If the identity's `signKey` is not extractable.
 *
 * @example Save a new identity
 * ```ts
 * import { generateIdentity, KeyFileError, saveIdentity } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, "id_ovtp");
 *   const identity = await generateIdentity({ bits: 2048, comment: "alice@laptop" });
 *   await saveIdentity(identity, path);
 *   assert.match(await Deno.readTextFile(`${path}.pub`), /^ovtp-rsa \S+ alice@laptop\n$/);
 *   await assert.rejects(saveIdentity(identity, path), KeyFileError);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function saveIdentity(
  identity: Identity,
  path: string,
  options: SaveIdentityOptions = {},
): Promise<void> {
  const { overwrite = false } = options;
  if (!identity.signKey.extractable) {
    throw new TypeError(
      "Cannot save identity: its private key is not extractable; only identities from generateIdentity() can be saved",
    );
  }
  const publicPath = `${path}.pub`;
  if (!overwrite) {
    for (const file of [path, publicPath]) {
      if (await pathExists(file)) throw alreadyExistsError(file);
    }
  }
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", identity.signKey));
  const pem = new TextEncoder().encode(formatPrivateKeyPem(pkcs8));
  pkcs8.fill(0);
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: keyDirectoryMode });
    if (overwrite) {
      await writeReplacing(path, pem, privateKeyFileMode);
    } else {
      await writeNew(path, pem, privateKeyFileMode);
    }
  } catch (error) {
    throw writeError(path, error);
  } finally {
    pem.fill(0);
  }
  const publicLine = new TextEncoder().encode(`${formatPublicKey(identity.publicKey)}\n`);
  try {
    await Deno.writeFile(publicPath, publicLine, {
      createNew: !overwrite,
      mode: publicKeyFileMode,
    });
  } catch (error) {
    if (!overwrite) await Deno.remove(path).catch(() => {});
    throw writeError(publicPath, error);
  }
}

/** Options for {@linkcode loadIdentity}. */
export interface LoadIdentityOptions {
  /**
   * The comment to give the public key. Without it, the comment of `path + ".pub"` is used when
   * that file holds the same key, else none.
   */
  comment?: string;
}

/**
 * Loads an identity saved by {@linkcode saveIdentity} (or any unencrypted PKCS#8 RSA key in PEM).
 *
 * Like ssh, it refuses a private key file that group or others may access (any of mode 0077 set,
 * except on Windows), and says which `chmod` fixes it.
 *
 * @param path The private key file.
 * @param options The comment to use.
 * @returns The identity, with non-extractable private keys.
 * @throws {KeyFileError} If the file is missing, unreadable, accessible by others, or does not
 * hold an acceptable RSA private key. The message names the file and never quotes its contents.
 *
 * @example Refuse a key file that others can read
 * ```ts
 * import { KeyFileError, loadIdentity } from "../mod.ts";
 * import { join } from "node:path";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const path = join(dir, "id_ovtp");
 *   await Deno.writeTextFile(path, "-----BEGIN PRIVATE KEY-----\n...");
 *   await Deno.chmod(path, 0o644);
 *   await assert.rejects(loadIdentity(path), (error: Error) => {
 *     assert.ok(error instanceof KeyFileError);
 *     assert.match(error.message, /chmod 600/);
 *     return true;
 *   });
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function loadIdentity(
  path: string,
  options: LoadIdentityOptions = {},
): Promise<Identity> {
  if (options.comment !== undefined) assertComment(options.comment);
  let contents: FileContents;
  try {
    contents = await readFileUpTo(path, maxPrivateKeyFileBytes, (info) => {
      if (Deno.build.os !== "windows" && info.isFile && info.mode !== null) {
        assertOwnerOnly(path, info.mode, "Private key file");
      }
    });
  } catch (error) {
    if (error instanceof KeyFileError) throw error;
    throw new KeyFileError(
      `Cannot read private key file "${path}": ${describeFileError(error)}`,
      { cause: error },
    );
  }
  const { info, bytes } = contents;
  if (!info.isFile) {
    throw new KeyFileError(`Cannot read private key file "${path}": it is not a regular file`);
  }
  if (bytes === undefined) {
    throw new KeyFileError(
      `Cannot read private key file "${path}": it is larger than ${maxPrivateKeyFileBytes} bytes, too large for a private key`,
    );
  }
  let identity: Identity;
  try {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (error) {
      throw new KeyProblem(
        "Cannot parse private key",
        "the file is not UTF-8 text",
        pemFormat,
        error,
      );
    }
    identity = await identityFromPkcs8(parsePrivateKeyPem(text), options.comment ?? "");
  } catch (error) {
    if (error instanceof KeyFileError) {
      throw new KeyFileError(`Private key file "${path}": ${error.message}`, { cause: error });
    }
    throw error;
  } finally {
    bytes.fill(0);
  }
  if (options.comment !== undefined) return identity;
  const comment = await readPublicKeyComment(`${path}.pub`, identity.publicKey.spki);
  if (comment === "") return identity;
  return { ...identity, publicKey: await importPublicKey(identity.publicKey.spki, comment) };
}

async function readPublicKeyComment(publicPath: string, spki: Uint8Array): Promise<string> {
  try {
    const { bytes } = await readFileUpTo(publicPath, maxPublicKeyFileBytes);
    if (bytes === undefined) return "";
    const key = await parsePublicKey(new TextDecoder().decode(bytes));
    return timingSafeEqual(key.spki, spki) ? key.comment : "";
  } catch {
    return "";
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new KeyFileError(
      `Cannot save identity: cannot check "${path}": ${describeFileError(error)}`,
      { cause: error },
    );
  }
}

async function writeNew(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  await Deno.writeFile(path, bytes, { createNew: true, mode });
  if (Deno.build.os !== "windows") await Deno.chmod(path, mode);
}

async function writeReplacing(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const temporaryPath = `${path}.${randomBytes(8).toHex()}.tmp`;
  try {
    await writeNew(temporaryPath, bytes, mode);
    await Deno.rename(temporaryPath, path);
  } catch (error) {
    await Deno.remove(temporaryPath).catch(() => {});
    throw error;
  }
}

function alreadyExistsError(path: string, cause?: unknown): KeyFileError {
  return new KeyFileError(
    `Cannot save identity: "${path}" already exists; pick another path, or remove the file first`,
    { cause },
  );
}

function writeError(path: string, error: unknown): KeyFileError {
  if (error instanceof Deno.errors.AlreadyExists) return alreadyExistsError(path, error);
  return new KeyFileError(`Cannot write key file "${path}": ${describeFileError(error)}`, {
    cause: error,
  });
}
