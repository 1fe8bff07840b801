/**
 * What `put` and `get` share: their options, the progress bar and the summary line.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../address.ts";
import type { OvtpClient } from "../client.ts";
import type { FileTransferOptions, TransferResult } from "../transfer/file_transfer_options.ts";
import { formatBytes, formatMs } from "./_format.ts";
import type { CliIo } from "./cli_io.ts";
import {
  type ClientFlags,
  clientOptions,
  clientOptionsHelp,
  connectClient,
} from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { ProgressBar } from "./progress_bar.ts";

/** The options of `put` and `get`. */
export const transferOptions = {
  ...clientOptions,
  recursive: { type: "boolean", short: "r" },
  resume: { type: "boolean" },
  force: { type: "boolean", short: "f" },
  preserve: { type: "boolean", short: "p" },
  sync: { type: "boolean" },
  "keep-symlinks": { type: "boolean" },
} as const;

/** Help lines for {@linkcode transferOptions}. */
export const transferOptionsHelp = `Options:
  -r, --recursive         copy a folder and everything in it
  -f, --force             replace files that exist at the destination
  --resume                continue an interrupted copy from its last verified chunk
  -p, --preserve          give copies the source's permission bits and modification time
  --sync                  with -r: skip files whose size and content already match (never deletes)
  --keep-symlinks         copy symbolic links as links instead of what they point to
${clientOptionsHelp}`;

/** The values of {@linkcode transferOptions} after parsing. */
export interface TransferFlags extends ClientFlags {
  recursive?: boolean;
  resume?: boolean;
  force?: boolean;
  preserve?: boolean;
  sync?: boolean;
  "keep-symlinks"?: boolean;
  json?: boolean;
}

/**
 * Connects, runs one transfer with a progress bar when standard output is a terminal (and
 * neither `--quiet` nor `--json` is given), and prints what moved.
 *
 * @param command `put` or `get`.
 * @param address The server.
 * @param flags The parsed options.
 * @param io Where to draw and print.
 * @param what How the summary names the transfer (`a.txt -> host:4242:in/a.txt`).
 * @param transfer Moves the files.
 * @returns The exit code.
 */
export async function runTransfer(
  command: string,
  address: HostPort,
  flags: TransferFlags,
  io: CliIo,
  what: string,
  transfer: (client: OvtpClient, options: FileTransferOptions) => Promise<TransferResult>,
): Promise<number> {
  const bar = io.interactive && !flags.quiet && !flags.json
    ? new ProgressBar({ write: (text) => io.write(text), columns: () => io.columns() })
    : undefined;
  const client = await connectClient(command, address, flags, io);
  const started = performance.now();
  let result: TransferResult;
  try {
    result = await transfer(client, {
      overwrite: flags.force === true,
      resume: flags.resume === true,
      preserve: flags.preserve === true,
      sync: flags.sync === true,
      keepSymlinks: flags["keep-symlinks"] === true,
      onProgress: bar === undefined ? undefined : (progress) => bar.update(progress),
    });
  } finally {
    bar?.finish();
    await client.close();
  }
  const ms = performance.now() - started;
  if (flags.json) {
    io.print(JSON.stringify({ ...result, seconds: Number((ms / 1000).toFixed(3)) }));
  } else if (!flags.quiet) {
    io.print(summary(what, result, ms));
  }
  return ExitCode.ok;
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
