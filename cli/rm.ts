/**
 * `ovtp rm`: removes remote files, links and folders (REMOVE, SPEC.md 11.7). This file holds the
 * command's help and what it prints; parsing, the target, connecting and closing are the
 * client-command skeleton's (`client_command.ts`).
 *
 * @module
 */

import { terminalSafe } from "./_terminal_text.ts";
import { pathOnServer, remotePathOrRoot, remoteProblem } from "./_remote_files.ts";
import type { CliCommand } from "./cli_command.ts";
import { CliError } from "./cli_error.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";

/**
 * `ovtp rm [-r] [-f] HOST[:PORT]:PATH…`: removes each PATH on the server; with `-r`, folders and
 * everything in them; with `-f`, a missing path is not an error.
 *
 * @example Remove two files
 * ```ts ignore
 * await rmCommand.run(["files.example:a.csv", "files.example:b.csv"], denoIo());
 * ```
 */
export const rmCommand: CliCommand = clientCommand({
  name: "rm",
  summary: "remove remote files, links and (with -r) folders",
  help: `Usage: ovtp rm [options] HOST[:PORT]:PATH...

Removes each PATH from the folder the server serves: a file, a symbolic link (the link itself,
never what it points to) or an empty folder; with -r, a folder and everything in it. All PATHs are
on one server. The server checks a whole folder before it removes anything, and leaves it as it is
if it holds an upload in progress. Each failure is one line on standard error; the others are
still removed. Exits 5 if any PATH was refused.

Options:
  -r, --recursive         remove folders and what they hold
  -f, --force             a PATH that does not exist is not an error

${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: {
    recursive: { type: "boolean", short: "r" },
    force: { type: "boolean", short: "f" },
  },
  arguments: { min: 1, max: Infinity, names: "HOST[:PORT]:PATH..." },
  target: { argument: 0, withPath: true },
  prepare({ values, positionals: [, ...more], target }, io) {
    const paths = [
      remotePathOrRoot(target.path),
      ...more.map((argument) => pathOnServer("rm", argument, target.address)),
    ];
    return {
      async use(client) {
        let failed = 0;
        for (const path of paths) {
          try {
            const removed = await client.remove(path, { recursive: values.recursive ?? false });
            if (values.verbose) io.printError(`removed ${terminalSafe(path)} (${removed})`);
          } catch (error) {
            const problem = remoteProblem(error, path);
            if (!(problem instanceof CliError)) throw problem;
            const missing = (problem.cause as { reason?: string }).reason === "not_found";
            if (missing && values.force) continue;
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
