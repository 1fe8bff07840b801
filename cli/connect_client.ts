/**
 * From a client command's flags to a connected {@linkcode OvtpClient}: the client options every
 * client command shares (identity, known_hosts, `--accept-new`, `--fingerprint`, `--timeout`), and
 * {@linkcode connectClient}, which loads the identity, lets the library check the server's key
 * and record it, and turns a refused client key into exit code 3. Used by the client-command
 * skeleton (`client_command.ts`); the known_hosts logic itself lives in the library.
 *
 * @module
 */

import { join } from "node:path";
import { formatHostPort, type HostPort } from "../address.ts";
import { OvtpClient } from "../client.ts";
import { formatHostPattern, KnownHosts } from "../crypto/known_hosts.ts";
import { AuthenticationError } from "../errors.ts";
import { CliError } from "./cli_error.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_codes.ts";
import { HostConfig } from "./host_config.ts";
import type { RemoteTarget } from "./remote_target.ts";
import { loadIdentityFile } from "./load_identity_file.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";

/** The options every client command (`send`, `put`, `get`, `hash`, …) takes. */
export const clientOptions = {
  home: { type: "string" },
  config: { type: "string", short: "F" },
  identity: { type: "string", short: "i" },
  "known-hosts": { type: "string" },
  "accept-new": { type: "boolean" },
  fingerprint: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
} as const;

/** Help lines for {@linkcode clientOptions}, for the commands' `--help`. */
export const clientOptionsHelp = `Client options:
  -i, --identity FILE     our private key (default $OVTP_HOME/id_ovtp)
  --known-hosts FILE      the server keys we trust (default $OVTP_HOME/known_hosts)
  --accept-new            trust an unknown server key on first use and record it in known_hosts
                          (with --fingerprint: record the pinned key once it matched)
  --fingerprint SHA256:…  expect exactly this server key, whatever known_hosts says
  --timeout SECONDS       time allowed to connect (and, for send and hash, for the reply)
  --home DIR              the ovtp folder (default $OVTP_HOME, else ~/.ovtp)
  -F, --config FILE       per-server settings (default $OVTP_CONFIG, else $OVTP_HOME/config)
  --json                  print the result as one JSON line
  -q, --quiet             print nothing but errors (send still prints its reply)
  -v, --verbose           print what happens (debug1: lines, as ssh -v) and a stack trace
                          with errors`;

/** The values of {@linkcode clientOptions} after parsing. */
export interface ClientFlags {
  home?: string;
  config?: string;
  identity?: string;
  "known-hosts"?: string;
  "accept-new"?: boolean;
  fingerprint?: string;
  timeout?: string;
  quiet?: boolean;
  verbose?: boolean;
}

/** What {@linkcode applyHostConfig} resolved: where to connect and with which flags. */
export interface ConfiguredTarget {
  /** The server to connect to (`HostName` and `Port` applied). */
  address: HostPort;
  /** The flags, with the config's values where the command line gave none. */
  flags: ClientFlags;
  /** For `-v`: which config file was read and which of its lines applied. */
  notes: string[];
  /** Where the pinned fingerprint came from, when the config gave it. */
  fingerprintSource?: string;
}

const fingerprintPattern = /^SHA256:[A-Za-z0-9+/]{43}$/;
const msPerSecond = 1000;

/**
 * Applies the config file (`--config FILE`, else `$OVTP_CONFIG`, else `$OVTP_HOME/config` if it
 * exists) to a target: `HostName` replaces the host, `Port` applies when the target gave none,
 * and `IdentityFile`, `Fingerprint` and `KnownHostsFile` fill the flags the command line left
 * out (`--identity`, `--fingerprint`, `--known-hosts` win).
 *
 * @param command The command's name, for messages.
 * @param target The target as the command line gave it.
 * @param flags The parsed client options.
 * @returns The address and flags to connect with.
 * @throws {CliError} When the config file is malformed, or a named one cannot be read.
 *
 * @example No config file: the target as given
 * ```ts
 * import { applyHostConfig } from "./connect_client.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * try {
 *   const address = { hostname: "db", port: 4242 };
 *   const configured = await applyHostConfig("send", { address, path: "" }, { home: dir });
 *   assert.deepEqual(configured.address, address);
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function applyHostConfig(
  command: string,
  target: RemoteTarget,
  flags: ClientFlags,
): Promise<ConfiguredTarget> {
  const named = flags.config ?? readEnv("OVTP_CONFIG");
  const path = named ?? defaultConfigPath(flags.home);
  if (path === undefined) return { address: target.address, flags, notes: [] };
  const config = await HostConfig.read(path, named !== undefined);
  if (config === undefined) return { address: target.address, flags, notes: [] };
  const settings = config.lookup(target.address.hostname);
  const address = {
    hostname: settings.hostName ?? target.address.hostname,
    port: target.portGiven === true ? target.address.port : settings.port ?? target.address.port,
  };
  if (address.hostname === "" || /\s/.test(address.hostname)) {
    throw CliError.usage(command, `HostName "${address.hostname}" in ${path} is not a host`);
  }
  return {
    address,
    flags: {
      ...flags,
      identity: flags.identity ?? settings.identityFile,
      fingerprint: flags.fingerprint ?? settings.fingerprint,
      "known-hosts": flags["known-hosts"] ?? settings.knownHostsFile,
    },
    notes: [`Reading configuration data ${path}`, ...settings.applied],
    fingerprintSource: flags.fingerprint === undefined && settings.fingerprint !== undefined
      ? `Fingerprint in ${path}`
      : undefined,
  };
}

/**
 * `$OVTP_HOME/config`, or `undefined` when the ovtp folder cannot be found or read (the flags
 * then give every file, and there is no config to apply).
 */
