/**
 * Test identities stored under `tests/fixtures/keys/`: RSA-3072 keys `alice`, `bob` and `server`
 * (PKCS#8 PEM, with `.pub` files commented `alice@test`, ...). They are for tests only.
 *
 * Git does not keep file modes, so a test that calls `loadIdentity()` must copy the key into a
 * temporary folder and `chmod 600` it first.
 *
 * @module
 */

import { join } from "node:path";
import { type Identity, identityFromPkcs8, parsePrivateKeyPem } from "../crypto/identity.ts";

/** The names of the stored test identities. */
export type FixtureName = "alice" | "bob" | "server";

const identities = new Map<FixtureName, Promise<Identity>>();

/**
 * Returns the absolute path of a stored test private key; its public key is at `path + ".pub"`.
 *
 * @param name Which identity.
 * @returns The path of the PEM file.
 */
export function fixtureKeyPath(name: FixtureName): string {
  return join(import.meta.dirname!, "fixtures", "keys", name);
}

/**
 * Loads a stored test identity (non-extractable keys, comment `name@test`). The result is
 * cached, so every test shares one import per name.
 *
 * @param name Which identity.
 * @returns The identity.
 */
export function fixtureIdentity(name: FixtureName): Promise<Identity> {
  let identity = identities.get(name);
  if (identity === undefined) {
    identity = loadFixture(name);
    identities.set(name, identity);
  }
  return identity;
}

async function loadFixture(name: FixtureName): Promise<Identity> {
  const pem = await Deno.readTextFile(new URL(`./fixtures/keys/${name}`, import.meta.url));
  return await identityFromPkcs8(parsePrivateKeyPem(pem), `${name}@test`);
}

/**
 * Runs `fn` with a fresh temporary folder, and removes the folder afterwards, whatever happens.
 *
 * @param fn The test body.
 * @returns What `fn` returns.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ovtp_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Copies a stored test key pair into `dir` (as `dir/name` and `dir/name.pub`) and makes the
 * private key mode 0600, so that `loadIdentity()` accepts it.
 *
 * @param name Which identity.
 * @param dir The folder to copy into.
 * @returns The path of the copied private key.
 */
export async function copyFixtureKey(name: FixtureName, dir: string): Promise<string> {
  const path = join(dir, name);
  await Deno.copyFile(fixtureKeyPath(name), path);
  await Deno.copyFile(`${fixtureKeyPath(name)}.pub`, `${path}.pub`);
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  return path;
}
