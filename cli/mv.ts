/**
 * `ovtp mv`: renames or moves a remote path inside the served folder (RENAME, SPEC.md 11.8).
 * This file holds the command's help and how TO is read; parsing, the target, connecting and
 * closing are the client-command skeleton's (`client_command.ts`).
 *
 * @module
 */

import { posix } from "node:path";
import { FileError } from "../errors.ts";
import { quotePath } from "../files/_os_error.ts";
import { pathOnServer, remotePathOrRoot, remoteProblem } from "./_remote_files.ts";
import type { CliCommand } from "./cli_command.ts";
import { CliError } from "./cli_error.ts";
import { clientCommand } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { parseRemoteTarget } from "./remote_target.ts";

/**
 * `ovtp mv [-f] HOST[:PORT]:FROM TO`: moves FROM to TO on the same server; TO is a path relative
 * to the served folder, or `HOST[:PORT]:TO`. Into an existing folder when TO is one.
 *
 * @example Rename an upload
 * ```ts ignore
 * await mvCommand.run(["files.example:in/report.csv", "done/report.csv"], denoIo());
 * ```
 */
export const mvCommand: CliCommand = clientCommand({
  name: "mv",
  summary: "rename or move a remote file or folder inside the served folder",
  help: `Usage: ovtp mv [options] HOST[:PORT]:FROM TO

Renames FROM to TO in one step, inside the folder the server serves (nothing moves in or out of
it, nor across file systems). TO is a path in that folder (relative to it, like FROM), or the same
HOST[:PORT]:TO. When TO is an existing folder (or ends in /), FROM moves into it under its own
name. An existing TO is refused unless -f; a symbolic link is moved itself, not what it points to.

Options:
  -f, --force             replace an existing TO (a file by a file, an empty folder by a folder)

${clientOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new).`,

  options: { force: { type: "boolean", short: "f" } },
  arguments: { min: 2, max: 2, names: "HOST[:PORT]:FROM TO" },
  target: { argument: 0, withPath: true },
  prepare({ values, positionals: [, toArgument], target }) {
    const from = remotePathOrRoot(target.path);
    const to = parseRemoteTarget(toArgument) === undefined
      ? toArgument
      : pathOnServer("mv", toArgument, target.address);
    if (to === "") throw CliError.usage("mv", "TO is empty; name the new path");
    return {
      async use(client) {
        let destination = to;
        const into = to.endsWith("/") || await isFolder(() => client.stat(to));
        if (into) destination = posix.join(to, posix.basename(from.replace(/\/+$/, "")));
        try {
          await client.rename(from, destination, { overwrite: values.force ?? false });
        } catch (error) {
          throw remoteProblem(error, namedPath(error, from, destination), "-f");
        }
      },
    };
  },
});

/**
 * Which of the two paths a refusal is about: the destination for `exists`, `not_empty` and
 * `unsupported_type` (what is there cannot be replaced) or when the server's message names it
 * first, else the source.
 */
function namedPath(error: unknown, from: string, to: string): string {
  if (!(error instanceof FileError)) return from;
  if (["exists", "not_empty", "unsupported_type"].includes(error.reason)) return to;
  return error.message.includes(`Cannot rename ${quotePath(to)}`) ? to : from;
}

/** Whether `stat` says a folder; false when it is missing or anything else. */
async function isFolder(stat: () => Promise<{ type: string }>): Promise<boolean> {
  try {
    return (await stat()).type === "directory";
  } catch (error) {
    if (error instanceof FileError && error.remote) return false;
    throw error;
  }
}
