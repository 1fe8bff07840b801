/**
 * `ovtp mkdir`: makes remote folders (MKDIR, SPEC.md 11.6). This file holds the command's help
 * and what it prints; parsing, the target, connecting and closing are the client-command
 * skeleton's (`client_command.ts`).
 *
 * @module
 */

import { pathOnServer, remotePathOrRoot, remoteProblem } from "./_remote_files.ts";
import { terminalSafe } from "./_terminal_text.ts";
import type { CliCommand } from "./cli_command.ts";
import { CliError } from "./cli_error.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";

/**
 * `ovtp mkdir [-p] HOST[:PORT]:PATH…`: makes each folder; with `-p`, its missing parents too,
 * and an existing folder is not an error.
 *
 * @example Make a folder and its parents
 * ```ts ignore
 * await mkdirCommand.run(["-p", "files.example:in/2024/11"], denoIo());
 * ```
 */
export const mkdirCommand: CliCommand = clientCommand({
  name: "mkdir",
  summary: "make remote folders (-p: with their parents)",
  help: `Usage: ovtp mkdir [options] HOST[:PORT]:PATH...

Makes each folder PATH in the folder the server serves (mode 0755 less the server's umask). All
PATHs are on one server. Without -p, the parent must exist and an existing PATH is an error
("File exists"), as with mkdir. Each failure is one line on standard error; exits 5 if any PATH
was refused.

Options:
  -p, --parents           make missing parents too; an existing folder is fine

${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: { parents: { type: "boolean", short: "p" } },
  arguments: { min: 1, max: Infinity, names: "HOST[:PORT]:PATH..." },
  target: { argument: 0, withPath: true },
  prepare({ values, positionals: [, ...more], target }, io) {
    const paths = [
      remotePathOrRoot(target.path),
      ...more.map((argument) => pathOnServer("mkdir", argument, target.address)),
    ];
    const parents = values.parents ?? false;
    return {
      async use(client) {
        let failed = 0;
        for (const path of paths) {
          try {
            const created = await client.mkdir(path, { parents });
            if (!created && !parents) {
              io.printError(`ovtp: ${terminalSafe(path)}: File exists`);
              failed++;
            } else if (values.verbose) {
              io.printError(`${created ? "made" : "exists"} ${terminalSafe(path)}`);
            }
          } catch (error) {
            const problem = remoteProblem(error, path);
            if (!(problem instanceof CliError)) throw problem;
            io.printError(`ovtp: ${problem.message}`);
            failed++;
          }
        }
        return failed;
      },
      report: (failed) => failed === 0 ? ExitCode.ok : ExitCode.refused,
    };
  },
});
