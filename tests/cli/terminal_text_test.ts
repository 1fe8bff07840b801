import assert from "node:assert/strict";
import { terminalSafe, terminalSafeJson } from "../../cli/_terminal_text.ts";

/** Every character a terminal may act on, by class. */
const controls = [
  ...Array.from({ length: 0x20 }, (_, i) => i),
  0x7f,
  ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
].map((code) => String.fromCharCode(code));

/** True when `text` holds a character of `controls`. */
function holdsControl(text: string): boolean {
  return [...text].some((character) => controls.includes(character));
}

Deno.test("terminalSafe() escapes every C0, DEL, C1, line separator and bidi control", () => {
  for (const character of controls) {
    const safe = terminalSafe(`a${character}b`);
    assert.ok(!holdsControl(safe), JSON.stringify(safe));
    assert.match(safe, /^a\\(x[0-9a-f]{2}|u[0-9a-f]{4})b$/);
  }
  assert.equal(terminalSafe("\x1b[2J\x1b]0;owned\x07"), "\\x1b[2J\\x1b]0;owned\\x07");
  assert.equal(terminalSafe("\x9b2J"), "\\x9b2J");
  assert.equal(terminalSafe("\u2066x\u2069"), "\\u2066x\\u2069");
});

Deno.test("terminalSafe() keeps letters, symbols and emoji of every script", () => {
  const text = "été 日本語 Ελληνικά עברית 😀 ¡¿ ß ~ \\ \u00a0\u200d";
  assert.equal(terminalSafe(text), text);
});

Deno.test("terminalSafe() keeps line feeds and tabs only with multiline", () => {
  assert.equal(terminalSafe("a\nb\tc\rd"), "a\\x0ab\\x09c\\x0dd");
  assert.equal(terminalSafe("a\nb\tc\rd", { multiline: true }), "a\nb\tc\\x0dd");
});

Deno.test("terminalSafeJson() escapes what JSON.stringify leaves raw, and the value stays the same", () => {
  let all = "";
  for (let code = 0; code < 0x2100; code++) all += String.fromCharCode(code);
  const value = { topic: "a\u009b", message: all, nested: ["\u202e", { x: "\x7f\\\u0085" }] };
  const line = terminalSafeJson(JSON.stringify(value));
  assert.ok(!holdsControl(line), "a control character was left");
  assert.deepEqual(JSON.parse(line), value);
});
