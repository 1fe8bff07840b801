/**
 * `ovtp put`: upload a file or folder into the folder a server serves. This file holds the
 * command's help and how LOCAL and REMOTE are read; the client-command skeleton
 * (`client_command.ts`) parses, connects and closes, and `_transfer.ts` moves the files with a
 * progress bar and prints the summary.
 *
 * @module
 */

import { basename, resolve } from "node:path";
import { formatRemote, transferCall, transferOptions, transferOptionsHelp } from "./_transfer.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientCommand } from "./client_command.ts";

/**
 * `ovtp put LOCAL HOST[:PORT]:REMOTE`: uploads a file (or with `-r` a folder) into the folder the
 * server serves.
 *
 * @example Upload a file
 * ```ts ignore
 * await putCommand.run(["report.csv", "files.example:in/"], denoIo());
 * ```
 */
export const putCommand: CliCommand = clientCommand({
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

  options: transferOptions,
  arguments: { min: 2, max: 2, names: "LOCAL HOST[:PORT]:REMOTE" },
  target: { argument: 1, withPath: true },
  async prepare({ values, positionals: [local], target }, io) {
    const info = await Deno.stat(local).catch((error) => {
      if (error instanceof Deno.errors.NotFound) {
        throw new CliError(`${local}: No such file or directory`, undefined, { cause: error });
      }
      throw error;
    });
    if (info.isDirectory && !values.recursive) {
      throw new CliError(`${local} is a folder; pass -r to upload it with everything in it`);
    }
    const remote = target.path === "" || target.path.endsWith("/")
      ? `${target.path}${basename(resolve(local))}`
      : target.path;
    return transferCall(
      values,
      io,
      `${local} -> ${formatRemote(target.address, remote)}`,
      (client, options) =>
        info.isDirectory
          ? client.sendDirectory(local, remote, options)
          : client.sendFile(local, remote, options),
    );
  },
});
