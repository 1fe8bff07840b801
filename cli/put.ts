/**
 * `ovtp put`: upload files or folders into the folder a server serves, as `scp` does (several
 * sources go into a folder; `-` uploads standard input). This file holds the command's help and
 * how LOCAL and REMOTE are read; the client-command skeleton (`client_command.ts`) parses,
 * connects and closes, and `_transfer.ts` moves the files with a progress bar and prints the
 * summary.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import type { OvtpClient } from "../client.ts";
import type { FileTransferOptions, TransferResult } from "../transfer/file_transfer_options.ts";
import {
  addResults,
  formatRemote,
  intoFolder,
  isRemoteFolder,
  transferCall,
  transferOptions,
  transferOptionsHelp,
  withPrivateTempFolder,
} from "./_transfer.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";

/** Standard input as a source. */
const stdinSource = "-";

/**
 * `ovtp put LOCAL… HOST[:PORT]:REMOTE`: uploads files (or with `-r` folders), or standard input
 * for `-`, into the folder the server serves.
 *
 * @example Upload two files into a folder
 * ```ts ignore
 * await putCommand.run(["report.csv", "notes.txt", "files.example:in/"], denoIo());
 * ```
 */
export const putCommand: CliCommand = clientCommand({
  name: "put",
  summary: "upload files or, with -r, folders to a server (- for standard input)",
  help: `Usage: ovtp put [options] LOCAL... HOST[:PORT]:REMOTE

Uploads LOCAL to REMOTE, a path inside the folder the server serves (its --root). The copy appears
whole or not at all: the server checks the content's digest before it renames it into place. An
existing file is refused unless --force. As with scp, a REMOTE that is empty, ends with / or names
an existing folder receives LOCAL under its own name: "put a.txt host:" makes a.txt,
"put a.txt host:in/" makes in/a.txt; with several LOCALs, REMOTE must be such a folder. With -r, a
folder LOCAL is copied with everything in it ("put -r site host:www" makes www, or www/site when www
exists). A port is read only when a second colon follows it: host:2024:a.txt.

LOCAL - uploads standard input to REMOTE, which must name the file ("tar c . | ovtp put -
host:backup.tar"). The protocol announces the size first, so standard input is kept in a private
temporary file (mode 0600, in a 0700 folder under $TMPDIR) until it ends, then sent; it is removed
afterwards. The digest is computed while the content is sent and checked by the server. The copy
gets mode 0600, as the temporary file has (upload a file instead to give the copy its mode).

An upload that was cut continues from its last verified chunk when run again with the same source
(same size and time); --no-resume starts over.

Shows a progress bar on standard error when it is a terminal; otherwise prints only the result line.

${transferOptionsHelp}

Needs --allow-net --allow-read --allow-env (and --allow-write with --accept-new or -).`,

  options: transferOptions,
  arguments: { min: 2, max: Infinity, names: "LOCAL... HOST[:PORT]:REMOTE" },
  target: { argument: -1, withPath: true },
  async prepare({ values, positionals, target }, io) {
    const sources = positionals.slice(0, -1);
    if (sources.includes(stdinSource)) {
      if (sources.length > 1) {
        throw CliError.usage("put", "- (standard input) must be the only LOCAL");
      }
      if (target.path === "" || target.path.endsWith("/")) {
        throw CliError.usage("put", "put - needs the file's name: HOST[:PORT]:PATH");
      }
      return transferCall(
        values,
        io,
        `- -> ${formatRemote(target.address, target.path)}`,
        (client, options) => putStdin(client, io, target.path, options),
      );
    }
    const folders = new Set<string>();
    for (const local of sources) {
      const info = await Deno.stat(local).catch((error) => {
        if (error instanceof Deno.errors.NotFound) {
          throw new CliError(`${local}: No such file or directory`, undefined, {
            cause: error,
          });
        }
        throw error;
      });
      if (info.isDirectory && !values.recursive) {
        throw new CliError(`${local} is a folder; pass -r to upload it with everything in it`);
      }
      if (info.isDirectory) folders.add(local);
    }
    let destination = target.path;
    return transferCall(
      values,
      io,
      () => `${sources.join(" ")} -> ${formatRemote(target.address, destination)}`,
      async (client, options) => {
        const into = target.path === "" || target.path.endsWith("/") ||
          await isRemoteFolder(client, target.path);
        if (sources.length > 1 && !into) {
          throw new CliError(
            `${
              formatRemote(target.address, target.path)
            } is not a folder on the server; several LOCALs go into a folder (end REMOTE with / to name one)`,
          );
        }
        const results: TransferResult[] = [];
        for (const local of sources) {
          const remote = into ? intoFolder(target.path, basename(resolve(local))) : target.path;
          if (sources.length === 1) destination = remote;
          results.push(
            folders.has(local)
              ? await client.sendDirectory(local, remote, options)
              : await client.sendFile(local, remote, options),
          );
        }
        return addResults(results);
      },
    );
  },
});

/**
 * Uploads standard input: kept in a private temporary file until it ends (the PUT head
 * announces the size), sent from there, then removed.
 */
async function putStdin(
  client: OvtpClient,
  io: CliIo,
  remote: string,
  options: FileTransferOptions,
): Promise<TransferResult> {
  const stdin = io.stdin;
  if (stdin === undefined) throw new CliError("put -: no standard input here");
  return await withPrivateTempFolder("ovtp_put_", async (folder) => {
    const spool = join(folder, "stdin");
    const file = await Deno.open(spool, { write: true, createNew: true, mode: 0o600 });
    await stdin().pipeTo(file.writable);
    return await client.sendFile(spool, remote, { ...options, resume: false });
  });
}
