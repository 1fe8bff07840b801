import { basename, resolve } from "node:path";
import { formatRemote, runTransfer, transferOptions, transferOptionsHelp } from "./_transfer.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { parseCommandArgs } from "./parse_command_args.ts";
import { parseRemoteTarget } from "./remote_target.ts";

/**
 * `ovtp put LOCAL HOST[:PORT]:REMOTE`: uploads a file (or with `-r` a folder) into the folder the
 * server serves.
 *
 * @example Upload a file
 * ```ts ignore
 * await putCommand.run(["report.csv", "files.example:in/"], denoIo());
 * ```
 */
export const putCommand: CliCommand = {
  name: "put",
  summary: "upload a file or, with -r, a folder to a server",
  help: `Usage: ovtp put [options] LOCAL HOST[:PORT]:REMOTE

Uploads LOCAL to REMOTE, a path inside the folder the server serves (its --root). The copy appears
whole or not at all: the server checks the content's digest before it renames it into place. An
existing file is refused unless --force. A REMOTE that is empty or ends with / gets LOCAL's name:
"put a.txt host:" makes a.txt, "put a.txt host:in/" makes in/a.txt. With -r, REMOTE becomes a copy
of the folder LOCAL. A port is read only when a second colon follows it: host:2024:a.txt.

Shows a progress bar when standard output is a terminal; otherwise prints only the result line.

${transferOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  async run(args, io) {
    const { values, positionals } = parseCommandArgs("put", args, transferOptions, {
      min: 2,
      max: 2,
      names: "LOCAL HOST[:PORT]:REMOTE",
    });
    const [local, targetText] = positionals;
    const target = parseRemoteTarget(targetText);
    if (target === undefined) {
      throw CliError.usage("put", `"${targetText}" names no server; expected HOST[:PORT]:REMOTE`);
    }
    const info = await Deno.stat(local).catch((error) => {
      if (error instanceof Deno.errors.NotFound) {
        throw new CliError(`Cannot read ${local}: it does not exist`, undefined, { cause: error });
      }
      throw error;
    });
    if (info.isDirectory && !values.recursive) {
      throw new CliError(`${local} is a folder; pass -r to upload it with everything in it`);
    }
    const remote = target.path === "" || target.path.endsWith("/")
      ? `${target.path}${basename(resolve(local))}`
      : target.path;
    return await runTransfer(
      "put",
      target.address,
      values,
      io,
      `${local} -> ${formatRemote(target.address, remote)}`,
      (client, options) =>
        info.isDirectory
          ? client.sendDirectory(local, remote, options)
          : client.sendFile(local, remote, options),
    );
  },
};
