/**
 * Where the command's key files are: each flag wins, then `--home`, then `$OVTP_HOME`, then
 * `~/.ovtp` (`id_ovtp`, `authorized_keys`, `known_hosts`). Read by `keygen`, `authorize`,
 * `fingerprint`, `serve` and, through `connect_client.ts`, every client command.
 *
 * @module
 */

import { join } from "node:path";
import { CliError } from "./cli_error.ts";

/** The files the command keeps in `OVTP_HOME`, by role. */
export interface OvtpHomeFiles {
  /** Our private key (`id_ovtp`); its public key is `id_ovtp.pub` next to it. */
  identity: string;
  /** The client keys this machine's server accepts. */
  authorizedKeys: string;
  /** The server keys this machine's client trusts. */
  knownHosts: string;
  /**
   * The ovtp folder (`--home`, `$OVTP_HOME` or `~/.ovtp`) when one of the paths above is in it;
   * `undefined` when flags give them all.
   */
  home: string | undefined;
}

/** Flags that override the locations of {@linkcode ovtpHomeFiles}. */
export interface OvtpHomeFlags {
  /** `--home DIR`: instead of `$OVTP_HOME`. */
  home?: string;
  /** `--identity FILE`. */
  identity?: string;
  /** `--authorized-keys FILE`. */
  "authorized-keys"?: string;
  /** `--known-hosts FILE`. */
  "known-hosts"?: string;
}

/** Where the files live when neither a flag nor `OVTP_HOME` says otherwise: `~/.ovtp`. */
const defaultHomeName = ".ovtp";

/**
 * Where the command's key files are: each flag wins; then `--home DIR`, then `$OVTP_HOME`, then
 * `~/.ovtp`, holding `id_ovtp` (and `id_ovtp.pub`), `authorized_keys` and `known_hosts`. The
 * environment is read only when a flag leaves a path open.
 *
 * @param flags The command's flags.
 * @returns The paths (which need not exist).
 * @throws {CliError} When a path is open and neither `OVTP_HOME` nor `HOME` is set.
 *
 * @example Flags win
 * ```ts
 * import { ovtpHomeFiles } from "./ovtp_home.ts";
 * import assert from "node:assert/strict";
 *
 * const files = ovtpHomeFiles({ home: "/etc/ovtp", identity: "/keys/server" });
 * assert.equal(files.identity, "/keys/server");
 * assert.equal(files.knownHosts, "/etc/ovtp/known_hosts");
 * assert.equal(files.home, "/etc/ovtp");
 * ```
 */
export function ovtpHomeFiles(flags: OvtpHomeFlags): OvtpHomeFiles {
  let home: string | undefined = flags.home;
  let homeUsed = false;
  const inHome = (name: string) => {
    homeUsed = true;
    return join(home ??= findHome(), name);
  };
  const identity = flags.identity ?? inHome("id_ovtp");
  const authorizedKeys = flags["authorized-keys"] ?? inHome("authorized_keys");
  const knownHosts = flags["known-hosts"] ?? inHome("known_hosts");
  return { identity, authorizedKeys, knownHosts, home: homeUsed ? home : undefined };
}

function findHome(): string {
  const configured = Deno.env.get("OVTP_HOME");
  if (configured !== undefined && configured !== "") return configured;
  const userHome = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (userHome === undefined || userHome === "") {
    throw new CliError(
      "Cannot find the ovtp folder: neither OVTP_HOME nor HOME is set; set OVTP_HOME or pass --home DIR",
    );
  }
  return join(userHome, defaultHomeName);
}
