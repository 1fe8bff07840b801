/**
 * The shape of every `ovtp` command (`CliCommand`: its name, its help and `run`), which `cli.ts`
 * picks by name. `run` returns the exit code or throws; `report_error.ts` turns what it throws
 * into one line on standard error and an exit code.
 *
 * @module
 */

import type { CliIo } from "./cli_io.ts";

/**
 * One `ovtp` command: its name, its help, and what runs it. `run` gets the arguments after the
 * command's name and returns the exit code; it throws for failures, which the caller reports
 * (see `reportError`).
 */
export interface CliCommand {
  /** The word that selects the command (`keygen`). */
  readonly name: string;
  /** One line for `ovtp --help`. */
  readonly summary: string;
  /** The full text of `ovtp NAME --help`. */
  readonly help: string;
  /** Runs the command with the arguments after its name. */
  run(args: string[], io: CliIo): Promise<number>;
}
