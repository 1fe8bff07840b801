/**
 * The check `serve --exec` and `pull --exec` make before they start: that Deno may run the shell
 * their command line goes through, so that a missing permission is one clear line at start
 * rather than a failure at the first message or item.
 *
 * @module
 */

import { CliError } from "./cli_error.ts";
import { execShell } from "./exec_handler.ts";

/**
 * Throws unless Deno may run the shell of `commandLine` ({@linkcode execShell}).
 *
 * @param command The command that runs it (`serve`, `pull`), for the message.
 * @param each What it runs the command line for (`message`, `item`), for the message.
 * @param commandLine The `--exec` argument.
 * @throws {CliError} Without the run permission (exit code 1), saying which flag to add.
 *
 * @example Refused without --allow-run=sh
 * ```ts
 * import { checkRunPermission } from "./_run_permission.ts";
 * import assert from "node:assert/strict";
 *
 * const [shell] = Deno.build.os === "windows" ? ["cmd"] : ["sh"];
 * const granted = Deno.permissions.querySync({ name: "run", command: shell }).state === "granted";
 * if (granted) checkRunPermission("pull", "item", "wc -c");
 * else assert.throws(() => checkRunPermission("pull", "item", "wc -c"), /--allow-run=/);
 * ```
 */
export function checkRunPermission(command: string, each: string, commandLine: string): void {
  const [shell] = execShell(commandLine);
  if (Deno.permissions.querySync({ name: "run", command: shell }).state === "granted") return;
  throw new CliError(
    `${command} --exec runs a command for each ${each}: give Deno the run permission, e.g. ` +
      `deno run --allow-net --allow-read --allow-env --allow-run=${shell} cli.ts ${command} --exec …`,
  );
}
