/**
 * The JSON heads of OPEN and REPLY records (SPEC §7–8), in one place: encoding and decoding a
 * head within its size limit, the typed readers services use for head fields (each failure a
 * `ProtocolError` that names the field), and the 8-byte start offset that opens an upload's data
 * (SPEC §11.4). Pure functions over bytes and objects.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { utf8Decoder, utf8Encoder } from "./_bytes.ts";

/** A JSON object: what stream heads carry. */
export type Head = Record<string, unknown>;

/** Largest JSON head (of an open or reply record). */
export const maxHeadBytes = 65536;

/** Longest string a head field may hold unless its reader says otherwise (a path's limit). */
export const maxHeadStringLength = 4096;

/** Bytes of the start offset that opens an upload's data. */
export const startOffsetBytes = 8;

/** Largest start offset an upload may announce: a file size (2^53 - 1). */
const maxStartOffset = Number.MAX_SAFE_INTEGER;

/**
 * Encodes an upload's start offset: `start (8)`, big-endian.
 *
 * @example
 * ```ts
 * import { decodeStartOffset, encodeStartOffset } from "./head_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeStartOffset(encodeStartOffset(1048576)), 1048576);
 * ```
 */
export function encodeStartOffset(start: number): Uint8Array {
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new RangeError(
      `A start offset must be an integer from 0 to ${maxStartOffset}, got ${start}`,
    );
  }
  const bytes = new Uint8Array(startOffsetBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(start));
  return bytes;
}

/**
 * Decodes an upload's start offset; more than 2^53 - 1 is a {@linkcode ProtocolError}.
 *
 * @example
 * ```ts
 * import { decodeStartOffset } from "./head_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeStartOffset(new Uint8Array(8).fill(255)), ProtocolError);
 * ```
 */
export function decodeStartOffset(bytes: Uint8Array): number {
  if (bytes.length !== startOffsetBytes) {
    throw new ProtocolError(
      `An upload's start offset is ${startOffsetBytes} bytes, got ${bytes.length}`,
    );
  }
  const start = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
  if (start > BigInt(maxStartOffset)) {
    throw new ProtocolError(`An upload's start offset ${start} exceeds ${maxStartOffset}`);
  }
  return Number(start);
}

/**
 * Encodes a head as UTF-8 JSON, refusing more than {@linkcode maxHeadBytes}.
 *
 * @example
 * ```ts
 * import { decodeHead, encodeHead } from "./head_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(decodeHead(encodeHead({ a: 1 }), "open"), { a: 1 });
 * ```
 */
export function encodeHead(head: Head): Uint8Array {
  const bytes = utf8Encoder.encode(JSON.stringify(head));
  if (bytes.length > maxHeadBytes) {
    throw new RangeError(`Stream head of ${bytes.length} bytes exceeds ${maxHeadBytes}`);
  }
  return bytes;
}

/**
 * Decodes a UTF-8 JSON head; anything but a JSON object within the size limit is a
 * {@linkcode ProtocolError}.
 *
 * @example
 * ```ts
 * import { decodeHead } from "./head_codec.ts";
 * import { ProtocolError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => decodeHead(new TextEncoder().encode("[1]"), "open"), ProtocolError);
 * ```
 */
export function decodeHead(bytes: Uint8Array, what: string): Head {
  if (bytes.length > maxHeadBytes) {
    throw new ProtocolError(
      `Cannot decode ${what} head: ${bytes.length} bytes exceed ${maxHeadBytes}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8Decoder.decode(bytes));
  } catch (cause) {
    throw new ProtocolError(`Cannot decode ${what} head: not UTF-8 JSON`, { cause });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolError(`Cannot decode ${what} head: not a JSON object`);
  }
  return value as Head;
}

/**
 * Reads a required string field of a head, capped in length.
 *
 * @example
 * ```ts
 * import { headString } from "./head_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(headString({ path: "a.txt" }, "path"), "a.txt");
 * assert.throws(() => headString({ path: 5 }, "path"));
 * ```
 */
export function headString(head: Head, field: string, maxLength = maxHeadStringLength): string {
  const value = head[field];
  if (typeof value !== "string" || value.length > maxLength) {
    throw new ProtocolError(`The stream head needs "${field}" as a string of at most ${maxLength}`);
  }
  return value;
}

/**
 * Reads an integer field of a head within `0..max`; `undefined` is allowed when `optional`.
 *
 * @example
 * ```ts
 * import { headInteger } from "./head_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(headInteger({ size: 3 }, "size", 10), 3);
 * assert.throws(() => headInteger({ size: 11 }, "size", 10));
 * assert.equal(headInteger({}, "size", 10, true), undefined);
 * ```
 */
export function headInteger(head: Head, field: string, max: number, optional?: false): number;
/** Reads an optional integer field. */
export function headInteger(
  head: Head,
  field: string,
  max: number,
  optional: true,
): number | undefined;
export function headInteger(
  head: Head,
  field: string,
  max: number,
  optional = false,
): number | undefined {
  const value = head[field];
  if ((value === undefined || value === null) && optional) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new ProtocolError(`The stream head needs "${field}" as an integer from 0 to ${max}`);
  }
  return value;
}

/**
 * Reads an optional boolean field of a head (default false).
 *
 * @example
 * ```ts
 * import { headFlag } from "./head_codec.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(headFlag({ overwrite: true }, "overwrite"), true);
 * assert.equal(headFlag({}, "overwrite"), false);
 * ```
 */
export function headFlag(head: Head, field: string): boolean {
  const value = head[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") {
    throw new ProtocolError(`The stream head needs "${field}" as a boolean`);
  }
  return value;
}
