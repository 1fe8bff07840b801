/**
 * SPEC.md and wire/protocol_codes.ts must say the same: every code, kind and type in one is in
 * the other, with the same number and name. A second implementation is written from the text
 * alone, so a code added to one and not the other is a bug this test catches.
 */
import assert from "node:assert/strict";
import {
  HandshakeType,
  RecordType,
  RefusalReason,
  StreamError,
  StreamKind,
} from "../../wire/protocol_codes.ts";

const spec = await Deno.readTextFile(new URL("../../SPEC.md", import.meta.url));

/** The rows of the table whose header row starts with `| first | second`, as trimmed cells. */
function table(first: string, second: string): string[][] {
  const lines = spec.split("\n");
  const header = new RegExp(`^\\|\\s*${first}\\s*\\|\\s*${second}\\s*\\|`);
  const start = lines.findIndex((line) => header.test(line));
  assert.ok(start >= 0, `SPEC.md has no table headed "${first} | ${second}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

/** `notFound` → `not_found`; `OPEN` and `open` compare equal. */
function specName(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function assertSame(
  what: string,
  registry: Record<string, number>,
  rows: string[][],
): void {
  const fromSpec = new Map(rows.map(([code, name]) => [Number(code), name.toLowerCase()]));
  const fromCode = new Map(Object.entries(registry).map(([name, code]) => [code, specName(name)]));
  assert.deepEqual(
    [...fromCode].sort(([a], [b]) => a - b),
    [...fromSpec].sort(([a], [b]) => a - b),
    `${what}: wire/protocol_codes.ts and SPEC.md disagree`,
  );
}

Deno.test("StreamError has exactly SPEC.md's stream error codes", () => {
  assertSame("stream error codes", StreamError, table("code", "name\\s*\\|\\s*meaning"));
});

Deno.test("StreamKind has exactly SPEC.md's stream kinds", () => {
  assertSame("stream kinds", StreamKind, table("kind", "name"));
});

Deno.test("RecordType has exactly SPEC.md's channel record types", () => {
  assertSame("record types", RecordType, table("type", "name"));
});

Deno.test("RefusalReason has exactly SPEC.md's refusal reasons", () => {
  assertSame("refusal reasons", RefusalReason, table("reason", "name"));
});

Deno.test("HandshakeType has exactly SPEC.md's handshake messages", () => {
  const rows = [...spec.matchAll(/^\*\*(\w+)\*\* \(type (\d+)\)/gm)].map((
    [, name, type],
  ) => [type, name.replace(/^[A-Z]/, (letter) => letter.toLowerCase())]);
  assertSame(
    "handshake message types",
    Object.fromEntries(Object.entries(HandshakeType).map(([name, type]) => [name, type])),
    rows.map(([type, name]) => [type, specName(name)]),
  );
});
