import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import { maxListLineBytes } from "../../transfer/file_protocol.ts";
import { ListParser } from "../../transfer/list_parser.ts";

const encoder = new TextEncoder();

function line(path: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ path, type: "file", size: 1, mtimeMs: 0, mode: 0o644, ...extra }) +
    "\n";
}

Deno.test("ListParser reads a listing cut at every byte, inside characters too", () => {
  const names = ["é", "a/ünï", "日本/語", "😀.bin", "plain"];
  const bytes = encoder.encode(names.map((name) => line(name)).join(""));
  const parser = new ListParser();
  for (let i = 0; i < bytes.length; i++) parser.push(bytes.subarray(i, i + 1));
  assert.deepEqual(parser.finish().map((entry) => entry.path), names);
});

Deno.test("ListParser does not keep the caller's chunk", () => {
  const bytes = encoder.encode(line("été.txt"));
  const chunk = bytes.slice(0, 12);
  const parser = new ListParser();
  parser.push(chunk);
  chunk.fill(0); // the stream may free or reuse a record once push() returns
  parser.push(bytes.subarray(12));
  assert.equal(parser.finish()[0].path, "été.txt");
});

Deno.test("ListParser reads a last line without its newline, and nothing for an empty listing", () => {
  const parser = new ListParser();
  parser.push(encoder.encode(line("a") + line("b").trimEnd()));
  assert.deepEqual(parser.finish().map((entry) => entry.path), ["a", "b"]);
  assert.deepEqual(new ListParser().finish(), []);
});

Deno.test("ListParser refuses an 8 MiB line at the limit, not at its end", () => {
  const chunkBytes = 16 * 1024;
  const chunk = new Uint8Array(chunkBytes).fill(0x61);
  const parser = new ListParser();
  let accepted = 0;
  assert.throws(() => {
    for (; accepted < (8 * 1024 * 1024) / chunkBytes; accepted++) parser.push(chunk);
  }, ProtocolError);
  // 64 KiB are kept; the chunk that would pass the limit is refused.
  assert.equal(accepted, maxListLineBytes / chunkBytes);
  assert.throws(() => parser.push(chunk), TypeError); // the listing is over
});

Deno.test("ListParser refuses an 8 MiB line that comes in one piece", () => {
  const parser = new ListParser();
  const bytes = new Uint8Array(8 * 1024 * 1024).fill(0x61);
  bytes[bytes.length - 1] = 0x0a;
  assert.throws(() => parser.push(bytes), /longer than the 65536-byte limit/);
});

Deno.test("ListParser takes a line of exactly maxLineBytes, from one-byte pieces", () => {
  const text = line("x", { pad: "p".repeat(200) });
  const bytes = encoder.encode(text);
  const parser = new ListParser({ maxLineBytes: bytes.length - 1 }); // newline excluded
  for (let i = 0; i < bytes.length; i++) parser.push(bytes.subarray(i, i + 1));
  assert.equal(parser.finish().length, 1);
  const shorter = new ListParser({ maxLineBytes: bytes.length - 2 });
  assert.throws(() => shorter.push(bytes), ProtocolError);
});

Deno.test("ListParser refuses more than maxEntries entries", () => {
  const three = encoder.encode(line("a") + line("b") + line("c"));
  const exact = new ListParser({ maxEntries: 3 });
  exact.push(three);
  assert.equal(exact.finish().length, 3);
  const over = new ListParser({ maxEntries: 3 });
  over.push(three);
  assert.throws(() => over.push(encoder.encode(line("d"))), /more than 3 entries/);
  assert.equal(over.count, 3);
});

Deno.test("ListParser refuses invalid UTF-8, including a character cut by the end", () => {
  const bad = new ListParser();
  assert.throws(
    () =>
      bad.push(new Uint8Array([...encoder.encode('{"path":"'), 0xff, ...encoder.encode('"}\n')])),
    /not a UTF-8 JSON object/,
  );
  const cut = new ListParser();
  const bytes = encoder.encode(line("é").trimEnd());
  cut.push(bytes.subarray(0, bytes.indexOf(0xc3) + 1));
  assert.throws(() => cut.finish(), ProtocolError);
});

Deno.test("ListParser checks every field of an entry", () => {
  const refused: [string, RegExp][] = [
    [line("../x"), /unsafe path/],
    [line("/abs"), /unsafe path/],
    [line("a/"), /unsafe path/],
    [line("a/../b"), /unsafe path/],
    [line("a\0b"), /unsafe path/],
    [line("é".repeat(128)), /unsafe path/], // 256 bytes in one component
    [line("a/".repeat(2049) + "a"), /"path" as a string of at most 4096/],
    [line("é/".repeat(1400) + "é"), /longer than 4096 bytes/], // 2801 UTF-16 units
    [line("a", { type: "fifo" }), /unknown type/],
    [line("a", { size: -1 }), /"size" as an integer/],
    [line("a", { size: "1" }), /"size" as an integer/],
    [line("a", { size: 2 ** 53 }), /"size" as an integer/],
    [line("a", { mtimeMs: 0.5 }), /"mtimeMs" as an integer/],
    [line("a", { mode: 0o10000 }), /"mode" as an integer/],
    [line("a", { path: 7 }), /"path" as a string/],
    [line("l", { type: "symlink" }), /"target" as a string/],
    [line("l", { type: "symlink", target: "" }), /empty link target/],
    ["[]\n", /not a UTF-8 JSON object/],
    ["null\n", /not a UTF-8 JSON object/],
    ["\n", /not a UTF-8 JSON object/],
  ];
  for (const [text, pattern] of refused) {
    const parser = new ListParser();
    assert.throws(() => parser.push(encoder.encode(line("ok") + text)), (error) => {
      assert.ok(error instanceof ProtocolError, text);
      assert.match(error.message, /^Line 2 of the server's listing/, text);
      assert.match(error.message, pattern, text);
      return true;
    });
  }
  const parser = new ListParser();
  parser.push(encoder.encode(
    line("d", { type: "directory", size: 0, mtimeMs: null, mode: null }) +
      line("d/l", { type: "symlink", target: "../x", extra: "ignored" }),
  ));
  assert.deepEqual(parser.finish(), [
    { path: "d", type: "directory", size: 0, mtimeMs: null, mode: null },
    { path: "d/l", type: "symlink", size: 1, mtimeMs: 0, mode: 0o644, target: "../x" },
  ]);
});
