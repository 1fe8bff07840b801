/**
 * Reads the public keys of any key file the commands are given: a `.pub` file, an
 * `authorized_keys` or `known_hosts` file, or a private key (its public half). Used by `ovtp
 * fingerprint` and by `add_keys.ts`.
 *
 * @module
 */

import { loadIdentity } from "../crypto/identity.ts";
import { parsePublicKey, type PublicKey, publicKeyType } from "../crypto/public_key.ts";
import { KeyFileError } from "../errors.ts";
import { CliError } from "./cli_error.ts";

/** A key found in a file, with what came before it on its line. */
export interface FoundKey {
  /** The key. */
  key: PublicKey;
  /** The file it was read from. */
  file: string;
  /** What preceded the key on its line: a known_hosts host or authorized_keys options. */
  prefix: string;
}

/** Files larger than this are not key files. */
const maxKeyFileBytes = 16 * 1024 * 1024;
const pemStart = "-----BEGIN";

/**
 * Reads the public keys of a key file: a `.pub` file, an `authorized_keys` or `known_hosts` file
 * (every `ovtp-rsa` line; others are skipped), or a private key (its public half; the file must
 * then be private, mode 0600).
 *
 * @param file The file.
 * @param options `privateKeys: false` refuses a private key, naming its `.pub` file instead.
 * @returns The keys, in file order; at least one.
 * @throws {CliError} When the file holds no key, or a private key that was not allowed.
 * @throws {KeyFileError} When a key line or the private key is malformed.
 *
 * @example Read a .pub file
 * ```ts ignore
 * const [{ key }] = await readPublicKeys("alice.pub");
 * console.log(key.fingerprint);
 * ```
 */
export async function readPublicKeys(
  file: string,
  options: { privateKeys?: boolean } = {},
): Promise<FoundKey[]> {
  let text: string;
  try {
    const info = await Deno.stat(file);
    if (!info.isFile || info.size > maxKeyFileBytes) {
      throw new CliError(`${file} is not a key file (not a regular file of at most 16 MiB)`);
    }
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`${file}: No such file or directory`, undefined, { cause: error });
    }
    throw error;
  }
  if (text.trimStart().startsWith(pemStart)) {
    if (options.privateKeys === false) {
      throw new CliError(
        `${file} is a private key, which never leaves its machine; pass its public key ${file}.pub`,
      );
    }
    return [{ key: (await loadIdentity(file)).publicKey, file, prefix: "" }];
  }
  const lines = text.split("\n").map((line) => line.trim()).filter((line) =>
    line !== "" && !line.startsWith("#")
  );
  const found: FoundKey[] = [];
  for (const line of lines) {
    const match = new RegExp(`^(.*?)(?:^|\\s)(${publicKeyType}\\s.*)$`).exec(line);
    // A file of one line is meant as a key: the parser says what is wrong with it.
    if (match === null && lines.length > 1) continue;
    try {
      const key = await parsePublicKey(match?.[2] ?? line);
      found.push({ key, file, prefix: match?.[1].trim() ?? "" });
    } catch (error) {
      if (error instanceof KeyFileError) {
        throw new KeyFileError(`${file}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }
  if (found.length === 0) throw new CliError(`${file} holds no ${publicKeyType} key`);
  return found;
}
