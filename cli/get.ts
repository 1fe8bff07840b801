/**
 * `ovtp get`: download files or folders from the folder a server serves, as `scp` does (several
 * sources go into a folder; `-` writes to standard output). This file holds the command's help
 * and how REMOTE and LOCAL are read; the client-command skeleton (`client_command.ts`) parses,
 * connects and closes, and `_transfer.ts` moves the files with a progress bar and prints the
 * summary.
 *
 * @module
 */

import { basename, join } from "node:path";
import type { OvtpClient } from "../client.ts";
import type { FileTransferOptions, TransferResult } from "../transfer/file_transfer_options.ts";
import { parseRemoteTarget } from "./remote_target.ts";
import {
  addResults,
  formatRemote,
  transferCall,
  transferOptions,
  transferOptionsHelp,
  withPrivateTempFolder,
} from "./_transfer.ts";
import { CliError } from "./cli_error.ts";
import type { CliCommand } from "./cli_command.ts";
import type { CliIo } from "./cli_io.ts";
import { clientCommand } from "./client_command.ts";
import { formatHostPort } from "../address.ts";

/** Standard output as the destination. */
const stdoutDestination = "-";
/** Bytes read from the verified copy at a time when it is written to standard output. */
const copyBufferBytes = 1024 * 1024;

/**
 * `ovtp get HOST[:PORT]:REMOTE... [LOCAL]`: downloads files (or with `-r` folders) from the
 * folder the server serves, or one file to standard output for `-`.
 *
 * @example Download a file
 * ```ts ignore
 * await getCommand.run(["files.example:in/report.csv", "."], denoIo());
 * ```
 */
export const getCommand: CliCommand = clientCommand({
  name: "get",
  summary: "download files or, with -r, folders from a server (- for standard output)",
  help: `Usage: ovtp get [options] HOST[:PORT]:REMOTE... [LOCAL]

Downloads REMOTE, a path inside the folder the server serves, to LOCAL (default: the current
folder). The copy appears whole or not at all: its digest is checked before it is renamed into
place. An existing file is refused unless --force. As with scp, an existing folder LOCAL receives
REMOTE under its own name, with -r too ("get -r host:www site" makes site/www when site exists, else
site); several REMOTEs (all on one server) need an existing folder LOCAL. A port is read only when a
second colon follows it: host:2024:a.txt.

LOCAL - writes the file to standard output ("ovtp get host:backup.tar - | tar x"). Nothing is
written before the whole content's digest matched: the file is first downloaded into a private
temporary folder (0700, under $TMPDIR), then copied out and removed. A digest mismatch writes
nothing and fails (exit code 1 or more). The result line then goes to standard error.

A download that was cut continues from its last verified chunk when run again; --no-resume starts
over.

Shows a progress bar on standard error when it is a terminal; otherwise prints only the result line.

${transferOptionsHelp}

Needs --allow-net --allow-read --allow-write --allow-env.`,

  options: transferOptions,
  arguments: { min: 1, max: Infinity, names: "HOST[:PORT]:REMOTE... [LOCAL]" },
  target: { argument: 0, withPath: true },
  prepare({ values, positionals, target }, io) {
    const sources = positionals.length === 1 ? positionals : positionals.slice(0, -1);
    const localArg = positionals.length === 1 ? undefined : positionals.at(-1)!;
    if (localArg !== undefined && parseRemoteTarget(localArg) !== undefined) {
      throw CliError.usage(
        "get",
        `"${localArg}" names a server; the last argument is the LOCAL destination`,
      );
    }
    const remotes = sources.map((source) => {
      const parsed = parseRemoteTarget(source);
      if (parsed === undefined) {
        throw CliError.usage("get", `"${source}" names no server; expected HOST[:PORT]:REMOTE`);
      }
      if (formatHostPort(parsed.address) !== formatHostPort(target.address)) {
        throw CliError.usage("get", "every REMOTE must be on the same server");
      }
      return parsed.path;
    });
    const root = remotes.find((remote) => remote === "" || remote === ".");
    if (root !== undefined && !values.recursive) {
      // HOST: names the served folder, which only -r downloads (scp: "not a regular file").
      throw new CliError(
        `${formatRemote(target.address, root)} is the served folder; pass -r to download it`,
      );
    }
    const where = (local: string) =>
      `${remotes.map((remote) => formatRemote(target.address, remote)).join(" ")} -> ${local}`;
    if (localArg === stdoutDestination) {
      if (remotes.length > 1 || values.recursive) {
        throw CliError.usage("get", "- (standard output) takes one file, without -r");
      }
      return transferCall(
        values,
        io,
        where("-"),
        (client, options) => getToStdout(client, io, remotes[0], options),
        true,
      );
    }
    let destination = localArg ?? ".";
    return transferCall(values, io, () => where(destination), async (client, options) => {
      const folder = localArg === undefined
        ? undefined
        : await Deno.stat(localArg).then((info) => info.isDirectory, () => false);
      if (remotes.length > 1 && localArg !== undefined && !folder) {
        throw new CliError(`${localArg} is not a folder; several REMOTEs go into a folder`);
      }
      const results: TransferResult[] = [];
      for (const remote of remotes) {
        if (!values.recursive) {
          results.push(await client.getFile(remote, localArg ?? ".", options));
          continue;
        }
        // As scp -r: an existing folder receives the copy under REMOTE's name.
        const name = basename(remote);
        const local = localArg === undefined
          ? (name === "" ? "." : name)
          : folder && name !== "" && name !== "."
          ? join(localArg, name)
          : localArg;
        if (remotes.length === 1) destination = local;
        results.push(await client.getDirectory(remote, local, options));
      }
      return addResults(results);
    });
  },
});

/**
 * Downloads one file into a private temporary folder (its digest checked there), then copies
 * it to standard output and removes it: nothing unverified reaches standard output. Stops
 * quietly when the reader closes standard output (`| head`).
 */
async function getToStdout(
  client: OvtpClient,
  io: CliIo,
  remote: string,
  options: FileTransferOptions,
): Promise<TransferResult> {
  const writeBytes = io.writeBytes;
  if (writeBytes === undefined) throw new CliError("get -: no standard output here");
  return await withPrivateTempFolder("ovtp_get_", async (folder) => {
    const copy = join(folder, "content");
    const result = await client.getFile(remote, copy, { ...options, resume: false });
    using file = await Deno.open(copy);
    const buffer = new Uint8Array(copyBufferBytes);
    for (;;) {
      const read = await file.read(buffer);
      if (read === null) break;
      if (!await writeBytes(buffer.subarray(0, read))) break;
    }
    return result;
  });
}
