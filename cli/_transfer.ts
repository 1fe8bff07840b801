/**
 * What `put` and `get` share: their options, and the {@linkcode ClientCall} that moves the files
 * with a progress bar and prints the summary line (the client-command skeleton,
 * `client_command.ts`, connects and closes around it).
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../address.ts";
import type { OvtpClient } from "../client.ts";
import type { FileTransferOptions, TransferResult } from "../transfer/file_transfer_options.ts";
import { formatBytes, formatMs } from "./_format.ts";
import type { CliIo } from "./cli_io.ts";
import type { ClientCall } from "./client_command.ts";
import { clientOptionsHelp } from "./connect_client.ts";
import { ExitCode } from "./exit_codes.ts";
import { ProgressBar } from "./progress_bar.ts";

/** The options of `put` and `get` (besides the client options). */
export const transferOptions = {
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
export interface TransferFlags {
  quiet?: boolean;
  recursive?: boolean;
  resume?: boolean;
  force?: boolean;
  preserve?: boolean;
  sync?: boolean;
  "keep-symlinks"?: boolean;
  json?: boolean;
}

/**
 * Runs one transfer with a progress bar when standard output is a terminal (and neither
 * `--quiet` nor `--json` is given), and once the client is closed prints what moved.
 *
 * @param flags The parsed options.
 * @param io Where to draw and print.
 * @param what How the summary names the transfer (`a.txt -> host:4242:in/a.txt`).
 * @param transfer Moves the files.
 * @returns The call, for the client-command skeleton.
 */
export function transferCall(
  flags: TransferFlags,
  io: CliIo,
  what: string,
  transfer: (client: OvtpClient, options: FileTransferOptions) => Promise<TransferResult>,
): ClientCall<TransferResult> {
  const bar = io.interactive && !flags.quiet && !flags.json
    ? new ProgressBar({ write: (text) => io.write(text), columns: () => io.columns() })
    : undefined;
  let started = 0;
  return {
    async use(client) {
      started = performance.now();
      try {
        return await transfer(client, {
          overwrite: flags.force === true,
          resume: flags.resume === true,
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
      if (flags.json) {
        io.print(JSON.stringify({ ...result, seconds: Number((ms / 1000).toFixed(3)) }));
      } else if (!flags.quiet) {
        io.print(summary(what, result, ms));
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
