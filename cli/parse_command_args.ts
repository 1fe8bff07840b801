/**
 * Strict argument parsing for every command (`node:util`'s `parseArgs`, unknown options refused,
 * the count of positional arguments checked); each problem becomes a usage error (exit code 2)
 * that points to the command's help.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./cli_error.ts";

/** How many positional arguments a command takes, and their names for messages. */
export interface PositionalSpec {
  /** The fewest allowed. */
  min: number;
  /** The most allowed (`Infinity` for no limit). */
  max: number;
  /** How the usage line names them (`LOCAL HOST[:PORT]:REMOTE`). */
  names: string;
}

/** The options of a command, as `node:util` `parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/** The values of `options` after parsing. */
export type CommandValues<T extends CommandOptions> = ReturnType<
  typeof parseArgs<{ options: T; strict: true }>
>["values"];

/**
 * Parses a command's arguments strictly (unknown options are errors; `--` ends the options) and
 * checks the number of positional arguments. Every problem is a {@linkcode CliError} with exit
 * code 2 that names the command and points to its help.
 *
 * @param command The command's name, for messages.
 * @param args The arguments after the command's name.
 * @param options The command's options.
 * @param positionals How many positional arguments it takes.
 * @returns The option values and the positional arguments.
 *
 * @example Parse `put -r site host:www`
 * ```ts
 * import { parseCommandArgs } from "./parse_command_args.ts";
 * import assert from "node:assert/strict";
 *
 * const { values, positionals } = parseCommandArgs(
 *   "put",
 *   ["-r", "site", "host:www"],
 *   { recursive: { type: "boolean", short: "r" } },
 *   { min: 2, max: 2, names: "LOCAL HOST[:PORT]:REMOTE" },
 * );
 * assert.equal(values.recursive, true);
 * assert.deepEqual(positionals, ["site", "host:www"]);
 * assert.throws(() => parseCommandArgs("put", ["--nope"], {}, { min: 0, max: 0, names: "" }));
 * ```
 */
export function parseCommandArgs<T extends CommandOptions>(
  command: string,
  args: string[],
  options: T,
  positionals: PositionalSpec,
): { values: CommandValues<T>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw CliError.usage(command, parseProblem(error as Error));
  }
  const count = parsed.positionals.length;
  if (count < positionals.min || count > positionals.max) {
    const expected = positionals.names === "" ? "no arguments" : positionals.names;
    const problem = count < positionals.min ? "missing arguments" : "too many arguments";
    throw CliError.usage(command, `${problem}; expected ${expected}`);
  }
  return {
    values: parsed.values as CommandValues<T>,
    positionals: parsed.positionals,
  };
}

/**
 * `parseArgs`' message in the command's words: "unknown option --frob" rather than its advice
 * about `--` with an unclosed quote.
 */
function parseProblem(error: Error): string {
  const message = error.message;
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown !== null) return `unknown option ${unknown[1]}`;
  const missing = /^Option '(?:-\w, )?(--[^ ']+)(?: <value>)?' argument missing/.exec(message);
  if (missing !== null) return `option ${missing[1]} needs a value`;
  const noValue = /^Option '(?:-\w, )?(--[^ ']+)' does not take an argument/.exec(message);
  if (noValue !== null) return `option ${noValue[1]} takes no value`;
  return message.split(". ")[0].replace(/\.$/, "");
}
