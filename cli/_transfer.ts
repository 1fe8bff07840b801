/**
 * What `put` and `get` share: their options, and the {@linkcode ClientCall} that moves the files
 * with a progress bar and prints the summary line (the client-command skeleton,
 * `client_command.ts`, connects and closes around it).
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../address.ts";
import { FileError } from "../errors.ts";
import type { OvtpClient } from "../client.ts";
import type { FileTransferOptions, TransferResult } from "../transfer/file_transfer_options.ts";
import { formatBytes, formatMs } from "./_format.ts";
import type { CliIo } from "./cli_io.ts";
import type { ClientCall } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { ProgressBar } from "./progress_bar.ts";
import { stopSignals } from "./stop_signals.ts";

/** The options of `put` and `get` (besides the client options). */
export const transferOptions = {
  recursive: { type: "boolean", short: "r" },
  "no-resume": { type: "boolean" },
  resume: { type: "boolean" }, // resuming is the default; the flag is kept for old scripts
  force: { type: "boolean", short: "f" },
  preserve: { type: "boolean", short: "p" },
  sync: { type: "boolean" },
  "keep-symlinks": { type: "boolean" },
} as const;

/** Help lines for {@linkcode transferOptions}. */
export const transferOptionsHelp = `Options:
  -r, --recursive         copy a folder and everything in it
  -f, --force             replace files that exist at the destination
  --no-resume             start over instead of continuing an interrupted copy (by default a
                          copy that was cut continues from its last verified chunk when the
                          source's size and time are unchanged; --resume is still accepted)
  -p, --preserve          give copies the source's permission bits and modification time
  --sync                  with -r: skip files whose size and content already match (never deletes)
  --keep-symlinks         copy symbolic links as links instead of what they point to
${clientOptionsHelp}`;

/** The values of {@linkcode transferOptions} after parsing. */
export interface TransferFlags {
  quiet?: boolean;
  recursive?: boolean;
  resume?: boolean;
  "no-resume"?: boolean;
  force?: boolean;
  preserve?: boolean;
  sync?: boolean;
  "keep-symlinks"?: boolean;
  json?: boolean;
}

/**
 * Runs one transfer with a progress bar when standard error is a terminal (and neither
 * `--quiet` nor `--json` is given), and once the client is closed prints what moved.
 *
 * @param flags The parsed options.
 * @param io Where to draw and print.
 * @param what How the summary names the transfer (`a.txt -> host:4242:in/a.txt`); a function
 * when it is known only once connected (a destination folder found on the server).
 * @param transfer Moves the files.
 * @param summaryOnStderr Print the summary on standard error: standard output carries the
 * content (`get HOST:PATH -`).
 * @returns The call, for the client-command skeleton.
 */
export function transferCall(
  flags: TransferFlags,
  io: CliIo,
  what: string | (() => string),
  transfer: (client: OvtpClient, options: FileTransferOptions) => Promise<TransferResult>,
  summaryOnStderr = false,
): ClientCall<TransferResult> {
  // On standard error, as curl draws it: `get HOST:f - | tar x` still shows it, a pipe does not.
  const writeError = io.writeError;
  const bar = io.errorInteractive && writeError !== undefined && !flags.quiet && !flags.json
    ? new ProgressBar({ write: (text) => writeError(text), columns: () => io.columns() })
    : undefined;
  let started = 0;
  return {
    async use(client) {
      started = performance.now();
      try {
        return await transfer(client, {
          overwrite: flags.force === true,
          resume: flags["no-resume"] !== true,
          preserve: flags.preserve === true,
          sync: flags.sync === true,
          keepSymlinks: flags["keep-symlinks"] === true,
          onProgress: bar === undefined ? undefined : (progress) => bar.update(progress),
        });
      } finally {
        bar?.finish();
      }
    },
    report(result) {
      const ms = performance.now() - started;
      const print = summaryOnStderr ? io.printError : io.print;
      if (flags.json) {
        print(JSON.stringify({ ...result, seconds: Number((ms / 1000).toFixed(3)) }));
      } else if (!flags.quiet) {
        print(summary(typeof what === "string" ? what : what(), result, ms));
      }
      return ExitCode.ok;
    },
  };
}

