/**
 * The check `pub`, `push`, `pull` (a topic or queue name) and `sub` (topic patterns) make on
 * their topic arguments before connecting: the library's rule, reported as a usage error.
 *
 * @module
 */

import { checkTopic, checkTopicPattern } from "../messaging/topic_pattern.ts";
import { CliError } from "./cli_error.ts";

/**
 * Throws a usage error of `command` unless `text` is a valid topic (or, with `pattern`, a valid
 * topic pattern, where `*` and a final `>` are wildcards).
 *
 * @param command The command, for the message.
 * @param text The argument.
 * @param options `pattern: true` for a subscription pattern.
 * @throws {CliError} A usage error (exit code 2) that says what is wrong.
 *
 * @example
 * ```ts
 * import { checkTopicArgument } from "./_topic_argument.ts";
 * import assert from "node:assert/strict";
 *
 * checkTopicArgument("pub", "metrics.cpu");
 * checkTopicArgument("sub", "metrics.>", { pattern: true });
 * assert.throws(() => checkTopicArgument("pub", "metrics.>"), /pub: .*not a valid topic/);
 * ```
 */
export function checkTopicArgument(
  command: string,
  text: string,
  options: { pattern?: boolean } = {},
): void {
  try {
    if (options.pattern) checkTopicPattern(text);
    else checkTopic(text);
  } catch (error) {
    throw CliError.usage(command, (error as Error).message);
  }
}
