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
  /**
   * Writes text as it is to standard error, without a line break: the progress bars of `put`
   * and `get`, drawn there (as curl does) so that standard output can carry a file's content.
   * Without it, none are drawn.
   */
  writeError?(text: string): void;
  /** Whether standard error is a terminal (`put` and `get` draw their progress only then). */
  readonly errorInteractive?: boolean;
  /**
   * Writes bytes to standard output (`get HOST:PATH -`); resolves once all are with the pipe or
   * file, or false when the reader closed it (what it had not read is dropped).
   */
  writeBytes?(bytes: Uint8Array): Promise<boolean>;
  /** Standard input as a byte stream, read as it comes (`put - HOST:PATH`). */
  stdin?(): ReadableStream<Uint8Array>;
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
    writeError: (text) => writeAll(Deno.stderr, text),
    errorInteractive: Deno.stderr.isTerminal(),
    writeBytes: async (bytes) => {
      if (outputClosed) return false;
      try {
        for (let done = 0; done < bytes.length;) {
          done += await Deno.stdout.write(bytes.subarray(done));
        }
        return true;
      } catch (error) {
        if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
        outputClosed = true;
        return false;
      }
    },
    stdin: () => Deno.stdin.readable,
  };
}

/**
 * Writes all of `text` (unbuffered: once it returns true, the bytes are with the pipe or file);
 * false when the reader closed the pipe.
 */
function writeAll(stream: typeof Deno.stdout | typeof Deno.stderr, text: string): boolean {
  const bytes = encoder.encode(text);
  try {
    for (let done = 0; done < bytes.length;) done += stream.writeSync(bytes.subarray(done));
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    return false;
  }
}
