/**
 * The client's reader of a LIST stream's data (SPEC.md, "LIST"): one UTF-8 JSON object per line,
 * from a server the client does not have to trust. It sits between `Stream.read()` and
 * `downloadDirectory()`, which creates what the entries name.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { concatBytes, utf8Encoder } from "../wire/_bytes.ts";
import {
  maxFileBytes,
  maxListEntries,
  maxListLineBytes,
  maxPathBytes,
  maxPathComponentBytes,
  maxPathLength,
} from "./file_protocol.ts";
import { headInteger, headString } from "../wire/head_codec.ts";
import type { ListEntry } from "./file_protocol.ts";

/** Options of {@linkcode ListParser}; the defaults are the protocol's limits. */
export interface ListParserOptions {
  /** Longest line, newline excluded. Default {@linkcode maxListLineBytes}. */
  maxLineBytes?: number;
  /** Most entries. Default {@linkcode maxListEntries}. */
  maxEntries?: number;
}

const newline = 0x0a;
const largestMode = 0o7777;
/** A UTF-16 code unit is at most 3 bytes of UTF-8 (a surrogate pair: 4 bytes for 2 units). */
const maxUtf8BytesPerCodeUnit = 3;

/**
 * Splits a listing into lines and checks each entry, in time linear in its size: each byte is
 * scanned for a newline once, a line is joined from its pieces once, and nothing longer than
 * `maxLineBytes` is kept. Lines are cut at the newline byte, which never occurs inside a UTF-8
 * character, and each whole line is decoded on its own by this parser's own strict decoder: a
 * character split between two records is whole again before it is decoded, and no decoder state
 * is shared with any other stream or connection.
 *
 * Every failure is a {@linkcode ProtocolError} naming the line: a line longer than
 * `maxLineBytes`, more than `maxEntries` entries, a line that is not UTF-8 JSON, a field of the
 * wrong type or out of range, a path that is empty, absolute, longer than 4096 bytes, or that
 * has an empty, `.`, `..`, over-255-byte or NUL-holding component.
 *
 * @example Read a listing that arrives in pieces
 * ```ts
 * import { ListParser } from "./list_parser.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode(
 *   '{"path":"é","type":"file","size":1,"mtimeMs":null,"mode":420}\n',
 * );
 * const parser = new ListParser();
 * parser.push(bytes.subarray(0, 10)); // ends inside "é"
 * parser.push(bytes.subarray(10));
 * assert.deepEqual(parser.finish(), [
 *   { path: "é", type: "file", size: 1, mtimeMs: null, mode: 420 },
 * ]);
 * ```
 *
 * @example A line past the limit fails as soon as it passes it
 * ```ts
 * import { ListParser } from "./list_parser.ts";
 * import { ProtocolError } from "../errors.ts";
 * import assert from "node:assert/strict";
 *
 * const parser = new ListParser({ maxLineBytes: 100 });
 * assert.throws(() => parser.push(new Uint8Array(101).fill(0x20)), ProtocolError);
 * ```
 */
export class ListParser {
  #maxLineBytes: number;
  #maxEntries: number;
  /** This listing's own decoder; fatal: invalid UTF-8 is an error, not U+FFFD. */
  #decoder = new TextDecoder("utf-8", { fatal: true });
  /** Copies of the pieces of the line not ended yet. */
  #pieces: Uint8Array[] = [];
  #pieceBytes = 0;
  #entries: ListEntry[] = [];
  #failed = false;

  /** @param options Limits; the defaults are the protocol's. */
  constructor(options: ListParserOptions = {}) {
    this.#maxLineBytes = options.maxLineBytes ?? maxListLineBytes;
    this.#maxEntries = options.maxEntries ?? maxListEntries;
  }

  /** Entries read so far. */
  get count(): number {
    return this.#entries.length;
  }

