import { basename } from "node:path";
import { formatRemote, runTransfer, transferOptions, transferOptionsHelp } from "./_transfer.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { parseCommandArgs } from "./parse_command_args.ts";
import { parseRemoteTarget } from "./remote_target.ts";

/**
 * `ovtp get HOST[:PORT]:REMOTE [LOCAL]`: downloads a file (or with `-r` a folder) from the folder
 * the server serves.
 *
 * @example Download a file
 * ```ts ignore
 * await getCommand.run(["files.example:in/report.csv", "."], denoIo());
 * ```
 */
export const getCommand: CliCommand = {
  name: "get",
  summary: "download a file or, with -r, a folder from a server",
  help: `Usage: ovtp get [options] HOST[:PORT]:REMOTE [LOCAL]

Downloads REMOTE, a path inside the folder the server serves, to LOCAL (default: the current
folder). The copy appears whole or not at all: its digest is checked before it is renamed into
place. An existing file is refused unless --force; an existing folder LOCAL receives the file under
its remote name. With -r, LOCAL becomes a copy of the folder REMOTE (default: a folder named after
REMOTE). A port is read only when a second colon follows it: host:2024:a.txt.

Shows a progress bar when standard output is a terminal; otherwise prints only the result line.

${transferOptionsHelp}

Needs --allow-net --allow-read --allow-write --allow-env.`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("get", args, transferOptions, {
      min: 1,
      max: 2,
      names: "HOST[:PORT]:REMOTE [LOCAL]",
    });
    const [targetText, localArg] = positionals;
    const target = parseRemoteTarget(targetText);
    if (target === undefined) {
      throw CliError.usage("get", `"${targetText}" names no server; expected HOST[:PORT]:REMOTE`);
    }
    const remote = target.path;
    const local = localArg ??
      (values.recursive && basename(remote) !== "" ? basename(remote) : ".");
    return await runTransfer(
      "get",
      target.address,
      values,
      io,
      `${formatRemote(target.address, remote)} -> ${local}`,
      (client, options) =>
        values.recursive
          ? client.getDirectory(remote, local, options)
          : client.getFile(remote, local, options),
    );
  },
};
