/**
 * Loads the private key of a CLI command (`serve`, and every client command through
 * `connect_client.ts`), and turns a missing key file into a one-line hint to run `ovtp keygen`.
 *
 * @module
 */

import { type Identity, loadIdentity } from "../crypto/identity.ts";
import { KeyFileError } from "../errors.ts";
import { shellWord } from "./_format.ts";
import { CliError } from "./cli_error.ts";

/**
 * Loads our private key, and when it does not exist yet says how to make one.
 *
 * @param path The private key file.
 * @returns The identity.
 * @throws {CliError} When the file does not exist (exit code 1).
 * @throws {KeyFileError} When it cannot be used (unreadable, readable by others, malformed).
 *
 * @example Say how to make a missing key
 * ```ts
 * import { loadIdentityFile } from "./load_identity_file.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(loadIdentityFile("/nonexistent/id_ovtp"), /ovtp keygen/);
 * ```
 */
export async function loadIdentityFile(path: string): Promise<Identity> {
  try {
    return await loadIdentity(path);
  } catch (error) {
    if (error instanceof KeyFileError && error.cause instanceof Deno.errors.NotFound) {
      throw new CliError(
        `There is no private key at ${path}; create one with: ovtp keygen -f ${shellWord(path)}`,
        undefined,
        { cause: error },
      );
    }
    throw error;
  }
}
