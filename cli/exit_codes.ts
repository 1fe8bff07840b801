/**
 * The `ovtp` command's exit codes (0 to 6), defined once: `report_error.ts` and the commands map
 * their outcomes to them, and scripts branch on them (README, "Exit codes").
 *
 * @module
 */

/**
 * The exit codes of the `ovtp` command. Scripts may rely on them; they never change meaning.
 *
 * @example Branch on an exit code
 * ```ts
 * import { ExitCode } from "./exit_codes.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(ExitCode.hostKey, 4);
 * assert.equal(ExitCode.connection, 6);
 * ```
 */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** Any other failure: a local file, a key file, a reply whose status is false. */
  failure: 1,
  /** The command line is wrong: unknown command or option, missing argument. */
  usage: 2,
  /** The server refused our key (it is not in the server's `authorized_keys`). */
  keyRefused: 3,
  /** The server key is unknown, or does not match the pinned fingerprint or `known_hosts`. */
  hostKey: 4,
  /** The server refused the operation: a path outside its root, a file that exists, permission. */
  refused: 5,
  /** The connection failed or timed out. */
  connection: 6,
} as const;

/** One of the {@linkcode ExitCode} values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];