/** `a.txt -> h:4242:in/a.txt: 1 file, 4.0 MiB in 120.5 ms (33.2 MiB/s)`. */
function summary(what: string, result: TransferResult, ms: number): string {
  const parts = [`${result.files} ${result.files === 1 ? "file" : "files"}`];
  if (result.skipped > 0) parts.push(`${result.skipped} already up to date`);
  const rate = ms > 0 ? `${formatBytes(result.bytes / (ms / 1000))}/s` : "";
  let line = `${what}: ${parts.join(", ")}, ${formatBytes(result.bytes)} in ${formatMs(ms)}`;
  if (rate !== "") line += ` (${rate})`;
  if (result.resumedBytes > 0) line += `, resumed after ${formatBytes(result.resumedBytes)}`;
  return line;
}

/**
 * Names a remote path for messages: `host:port:path`.
 *
 * @param address The server.
 * @param path The remote path.
 * @returns The text.
 */
export function formatRemote(address: HostPort, path: string): string {
  return `${formatHostPort(address)}:${path}`;
}

/**
 * Adds up the results of several transfers (`put a b HOST:dir/`); the digest is kept only for
 * one file.
 *
 * @param results One per source.
 * @returns The total.
 */
export function addResults(results: TransferResult[]): TransferResult {
  if (results.length === 1) return results[0];
  const total = { files: 0, skipped: 0, bytes: 0, resumedBytes: 0 };
  for (const result of results) {
    total.files += result.files;
    total.skipped += result.skipped;
    total.bytes += result.bytes;
    total.resumedBytes += result.resumedBytes;
  }
  return total;
}

/**
 * Where a source named `name` goes inside the folder `folder` (`""` is the served root).
 *
 * @param folder The folder, with or without a trailing `/`.
 * @param name The source's name.
 * @returns The path.
 */
export function intoFolder(folder: string, name: string): string {
  if (folder === "") return name;
  return folder.endsWith("/") ? `${folder}${name}` : `${folder}/${name}`;
}

/**
 * Whether `path` names a folder on the server (`""`, the served root, always does); false
 * when it does not exist or cannot be looked at (a write-only key may not STAT: its upload then
 * goes to `path` itself, and the upload reports any refusal).
 *
 * @param client The connected client.
 * @param path The remote path.
 * @returns Whether a copy goes into it.
 */
export async function isRemoteFolder(client: OvtpClient, path: string): Promise<boolean> {
  if (path === "" || path === ".") return true;
  try {
    return (await client.stat(path)).type === "directory";
  } catch (error) {
    if (error instanceof FileError) return false;
    throw error;
  }
}

/** Exit status after a stop signal, as a shell reports it: 128 + the signal's number. */
const signalExitCodes: Partial<Record<Deno.Signal, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs `use` with a new private temporary folder (mode 0700, under `$TMPDIR`) and removes it
 * afterwards, also on an error and on Ctrl-C or SIGTERM (which then end the process, with
 * 130 or 143 as a shell would report): where `put -` and `get … -` keep a stream.
 *
 * @param prefix The folder's name starts with it.
 * @param use Works in the folder.
 * @returns What `use` returns.
 */
export async function withPrivateTempFolder<T>(
  prefix: string,
  use: (folder: string) => Promise<T>,
): Promise<T> {
  const folder = await Deno.makeTempDir({ prefix }); // mode 0700
  const listeners = stopSignals.map((signal) => {
    const listener = () => {
      try {
        Deno.removeSync(folder, { recursive: true });
      } finally {
        Deno.exit(signalExitCodes[signal] ?? ExitCode.failure);
      }
    };
    Deno.addSignalListener(signal, listener);
    return { signal, listener };
  });
  try {
    return await use(folder);
  } finally {
    for (const { signal, listener } of listeners) Deno.removeSignalListener(signal, listener);
    await Deno.remove(folder, { recursive: true });
  }
}