  /**
   * Takes the next bytes of the listing; reads every line they end. `chunk` is not kept: the
   * caller may reuse or free it once this returns.
   *
   * @throws {ProtocolError} When a line or the count passes its limit, or an entry is invalid.
   */
  push(chunk: Uint8Array): void {
    this.#checkUsable();
    try {
      let start = 0;
      for (let end = chunk.indexOf(newline); end !== -1; end = chunk.indexOf(newline, start)) {
        this.#line(chunk.subarray(start, end));
        start = end + 1;
      }
      const rest = chunk.subarray(start);
      if (rest.length === 0) return;
      this.#checkLength(this.#pieceBytes + rest.length);
      this.#pieces.push(rest.slice());
      this.#pieceBytes += rest.length;
    } catch (error) {
      this.#failed = true;
      throw error;
    }
  }

  /**
   * Ends the listing: reads a last line without its newline, if any, and returns every entry.
   *
   * @throws {ProtocolError} When that last line is invalid.
   */
  finish(): ListEntry[] {
    this.#checkUsable();
    if (this.#pieceBytes > 0) this.#line(new Uint8Array(0));
    this.#failed = true; // done: no more input
    return this.#entries;
  }

  #checkUsable(): void {
    if (this.#failed) throw new TypeError("This listing already failed or finished");
  }

  #checkLength(bytes: number): void {
    if (bytes > this.#maxLineBytes) {
      throw new ProtocolError(
        `Line ${this.#entries.length + 1} of the server's listing is longer than the ` +
          `${this.#maxLineBytes}-byte limit; the server does not follow the protocol`,
      );
    }
  }

  /** A whole line: the kept pieces, then `tail`. */
  #line(tail: Uint8Array): void {
    this.#checkLength(this.#pieceBytes + tail.length);
    const bytes = this.#pieces.length === 0 ? tail : concatBytes([...this.#pieces, tail]);
    this.#pieces = [];
    this.#pieceBytes = 0;
    if (this.#entries.length >= this.#maxEntries) {
      throw new ProtocolError(
        `The server's listing holds more than ${this.#maxEntries} entries; list a sub-folder`,
      );
    }
    this.#entries.push(this.#entry(bytes));
  }

  #entry(bytes: Uint8Array): ListEntry {
    const where = `Line ${this.#entries.length + 1} of the server's listing`;
    let value: unknown;
    try {
      value = JSON.parse(this.#decoder.decode(bytes));
    } catch {
      // Reported below.
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new ProtocolError(`${where} is not a UTF-8 JSON object`);
    }
    const head = value as Record<string, unknown>;
    try {
      const path = headString(head, "path");
      checkListedPath(path, where);
      const type = head.type;
      if (type !== "file" && type !== "directory" && type !== "symlink") {
        throw new ProtocolError(`${where} has an unknown type for ${JSON.stringify(path)}`);
      }
      let target: string | undefined;
      if (type === "symlink") {
        target = headString(head, "target");
        if (target === "" || target.includes("\0")) {
          throw new ProtocolError(`${where} has an empty link target or one with a NUL`);
        }
      }
      return {
        path,
        type,
        size: headInteger(head, "size", maxFileBytes),
        mtimeMs: headInteger(head, "mtimeMs", maxFileBytes, true) ?? null,
        mode: headInteger(head, "mode", largestMode, true) ?? null,
        ...(target === undefined ? {} : { target }),
      };
    } catch (error) {
      if (error instanceof ProtocolError && !error.message.startsWith(where)) {
        throw new ProtocolError(`${where}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }
}

/** SPEC.md "Paths" and "LIST": a relative path of safe components, within the byte limits. */
function checkListedPath(path: string, where: string): void {
  if (path.length > maxPathLength || exceedsUtf8Bytes(path, maxPathBytes)) {
    throw new ProtocolError(`${where} names a path longer than ${maxPathBytes} bytes`);
  }
  for (const part of path.split("/")) {
    if (
      part === "" || part === "." || part === ".." || part.includes("\0") ||
      exceedsUtf8Bytes(part, maxPathComponentBytes)
    ) {
      throw new ProtocolError(`${where} names an unsafe path ${JSON.stringify(path)}`);
    }
  }
}

/** Whether `text` is more than `limit` bytes of UTF-8; encoded only when it could be. */
function exceedsUtf8Bytes(text: string, limit: number): boolean {
  if (text.length * maxUtf8BytesPerCodeUnit <= limit) return false;
  return utf8Encoder.encode(text).length > limit;
}
