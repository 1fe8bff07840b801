/**
 * `CliIo`, the standard streams a command writes to and reads from, and `denoIo()`, the process's
 * own. Every command gets one from `cli.ts`'s `main(args, io)`, so that tests run commands
 * in-process with buffers instead.
 *
 * @module
 */

import { readUpTo } from "./_read_up_to.ts";

/** Where a command writes and reads: the process's standard streams, or a test's buffers. */
export interface CliIo {
  /** Writes one line and a line break to standard output: results. */
  print(line: string): void;
  /** Writes one line and a line break to standard error: errors, warnings, logs. */
  printError(line: string): void;
  /** Writes text as it is to standard output, without a line break: progress bars. */
  write(text: string): void;
  /**
   * Whether standard output was closed by its reader (a write failed with a broken pipe, as
   * after `| head`): what was printed since is lost. `pull` and `sub` stop then.
   */
  outputClosed(): boolean;
  /** Whether standard output is a terminal (progress bars are drawn only then). */
  readonly interactive: boolean;
  /** Width of the terminal in columns; 80 when unknown. */
  columns(): number;
  /** Reads standard input to its end; `undefined` if it holds more than `maxBytes`. */
  readStdin(maxBytes: number): Promise<Uint8Array | undefined>;
}

const defaultColumns = 80;
const encoder = new TextEncoder();

/**
 * The process's standard streams as a {@linkcode CliIo}. A closed standard output (`ovtp … |
 * head`) is not an error: what no one reads is dropped.
 *
 * @example Print a line
 * ```ts
 * import { denoIo } from "./cli_io.ts";
 * import assert from "node:assert/strict";
 *
 * const io = denoIo();
 * assert.equal(typeof io.interactive, "boolean");
 * assert.ok(io.columns() > 0);
 * ```
 */
export function denoIo(): CliIo {
  let outputClosed = false;
  const output = (text: string) => {
    if (!outputClosed && !writeAll(Deno.stdout, text)) outputClosed = true;
  };
  return {
    print: (line) => output(`${line}\n`),
    printError: (line) => writeAll(Deno.stderr, `${line}\n`),
    write: output,
    outputClosed: () => outputClosed,
    interactive: Deno.stdout.isTerminal(),
    columns: () => {
      try {
        return Deno.consoleSize().columns || defaultColumns;
      } catch {
        return defaultColumns;
      }
    },
    readStdin: (maxBytes) => readUpTo(Deno.stdin.readable, maxBytes),
  };
}

/**
 * Writes all of `text` (unbuffered: once it returns true, the bytes are with the pipe or file);
 * false when the reader closed the pipe.
 */
function writeAll(stream: typeof Deno.stdout, text: string): boolean {
  const bytes = encoder.encode(text);
  try {
    for (let done = 0; done < bytes.length;) done += stream.writeSync(bytes.subarray(done));
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    return false;
  }
}
