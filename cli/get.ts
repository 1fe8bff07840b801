/**
 * `ovtp get`: download a file or folder from the folder a server serves. This file holds the
 * command's help and how REMOTE and LOCAL are read; the client-command skeleton
 * (`client_command.ts`) parses, connects and closes, and `_transfer.ts` moves the files with a
 * progress bar and prints the summary.
 *
 * @module
 */

import { basename } from "node:path";
import { formatRemote, transferCall, transferOptions, transferOptionsHelp } from "./_transfer.ts";
import type { CliCommand } from "./cli_command.ts";
import { clientCommand } from "./client_command.ts";

/**
 * `ovtp get HOST[:PORT]:REMOTE [LOCAL]`: downloads a file (or with `-r` a folder) from the folder
 * the server serves.
 *
 * @example Download a file
 * ```ts ignore
 * await getCommand.run(["files.example:in/report.csv", "."], denoIo());
 * ```
 */
export const getCommand: CliCommand = clientCommand({
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

  options: transferOptions,
  arguments: { min: 1, max: 2, names: "HOST[:PORT]:REMOTE [LOCAL]" },
  target: { argument: 0, withPath: true },
  prepare({ values, positionals: [, localArg], target }, io) {
    const remote = target.path;
    const local = localArg ??
      (values.recursive && basename(remote) !== "" ? basename(remote) : ".");
    return transferCall(
      values,
      io,
      `${formatRemote(target.address, remote)} -> ${local}`,
      (client, options) =>
        values.recursive
          ? client.getDirectory(remote, local, options)
          : client.getFile(remote, local, options),
    );
  },
});
