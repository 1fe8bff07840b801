/**
 * Text from a peer, made safe to show on a terminal. A server chooses its file names, the reason
 * of each RESET it sends and the text of its errors; a client chooses the same on a server. Raw,
 * such text could move the cursor, clear the screen, retitle the window, rewrite what was printed
 * before (a carriage return) or reorder what follows (bidi overrides): the class of scp's
 * CVE-2019-6110. The CLI passes every line that may hold such text through
 * {@linkcode terminalSafe} (prose) or {@linkcode terminalSafeJson} (JSON lines) before printing
 * it. The library itself keeps the peer's text as it came (a program may need it exact); a
 * program that prints it to a terminal does the same as the CLI.
 *
 * @module
 */

/**
 * The characters a terminal may act on instead of showing: C0 controls (U+0000–U+001F), DEL
 * (U+007F), C1 controls (U+0080–U+009F; U+009B is a one-character CSI), the line and paragraph
 * separators (U+2028, U+2029) and the bidi embeddings, overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069).
 */
// deno-lint-ignore no-control-regex -- finding control characters is the point
const unsafeCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, minus line feed and tab, for text of several lines. */
const unsafeInMultiline =
  // deno-lint-ignore no-control-regex -- as above
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** What {@linkcode terminalSafeJson} escapes: JSON.stringify already escapes C0 controls. */
const unsafeInJson = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** Code points up to this one are escaped as `\xHH`, later ones as `\uHHHH`. */
const lastByteCodePoint = 0xff;

/** Options of {@linkcode terminalSafe}. */
export interface TerminalSafeOptions {
  /** Keep line feeds and tabs (a stack trace, a block of text). Default false: one line. */
  multiline?: boolean;
}

/**
 * Replaces every character a terminal may act on with a visible escape: `\x1b` for ESC, `\x9b`
 * for the C1 CSI, `\u202e` for a right-to-left override. Everything else, other languages' letters
 * included, stays as it is.
 *
 * @param text Text that may come from a peer.
 * @param options Whether line feeds and tabs stay.
 * @returns The text, safe to print.
 *
 * @example Escape a file name that would clear the screen
 * ```ts
 * import { terminalSafe } from "./_terminal_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(terminalSafe("a\x1b[2J.txt"), "a\\x1b[2J.txt");
 * assert.equal(terminalSafe("évil\u202etxt.exe"), "évil\\u202etxt.exe");
 * assert.equal(terminalSafe("one\ntwo\r"), "one\\x0atwo\\x0d");
 * assert.equal(terminalSafe("one\ntwo\r", { multiline: true }), "one\ntwo\\x0d");
 * ```
 */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  return text.replace(options.multiline ? unsafeInMultiline : unsafeCharacters, escape);
}

/**
 * Makes a JSON text safe for a terminal without changing what it means: the characters
 * {@linkcode terminalSafe} escapes can only stand inside its strings (JSON.stringify already
 * writes C0 controls as `\u001b`), where `\u` escapes mean the same characters. A program reading
 * the line gets exactly the value that was sent.
 *
 * @param json A JSON text, as JSON.stringify writes it.
 * @returns The same JSON value, with DEL, C1 controls, line separators and bidi controls escaped.
 *
 * @example A message holding a C1 CSI stays the same value
 * ```ts
 * import { terminalSafeJson } from "./_terminal_text.ts";
 * import assert from "node:assert/strict";
 *
 * const value = { message: "x\u009b2Jy\u202e" };
 * const line = terminalSafeJson(JSON.stringify(value));
 * assert.equal(line, '{"message":"x\\u009b2Jy\\u202e"}');
 * assert.deepEqual(JSON.parse(line), value);
 * ```
 */
export function terminalSafeJson(json: string): string {
  return json.replace(unsafeInJson, (character) => `\\u${hex(character, 4)}`);
}

function escape(character: string): string {
  return character.charCodeAt(0) <= lastByteCodePoint
    ? `\\x${hex(character, 2)}`
    : `\\u${hex(character, 4)}`;
}

function hex(character: string, digits: number): string {
  return character.charCodeAt(0).toString(16).padStart(digits, "0");
}
