/**
 * The skeleton of every client command (`send`, `put`, `get`, `hash`, `pub`, `sub`, `push`,
 * `pull`, `forward`): it owns the steps they all take, in this order, so that a command file
 * holds only what is its own (its options, its help, its checks, what it does with the client
 * and what it prints):
 *
 * ```
 * args ─parse─▶ values, positionals ─target─▶ server [and path]
 *   ─prepare (the command's checks)─▶ call ─connect─▶ client ─call.use─▶ result
 *   ─close─▶ call.report(result) ─▶ exit code
 * ```
 *
 * Parsing adds the client options ({@linkcode clientOptions}) to the command's own; connecting
 * is {@linkcode connectClient}; the client is closed even when `use` throws. Everything a
 * command can check without the server is checked in `prepare`, before connecting.
 *
 * @module
 */

import { formatHostPort, type HostPort, parseHostPort } from "../address.ts";
import type { OvtpClient } from "../client.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import {
  applyHostConfig,
  type ClientFlags,
  clientOptions,
  connectClient,
} from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import {
  type CommandOptions,
  type CommandValues,
  parseCommandArgs,
  type PositionalSpec,
} from "./parse_command_args.ts";
import { parseRemoteTarget, type RemoteTarget } from "./remote_target.ts";
import { asCliError, type ErrorContext } from "./report_error.ts";

/** The parsed arguments of a client command, as its `prepare` gets them. */
export interface ClientCommandInput<O extends CommandOptions> {
  /** The values of the command's options and of the client options. */
  values: CommandValues<typeof clientOptions & O>;
  /** The positional arguments, the target included. */
  positionals: string[];
  /** The server, and for a `HOST[:PORT]:PATH` target the path (else `""`). */
  target: RemoteTarget;
}

/** What a client command does once connected, and what it prints afterwards. */
export interface ClientCall<R> {
  /** Uses the connected client; the skeleton closes it afterwards, also when this throws. */
  use(client: OvtpClient): Promise<R>;
  /**
   * Prints the result once the client is closed and returns the exit code. Without it, the
   * command prints nothing more and exits 0.
   */
  report?(result: R): number | Promise<number>;
  /**
   * Whether the client reconnects (with back-off) when the connection is lost: for the
   * long-running `sub` and `pull`. Default false: a lost connection fails the command (exit 6).
   */
  reconnect?: boolean;
}

/** A client command: what {@linkcode clientCommand} needs to build it. */
export interface ClientCommandSpec<O extends CommandOptions, R> {
  /** The word that selects the command (`send`). */
  name: string;
  /** One line for `ovtp --help`. */
  summary: string;
  /** The full text of `ovtp NAME --help`. */
  help: string;
  /** The command's own options; the client options are added to them. */
  options: O;
  /** How many positional arguments it takes, the target included. */
  arguments: PositionalSpec;
  /**
   * Which positional argument names the server (0 for the first, -1 for the last), and whether
   * it also names a path there (`HOST[:PORT]:PATH`, as scp does), only the server (`HOST[:PORT]`),
   * or either (`"optional"`: `HOST[:PATH]`, as `ls` takes it; the path is `""` without a colon).
   */
  target: { argument: number; withPath: boolean | "optional" };
  /**
   * Checks the rest of the arguments (a failure is reported before connecting, as a usage
   * error when it is a {@linkcode CliError.usage}) and returns what to do once connected.
   */
  prepare(input: ClientCommandInput<O>, io: CliIo): ClientCall<R> | Promise<ClientCall<R>>;
  /**
   * What the command asks of the server, in the user's words, for error lines ("the server
   * refused to …"): `publish to "metrics"`. Default: `carry out ovtp NAME`.
   */
  request?(input: ClientCommandInput<O>): string;
}

