/**
 * `CliError`: a failure a command reports as it is, one line on standard error and its exit code
 * (2 for usage mistakes). Commands throw it; `report_error.ts` prints it, while the library's own
 * errors are mapped there by class.
 *
 * @module
 */

import { ExitCode } from "./exit_codes.ts";

/**
 * An error the command reports as it is: one line on standard error and its exit code. Commands
 * throw it for usage mistakes (exit code 2) and for problems they detect themselves.
 *
 * @example A usage error
 * ```ts
 * import { CliError } from "./cli_error.ts";
 * import { ExitCode } from "./exit_codes.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new CliError("send: missing MESSAGE", ExitCode.usage);
 * assert.equal(error.exitCode, 2);
 * assert.equal(error.name, "CliError");
 * ```
 */
export class CliError extends Error {
  /** The exit code the command ends with. */
  readonly exitCode: ExitCode;
  /** For a usage error, the command whose help it points to (the line reads `ovtp put: …`). */
  command?: string;

  /**
   * Creates the object.
   *
   * @param message One line: what happened and what to do next.
   * @param exitCode The exit code. Default 1 (other failure).
   * @param options The cause, if any.
   */
  constructor(message: string, exitCode: ExitCode = ExitCode.failure, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }

  /**
   * A usage error of a command: exit code 2, and a pointer to the command's help.
   *
   * @param command The command's name.
   * @param problem What is wrong, in a few words.
   * @returns The error to throw.
   *
   * @example Point to the help
   * ```ts
   * import { CliError } from "./cli_error.ts";
   * import assert from "node:assert/strict";
   *
   * const error = CliError.usage("get", "missing arguments");
   * assert.equal(error.message, "get: missing arguments; see ovtp get --help");
   * assert.equal(error.exitCode, 2);
   * assert.equal(error.command, "get");
   * ```
   */
  static usage(command: string, problem: string): CliError {
    const error = new CliError(
      `${command}: ${problem}; see ovtp ${command} --help`,
      ExitCode.usage,
    );
    error.command = command;
    return error;
  }
}
