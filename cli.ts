/**
 * The `ovtp` command. Thin: it picks the command, which parses its arguments, calls the library
 * and formats the output; failures become one line on standard error and an exit code.
 *
 * @module
 */

import { authorizeCommand } from "./cli/authorize.ts";
import type { CliCommand } from "./cli/cli_command.ts";
import { CliError } from "./cli/cli_error.ts";
import { type CliIo, denoIo } from "./cli/cli_io.ts";
import { runDemo } from "./cli/demo.ts";
import { ExitCode } from "./cli/exit_codes.ts";
import { fingerprintCommand } from "./cli/fingerprint.ts";
import { forwardCommand } from "./cli/forward.ts";
import { getCommand } from "./cli/get.ts";
import { hashCommand } from "./cli/hash.ts";
import { keygenCommand } from "./cli/keygen.ts";
import { lsCommand } from "./cli/ls.ts";
import { mkdirCommand } from "./cli/mkdir.ts";
import { mvCommand } from "./cli/mv.ts";
import { knownHostsCommand } from "./cli/known_hosts.ts";
import { parseCommandArgs } from "./cli/parse_command_args.ts";
import { pingCommand } from "./cli/ping.ts";
import { pubCommand } from "./cli/pub.ts";
import { pullCommand } from "./cli/pull.ts";
import { pushCommand } from "./cli/push.ts";
import { putCommand } from "./cli/put.ts";
import { reportError } from "./cli/report_error.ts";
import { rmCommand } from "./cli/rm.ts";
import { terminalSafe } from "./cli/_terminal_text.ts";
import { sendCommand } from "./cli/send.ts";
import { serveCommand } from "./cli/serve.ts";
import { statCommand } from "./cli/stat.ts";
import { subCommand } from "./cli/sub.ts";
import denoJson from "./deno.json" with { type: "json" };

export type { CliIo } from "./cli/cli_io.ts";

const demoCommand: CliCommand = {
  name: "demo",
  summary: "run a server and a client on loopback with throwaway keys, and time them",
  help: `Usage: ovtp demo

In one process, with throwaway keys in a temporary folder: starts a server on 127.0.0.1,
authorizes a client, sends a message and 1000 more in flight, uploads and downloads a 32 MiB file
(with a progress bar on a terminal), prints both fingerprints and the timings, and cleans up.

Needs --allow-net=127.0.0.1 --allow-read --allow-write.`,
  async run(args, io) {
    parseCommandArgs("demo", args, {}, { min: 0, max: 0, names: "" });
    await runDemo(io);
    return ExitCode.ok;
  },
};

const commands: readonly CliCommand[] = [
  keygenCommand,
  fingerprintCommand,
  authorizeCommand,
  knownHostsCommand,
  serveCommand,
  sendCommand,
  putCommand,
  getCommand,
  hashCommand,
  lsCommand,
  statCommand,
  mkdirCommand,
  rmCommand,
  mvCommand,
  subCommand,
  pubCommand,
  pushCommand,
  pullCommand,
  forwardCommand,
  pingCommand,
  demoCommand,
];

const usage =
  `ovtp ${denoJson.version}: encrypted messages and files between machines that trust each other's keys

Usage: ovtp COMMAND [options] [arguments]

Commands:
${commands.map((command) => `  ${command.name.padEnd(13)}${command.summary}`).join("\n")}

"ovtp COMMAND --help" shows a command's options. $OVTP_HOME (default ~/.ovtp) holds id_ovtp,
id_ovtp.pub, authorized_keys, known_hosts and config (per-server settings, as ~/.ssh/config); each
has a flag too. -v prints debug1: lines as ssh -v does, and the stack trace after an error.

Exit codes: 0 success, 1 other failure, 2 usage error, 3 the server refused our key, 4 the server
key is unknown or does not match, 5 the server refused the operation, 6 the connection failed or
timed out, or the server stopped (sub and pull after a server stop).`;

/**
 * Runs the command line `args` and returns the exit code. Failures are one line on standard
 * error (`ovtp: …`), with the stack trace only after `--verbose`.
 *
 * @example Print the version
 * ```ts
 * import { main } from "./cli.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const io = {
 *   print: (line: string) => lines.push(line),
 *   printError: (line: string) => lines.push(line),
 *   write: () => {},
 *   outputClosed: () => false,
 *   interactive: false,
 *   columns: () => 80,
 *   readStdin: () => Promise.resolve(new Uint8Array()),
 * };
 * assert.equal(await main(["--version"], io), 0);
 * assert.match(lines[0], /^\d+\.\d+\.\d+/);
 * assert.equal(await main(["frobnicate"], io), 2);
 * ```
 */
export async function main(args: string[], io: CliIo = denoIo()): Promise<number> {
  const options = args.slice(0, args.includes("--") ? args.indexOf("--") : args.length);
  const verbose = options.includes("--verbose") || options.includes("-v");
  const [name, ...rest] = args;
  if (name === "--version" || name === "-V") {
    io.print(denoJson.version);
    return ExitCode.ok;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const command = name === "help" ? findCommand(rest[0]) : undefined;
    if (command !== undefined) {
      io.print(command.help);
      return ExitCode.ok;
    }
    (name === undefined ? io.printError : io.print)(usage);
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command = findCommand(name);
  if (command === undefined) {
    io.printError(`ovtp: unknown command "${name}"; see ovtp --help`);
    return ExitCode.usage;
  }
  if (options.includes("--help") || options.includes("-h")) {
    io.print(command.help);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    const report = reportError(error);
    // A usage error names its command as ssh and scp do: "ovtp put: unknown option --frob; …".
    const usage = error instanceof CliError && error.command !== undefined;
    io.printError(`${usage ? "ovtp " : "ovtp: "}${report.message}`);
    if (verbose) io.printError(terminalSafe(stackOf(error), { multiline: true }));
    return report.exitCode;
  }
}

function findCommand(name: string | undefined): CliCommand | undefined {
  return commands.find((command) => command.name === name);
}

/** The stack trace and the chain of causes. */
function stackOf(error: unknown): string {
  const lines: string[] = [];
  for (let cause = error, depth = 0; cause !== undefined && depth < 8; depth++) {
    lines.push(cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
    if (cause !== undefined) lines.push("caused by:");
  }
  return lines.join("\n");
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