/**
 * Builds a client command from its own parts: parse → target → prepare → connect → use →
 * close → report.
 *
 * @param spec The command's name, help, options and steps.
 * @returns The command, for `cli.ts`'s list.
 *
 * @example A command that needs no server once its arguments fail
 * ```ts
 * import { clientCommand } from "./client_command.ts";
 * import type { CliIo } from "./cli_io.ts";
 * import assert from "node:assert/strict";
 *
 * const ping = clientCommand({
 *   name: "ping",
 *   summary: "send ping",
 *   help: "Usage: ovtp ping HOST[:PORT]",
 *   options: {},
 *   arguments: { min: 1, max: 1, names: "HOST[:PORT]" },
 *   target: { argument: 0, withPath: false },
 *   prepare: () => ({ use: (client) => client.sendMessage("ping") }),
 * });
 * const io = {} as CliIo; // never reached: the arguments fail first
 * await assert.rejects(ping.run(["a:b:c"], io), /"a:b:c" is not HOST, HOST:PORT or \[IPv6\]:PORT/);
 * await assert.rejects(ping.run([], io), /missing arguments; expected HOST\[:PORT\]/);
 * ```
 */
export function clientCommand<O extends CommandOptions, R>(
  spec: ClientCommandSpec<O, R>,
): CliCommand {
  const options = { ...clientOptions, ...spec.options };
  return {
    name: spec.name,
    summary: spec.summary,
    help: spec.help,
    async run(args, io) {
      const { values, positionals } = parseCommandArgs(spec.name, args, options, spec.arguments);
      const given = parseTarget(spec.name, positionals.at(spec.target.argument)!, spec.target);
      // $OVTP_HOME/config (ssh_config style) may rename the host and set the port, the key,
      // the pinned server key and known_hosts; flags on the command line win.
      const configured = await applyHostConfig(spec.name, given, values);
      const target = { ...given, address: configured.address };
      const input = { values, positionals, target };
      const call = await spec.prepare(input, io);
      const context: ErrorContext = {
        server: formatHostPort({ hostname: given.address.hostname, port: target.address.port }),
        request: spec.request?.(input) ?? `carry out ovtp ${spec.name}`,
        timeoutSeconds: (values as ClientFlags).timeout,
      };
      let client: OvtpClient;
      try {
        client = await connectClient(spec.name, target.address, configured.flags, io, {
          reconnect: call.reconnect === true,
          notes: configured.notes,
          fingerprintSource: configured.fingerprintSource,
        });
      } catch (error) {
        throw asCliError(error, { ...context, phase: "connect" });
      }
      let result: R;
      try {
        result = await call.use((values as ClientFlags).verbose ? logRequests(client, io) : client);
      } catch (error) {
        throw asCliError(error, { ...context, phase: "request" });
      } finally {
        await client.close();
      }
      return call.report === undefined ? ExitCode.ok : await call.report(result);
    },
  };
}

/** A port no one types, to tell whether the text gave one. */
const noPort = -1;

/** Reads the target argument, or fails as a usage error of `command`. */
function parseTarget(
  command: string,
  text: string,
  { withPath }: { withPath: boolean | "optional" },
): RemoteTarget {
  if (withPath === "optional") {
    return parseRemoteTarget(text) ?? parseTarget(command, text, { withPath: false });
  }
  if (withPath) {
    const target = parseRemoteTarget(text);
    if (target === undefined) {
      throw CliError.usage(command, `"${text}" names no server; expected HOST[:PORT]:REMOTE`);
    }
    return target;
  }
  let address: HostPort;
  let portGiven: boolean;
  try {
    address = parseHostPort(text);
    portGiven = parseHostPort(text, noPort).port !== noPort;
  } catch {
    throw CliError.usage(command, `"${text}" is not HOST, HOST:PORT or [IPv6]:PORT`);
  }
  return { address, path: "", portGiven };
}

/** The client's methods that are not requests to the server, left out of `-v`'s lines. */
const notRequests = new Set(["connect", "close", "ping"]);

/**
 * For `-v`: the client, whose requests each print `debug1: request NAME "ARGUMENT"` first (the
 * method, as the protocol's kind, and its path, topic or queue).
 */
function logRequests(client: OvtpClient, io: CliIo): OvtpClient {
  return new Proxy(client, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function" || typeof property !== "string") return value;
      if (notRequests.has(property) || property.startsWith("_")) return value.bind(target);
      return (...args: unknown[]) => {
        const named = args.filter((arg) => typeof arg === "string").slice(0, 2)
          .map((arg) => JSON.stringify(arg));
        io.printError(
          `debug1: request ${property}${named.length > 0 ? ` ${named.join(" ")}` : ""}`,
        );
        return value.apply(target, args);
      };
    },
  });
}
