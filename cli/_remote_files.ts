/**
 * What the remote file commands (`ls`, `rm`, `mv`, `mkdir`, `stat`) share: the served folder
 * spelled `.` when a target names none (`HOST:`), the check that every path is on the one server,
 * `ls -l`'s mode string, and the scp/sftp wording of a refusal (`x.csv: No such file or
 * directory`), with no stream numbers and no server paths.
 *
 * @module
 */

import { formatHostPort, type HostPort } from "../address.ts";
import { FileError } from "../errors.ts";
import { terminalSafe } from "./_terminal_text.ts";
import { CliError } from "./cli_error.ts";
import { ExitCode } from "./exit_codes.ts";
import { parseRemoteTarget } from "./remote_target.ts";
import { fileProblem } from "./report_error.ts";

/**
 * The path to send for a remote path a user typed: `HOST:` (nothing after the colon) names the
 * served folder, which the protocol spells `.`.
 *
 * @example
 * ```ts
 * import { remotePathOrRoot } from "./_remote_files.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(remotePathOrRoot(""), ".");
 * assert.equal(remotePathOrRoot("in/a.csv"), "in/a.csv");
 * ```
 */
export function remotePathOrRoot(path: string): string {
  return path === "" ? "." : path;
}

/**
 * The path of a further `HOST[:PORT]:PATH` argument, which must name the same server as the
 * first (a command connects to one server).
 *
 * @throws {CliError} A usage error when it names no server or another one.
 *
 * @example
 * ```ts
 * import { pathOnServer } from "./_remote_files.ts";
 * import assert from "node:assert/strict";
 *
 * const server = { hostname: "files.example", port: 4242 };
 * assert.equal(pathOnServer("rm", "files.example:b.txt", server), "b.txt");
 * assert.throws(() => pathOnServer("rm", "other.example:b.txt", server), /one server/);
 * ```
 */
export function pathOnServer(command: string, argument: string, server: HostPort): string {
  const target = parseRemoteTarget(argument);
  if (target === undefined) {
    throw CliError.usage(command, `"${argument}" names no server; expected HOST[:PORT]:PATH`);
  }
  if (!sameServer(target.address, server)) {
    throw CliError.usage(
      command,
      `"${argument}" is on another server than ${formatHostPort(server)}; name paths on one ` +
        "server per command",
    );
  }
  return remotePathOrRoot(target.path);
}

/** Whether two addresses name the same server (same host text and port). */
export function sameServer(a: HostPort, b: HostPort): boolean {
  return a.hostname.toLowerCase() === b.hostname.toLowerCase() && a.port === b.port;
}

/**
 * One line for a refused remote path, as scp and sftp word it: `x.csv: No such file or
 * directory`. Other failures come back unchanged.
 *
 * @param error What the library threw.
 * @param path The path as the user typed it (its server left out).
 * @returns A {@linkcode CliError} (exit code 5 for the server's refusals) or `error`.
 *
 * @example A missing file
 * ```ts
 * import { remoteProblem } from "./_remote_files.ts";
 * import { FileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const refusal = new FileError('The server refused "x.csv": Cannot remove "x.csv": gone', {
 *   reason: "not_found",
 *   path: "x.csv",
 *   remote: true,
 * });
 * assert.equal((remoteProblem(refusal, "x.csv") as Error).message, "x.csv: No such file or directory");
 * ```
 */
export function remoteProblem(
  error: unknown,
  path: string,
  forceOption?: string,
): unknown {
  if (!(error instanceof FileError) || !error.remote) return error;
  return new CliError(
    fileProblem(error, terminalSafe(path === "" ? "." : path), forceOption ?? null),
    ExitCode.refused,
    { cause: error },
  );
}

/**
 * `ls -l`'s mode string: the type (`d`, `l`, `-`), then `rwx` for owner, group and others, with
 * `s`/`S` and `t`/`T` for the set-ID and sticky bits.
 *
 * @param type What the entry is.
 * @param mode The permission bits, or null when unknown (then `?` stands for each).
 * @returns Ten characters.
 *
 * @example
 * ```ts
 * import { modeString } from "./_remote_files.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(modeString("directory", 0o755), "drwxr-xr-x");
 * assert.equal(modeString("file", 0o4644), "-rwSr--r--");
 * assert.equal(modeString("symlink", null), "l?????????");
 * ```
 */
export function modeString(type: "file" | "directory" | "symlink", mode: number | null): string {
  const kind = type === "directory" ? "d" : type === "symlink" ? "l" : "-";
  if (mode === null) return `${kind}?????????`;
  const specials = [[0o4000, "s"], [0o2000, "s"], [0o1000, "t"]] as const;
  let text = kind;
  for (let who = 0; who < 3; who++) {
    const bits = (mode >> (6 - 3 * who)) & 7;
    text += bits & 4 ? "r" : "-";
    text += bits & 2 ? "w" : "-";
    const [specialBit, letter] = specials[who];
    const execute = (bits & 1) !== 0;
    text += mode & specialBit ? (execute ? letter : letter.toUpperCase()) : (execute ? "x" : "-");
  }
  return text;
}
