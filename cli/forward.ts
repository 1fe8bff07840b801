/**
 * `ovtp forward`: local port forwarding through a server, as `ssh -L` does. This file holds the
 * `-L` syntax, the command's help and its loop (open each forward, print its line, run until
 * stopped or the connection is lost); parsing, connecting and closing are the client-command
 * skeleton's (`client_command.ts`), waiting for a stop signal `stop_signals.ts`'s.
 *
 * @module
 */

import { formatHostPort } from "../address.ts";
import type { OvtpClient } from "../client.ts";
import type { LocalForward } from "../forward/local_forward.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { StopSignals } from "./stop_signals.ts";
import { terminalSafe } from "./_terminal_text.ts";

const defaultBindHost = "127.0.0.1";
/** How often the command checks that the connection to the server is still up. */
const connectionCheckMs = 1000;

/** One `-L [BIND:]PORT:HOST:PORT`. */
export interface LocalForwardSpec {
  /** Where to listen here. */
  bindHost: string;
  /** Port to listen on here (0: a free one). */
  bindPort: number;
  /** The destination, as the server sees it. */
  host: string;
  /** The destination port. */
  port: number;
}

/**
 * Parses `[BIND:]PORT:HOST:PORT` as `ssh -L` takes it (IPv6 addresses in brackets).
 *
 * @param text The argument of `-L`.
 * @returns The parsed forward, or `undefined` when it is malformed.
 *
 * @example
 * ```ts
 * import { parseLocalForward } from "./forward.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseLocalForward("8080:db:5432"), {
 *   bindHost: "127.0.0.1",
 *   bindPort: 8080,
 *   host: "db",
 *   port: 5432,
 * });
 * assert.equal(parseLocalForward("[::1]:0:[::1]:80")?.host, "::1");
 * assert.equal(parseLocalForward("8080:db"), undefined);
 * ```
 */
export function parseLocalForward(text: string): LocalForwardSpec | undefined {
  const host = String.raw`(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]\s]+))`;
  const match = new RegExp(`^(?:${host}:)?(\\d{1,5}):${host}:(\\d{1,5})$`).exec(text);
  if (match === null) return undefined;
  const bindPort = Number(match[3]);
  const port = Number(match[6]);
  if (bindPort > 65535 || port < 1 || port > 65535) return undefined;
  return {
    bindHost: match[1] ?? match[2] ?? defaultBindHost,
    bindPort,
    host: match[4] ?? match[5],
    port,
  };
}

/**
 * `ovtp forward -L [BIND:]PORT:HOST:PORT SERVER`: like `ssh -L`, forwards local ports through the
 * server until SIGINT or SIGTERM.
 *
 * @example Reach a database behind the server
 * ```ts ignore
 * await forwardCommand.run(["-L", "5432:db.internal:5432", "gateway.example"], denoIo());
 * ```
 */
export const forwardCommand: CliCommand = clientCommand({
  name: "forward",
  summary: "forward local TCP ports through a server, like ssh -L",
  help: `Usage: ovtp forward [options] -L [BIND:]PORT:HOST:PORT… SERVER[:PORT]

Listens on BIND:PORT here (BIND defaults to 127.0.0.1, PORT 0 picks a free one) and carries each
connection to it over one encrypted connection to SERVER, which connects to HOST:PORT, as
"ssh -L" does. -L may be repeated. The server must allow it: HOST:PORT must be on its list
("ovtp serve --forward-allow HOST:PORT") and our key must not have the authorized_keys options
no-forward or restrict (and, with permitopen="…", HOST:PORT must be on that list too). A refused
forward is reported before anything listens, with exit code 5.

When ready, prints one line per forward: "forwarding BIND:PORT -> HOST:PORT via SERVER". Runs
until SIGINT (Ctrl-C) or SIGTERM, then exits 0; exits 6 if the connection to the server is lost.

Options:
  -L, --local [BIND:]PORT:HOST:PORT   the forward (IPv6 addresses in brackets)
${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: { local: { type: "string", short: "L", multiple: true } },
  arguments: { min: 1, max: 1, names: "SERVER[:PORT]" },
  target: { argument: 0, withPath: false },
  request: () => "forward the connection",
  prepare({ values }, io) {
    const specs = (values.local ?? []).map((text) => {
      const spec = parseLocalForward(text);
      if (spec === undefined) {
        throw CliError.usage("forward", `-L takes [BIND:]PORT:HOST:PORT, not "${text}"`);
      }
      return spec;
    });
    if (specs.length === 0) throw CliError.usage("forward", "give at least one -L");
    return { use: (client) => runForwards(client, specs, values.quiet === true, io) };
  },
});

/**
 * Opens each forward and prints its line, then runs until stopped; throws when the connection
 * to the server is lost (exit code 6).
 */
async function runForwards(
  client: OvtpClient,
  specs: LocalForwardSpec[],
  quiet: boolean,
  io: CliIo,
): Promise<void> {
  const server = formatHostPort(client.address);
  const forwards: LocalForward[] = [];
  try {
    for (const spec of specs) {
      const destination = formatHostPort({ hostname: spec.host, port: spec.port });
      const forward = await client.forward({
        localHost: spec.bindHost,
        localPort: spec.bindPort,
        remoteHost: spec.host,
        remotePort: spec.port,
        onError: (error) => {
          if (quiet) return;
          io.printError(
            `ovtp: forward to ${destination}: ${
              terminalSafe(error instanceof Error ? error.message : String(error))
            }`,
          );
        },
      }).catch((error) => {
        if (error instanceof Deno.errors.AddrInUse) {
          throw new CliError(
            `Cannot listen on ${
              formatHostPort({ hostname: spec.bindHost, port: spec.bindPort })
            }: it is in use; pick another port`,
            ExitCode.failure,
            { cause: error },
          );
        }
        throw error;
      });
      forwards.push(forward);
      io.print(`forwarding ${formatHostPort(forward.addr)} -> ${destination} via ${server}`);
    }
    using stopping = new StopSignals();
    let lost = false;
    const timer = setInterval(() => {
      if (client.connected) return;
      lost = true;
      stopping.stop();
    }, connectionCheckMs);
    try {
      await stopping.stopped;
    } finally {
      clearInterval(timer);
    }
    if (lost) throw new CliError(`The connection to ${server} was lost`, ExitCode.connection);
  } finally {
    await Promise.all(forwards.map((forward) => forward.close()));
  }
}
