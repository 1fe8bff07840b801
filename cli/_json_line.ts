/**
 * Internal: the JSON lines that `send`, `sub` and `pull` print (bytes as base64, made safe for a
 * terminal) and their `--count` option.
 *
 * @module
 */

import { encodeBase64 } from "../crypto/base64.ts";
import { terminalSafeJson } from "./_terminal_text.ts";
import { CliError } from "./cli_error.ts";

/**
 * One JSON output line: `fields`, then `value` under `key`, then `after`. Bytes go as base64,
 * marked `"encoding":"base64"`; `undefined` goes as `null`. Shared by `send`, `sub` and `pull`.
 * The value is the peer's data and reaches a pipe exactly as sent; DEL, C1 controls and bidi
 * controls are written as `\u` escapes ({@linkcode terminalSafeJson}), which mean the same in
 * JSON, so that the line is also safe on a terminal.
 *
 * @example
 * ```ts
 * import { jsonLine } from "./_json_line.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(jsonLine({ topic: "a" }, "message", "x"), '{"topic":"a","message":"x"}');
 * assert.equal(
 *   jsonLine({}, "message", new Uint8Array([1])),
 *   '{"message":"AQ==","encoding":"base64"}',
 * );
 * ```
 */
export function jsonLine(
  fields: Record<string, unknown>,
  key: string,
  value: unknown,
  after: Record<string, unknown> = {},
): string {
  const line = value instanceof Uint8Array
    ? JSON.stringify({ ...fields, [key]: encodeBase64(value), encoding: "base64", ...after })
    : JSON.stringify({ ...fields, [key]: value ?? null, ...after });
  return terminalSafeJson(line);
}

/**
 * Reads a `--count` option: a whole number above 0, or `Infinity` when absent.
 *
 * @example
 * ```ts
 * import { parseCount } from "./_json_line.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseCount("sub", "3"), 3);
 * assert.equal(parseCount("sub", undefined), Infinity);
 * assert.throws(() => parseCount("sub", "0"));
 * ```
 */
export function parseCount(command: string, text: string | undefined): number {
  const count = text === undefined ? Infinity : Number(text);
  if (!Number.isSafeInteger(count) && count !== Infinity || count < 1) {
    throw CliError.usage(command, `--count takes a whole number above 0, not "${text}"`);
  }
  return count;
}
