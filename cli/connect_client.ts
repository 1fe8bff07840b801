/**
 * From a client command's flags to a connected {@linkcode OvtpClient}: the client options every
 * client command shares (identity, known_hosts, `--accept-new`, `--fingerprint`, `--timeout`), and
 * {@linkcode connectClient}, which loads the identity, lets the library check the server's key
 * and record it, and turns a refused client key into exit code 3. Used by the client-command
 * skeleton (`client_command.ts`); the known_hosts logic itself lives in the library.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../address.ts";
import { OvtpClient } from "../client.ts";
import { AuthenticationError } from "../errors.ts";
import { CliError } from "./cli_error.ts";
import type { CliIo } from "./cli_io.ts";
import { ExitCode } from "./exit_codes.ts";
import { loadIdentityFile } from "./load_identity_file.ts";
import { ovtpHomeFiles } from "./ovtp_home.ts";

/** The options every client command (`send`, `put`, `get`, `hash`, …) takes. */
export const clientOptions = {
  home: { type: "string" },
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
  --json                  print the result as one JSON line
  -q, --quiet             print nothing but errors (send still prints its reply)
  -v, --verbose           print details, and a stack trace with errors`;

/** The values of {@linkcode clientOptions} after parsing. */
export interface ClientFlags {
  home?: string;
  identity?: string;
  "known-hosts"?: string;
  "accept-new"?: boolean;
  fingerprint?: string;
  timeout?: string;
  quiet?: boolean;
}

const fingerprintPattern = /^SHA256:[A-Za-z0-9+/]{43}$/;
const msPerSecond = 1000;

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
  options: { reconnect?: boolean } = {},
): Promise<OvtpClient> {
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
  try {
    await client.connect();
    if (recorded !== undefined && !flags.quiet) io.printError(recorded);
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