function defaultConfigPath(home: string | undefined): string | undefined {
  try {
    const path = join(ovtpHomeFiles({ home }).home!, "config");
    return Deno.permissions.querySync({ name: "read", path }).state === "granted"
      ? path
      : undefined;
  } catch {
    return undefined;
  }
}

function readEnv(variable: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return undefined;
  const value = Deno.env.get(variable);
  return value === "" ? undefined : value;
}

/**
 * Loads our identity, checks the server's key as the flags say (a pinned `--fingerprint`, else
 * `known_hosts`, recording an unknown key with `--accept-new`), connects and authenticates. With
 * `--accept-new`, a key it recorded is announced on standard error, as ssh does.
 *
 * @param command The command's name, for messages.
 * @param address The server.
 * @param flags The parsed client options.
 * @param io Where to announce a recorded key.
 * @param options Whether the client reconnects when the connection is lost (default not).
 * @returns The connected client; close it when done.
 * @throws {CliError} For a malformed flag (exit code 2), or when the server refused our key (3).
 *
 * @example Connect and send (needs a server; see the README)
 * ```ts ignore
 * const client = await connectClient("send", { hostname: "127.0.0.1", port: 4242 }, {}, io);
 * await client.sendMessage("hello");
 * await client.close();
 * ```
 */
export async function connectClient(
  command: string,
  address: HostPort,
  flags: ClientFlags,
  io: CliIo,
  options: {
    reconnect?: boolean;
    notes?: string[];
    fingerprintSource?: string;
  } = {},
): Promise<OvtpClient> {
  const debug = (line: string) => {
    if (flags.verbose) io.printError(`debug1: ${line}`);
  };
  for (const note of options.notes ?? []) debug(note);
  if (flags.fingerprint !== undefined && !fingerprintPattern.test(flags.fingerprint)) {
    throw CliError.usage(
      command,
      `--fingerprint must look like SHA256: and 43 base64 characters, as ovtp fingerprint prints it`,
    );
  }
  const timeoutMs = flags.timeout === undefined ? undefined : parseSeconds(command, flags.timeout);
  const files = ovtpHomeFiles(flags);
  const identity = await loadIdentityFile(files.identity);
  const server = formatHostPort(address);
  // Announced once connected, as before: a refused client key reports only the refusal.
  let recorded: string | undefined;
  const client = new OvtpClient(address, {
    identity,
    knownHosts: files.knownHosts,
    fingerprint: flags.fingerprint,
    acceptNew: flags["accept-new"] === true,
    onHostKeyRecorded: (key, path) => {
      recorded = `ovtp: recorded the key ${key.fingerprint} of ${server} in ${path}`;
    },
    timeoutMs,
    connectTimeoutMs: timeoutMs,
    reconnect: options.reconnect === true,
  });
  debug(`Connecting to ${server}`);
  debug(`Our key: ${identity.publicKey.fingerprint} (${files.identity})`);
  const startedMs = performance.now();
  try {
    await client.connect();
    const handshakeMs = performance.now() - startedMs;
    if (recorded !== undefined && !flags.quiet) io.printError(recorded);
    if (flags.verbose) {
      const serverKey = client.serverKey?.fingerprint ?? "unknown";
      debug(`Server key: ${serverKey}`);
      debug(
        await howTrusted(address, serverKey, flags, files.knownHosts, {
          recorded: recorded !== undefined,
          fingerprintSource: options.fingerprintSource,
        }),
      );
      debug(
        `Authenticated to ${server} in ${handshakeMs.toFixed(1)} ms (${
          client.lastHandshake?.resumed ? "resumed session" : "full handshake, not resumed"
        })`,
      );
    }
  } catch (error) {
    await client.close().catch(() => {});
    if (error instanceof AuthenticationError) {
      const fingerprint = identity.publicKey.fingerprint;
      throw new CliError(
        `The server ${server} refused our key ${fingerprint}: send ${files.identity}.pub to ` +
          `the server's owner, who adds it with: ovtp authorize FILE.pub`,
        ExitCode.keyRefused,
        { cause: error },
      );
    }
    throw error;
  }
  return client;
}

function parseSeconds(command: string, text: string): number {
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) {
    throw CliError.usage(command, `--timeout takes a number of seconds above 0, not "${text}"`);
  }
  return Math.max(1, Math.round(seconds * msPerSecond));
}

/** How the server's key came to be trusted, in the words of `ssh -v`. */
async function howTrusted(
  address: HostPort,
  serverKey: string,
  flags: ClientFlags,
  knownHostsPath: string,
  how: { recorded: boolean; fingerprintSource?: string },
): Promise<string> {
  if (flags.fingerprint !== undefined) {
    return `Server key matches the pinned fingerprint (${
      how.fingerprintSource ?? "--fingerprint"
    })` +
      (how.recorded ? `; recorded in ${knownHostsPath}` : "");
  }
  if (how.recorded) {
    return `Server key was unknown: trusted on first use (--accept-new), recorded in ${knownHostsPath}`;
  }
  const pattern = formatHostPattern(address.hostname, address.port);
  const entries = await new KnownHosts(knownHostsPath).list().catch(() => []);
  const entry = entries.find((entry) =>
    entry.fingerprint === serverKey && entry.patterns.includes(pattern)
  );
  return entry === undefined
    ? `Server key is known (${knownHostsPath})`
    : `Host '${pattern}' is known and matches the key found in ${knownHostsPath}:${entry.lineNumber}`;
}
