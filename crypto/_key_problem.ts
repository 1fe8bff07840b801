/**
 * Internal: `KeyProblem`, a `KeyFileError` that keeps its short reason apart, so that the
 * `authorized_keys` and `known_hosts` readers can skip a bad line with a one-line warning; and the
 * one-line rule for key comments.
 *
 * @module
 */

import { KeyFileError } from "../errors.ts";

/**
 * A {@linkcode KeyFileError} that also carries its short reason alone (`"not an ovtp-rsa key"`),
 * so that `authorized_keys` and `known_hosts` readers can turn it into a one-line warning. Callers
 * outside `crypto/` see an ordinary `KeyFileError`.
 *
 * @example Read the reason
 * ```ts
 * import { KeyProblem } from "./_key_problem.ts";
 * import { KeyFileError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const problem = new KeyProblem("Cannot parse public key", "not an ovtp-rsa key");
 * assert.ok(problem instanceof KeyFileError);
 * assert.equal(problem.message, "Cannot parse public key: not an ovtp-rsa key");
 * assert.equal(problem.reason, "not an ovtp-rsa key");
 * ```
 */
export class KeyProblem extends KeyFileError {
  /** What is wrong, without the context: `"not an ovtp-rsa key"`. */
  readonly reason: string;

  /**
   * @param action What could not be done: `"Cannot parse public key"`.
   * @param reason What is wrong.
   * @param advice What to do, or what is expected, if anything.
   * @param cause The underlying error, if any.
   */
  constructor(action: string, reason: string, advice = "", cause?: unknown) {
    super(`${action}: ${reason}${advice ? `; ${advice}` : ""}`, { cause });
    this.reason = reason;
  }
}

/**
 * Checks that a key comment fits on one line, so that a formatted key stays one line.
 *
 * @param comment The comment.
 * @throws {TypeError} If it contains a line break or another control character.
 *
 * @example Refuse a line break
 * ```ts
 * import { assertComment } from "./_key_problem.ts";
 * import assert from "node:assert/strict";
 *
 * assertComment("alice@laptop");
 * assert.throws(() => assertComment("alice\nbob"), TypeError);
 * ```
 */
export function assertComment(comment: string): void {
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/.test(comment)) {
    throw new TypeError("Invalid key comment: it must be one line without control characters");
  }
}
