/**
 * Adds the public keys of files and folders to an `authorized_keys` file, skipping keys already
 * there (OVTP's `--add-keys`): what `ovtp authorize` and `ovtp serve --add-keys` call before the
 * server reads the file.
 *
 * @module
 */

import { join } from "node:path";
import { addAuthorizedKey } from "../crypto/authorized_keys.ts";
import { CliError } from "./cli_error.ts";
import { type FoundKey, readPublicKeys } from "./read_public_keys.ts";

/** What {@linkcode addKeys} did with one key. */
export interface AddedKey extends FoundKey {
  /** `true` if it was added, `false` if `authorized_keys` already held it. */
  added: boolean;
}

const publicKeySuffix = ".pub";

/**
 * Adds public keys to an `authorized_keys` file, skipping keys already there: OVTP's
 * `--add-keys`. Each path is a public key file, or a folder whose `*.pub` files are all read (not
 * its subfolders). Every key is read before any is added, so a bad file changes nothing.
 *
 * @param paths Files and folders.
 * @param authorizedKeys The `authorized_keys` file (created, mode 0600, if missing).
 * @returns Each key, and whether it was added.
 * @throws {CliError} When a folder holds no `.pub` file, or a file no key.
 * @throws {KeyFileError} When a key is malformed or the file cannot be written.
 *
 * @example Authorize a folder of keys
 * ```ts ignore
 * for (const { key, added } of await addKeys(["./team-keys"], "/etc/ovtp/authorized_keys")) {
 *   console.log(added ? "added" : "already there", key.fingerprint);
 * }
 * ```
 */
export async function addKeys(paths: string[], authorizedKeys: string): Promise<AddedKey[]> {
  const found: FoundKey[] = [];
  for (const file of (await Promise.all(paths.map(keyFilesOf))).flat()) {
    found.push(...await readPublicKeys(file, { privateKeys: false }));
  }
  const results: AddedKey[] = [];
  for (const entry of found) {
    results.push({ ...entry, added: await addAuthorizedKey(authorizedKeys, entry.key) });
  }
  return results;
}

async function keyFilesOf(path: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`${path}: No such file or directory`, undefined, { cause: error });
    }
    throw error;
  }
  if (!info.isDirectory) return [path];
  const files: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile && entry.name.endsWith(publicKeySuffix)) files.push(join(path, entry.name));
  }
  if (files.length === 0) throw new CliError(`The folder ${path} holds no ${publicKeySuffix} file`);
  return files.sort();
}
