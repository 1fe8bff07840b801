/**
 * A tiny DER encoder: just the types a self-signed X.509 certificate needs (ITU-T X.690).
 * Every function returns the complete encoding (tag || length || contents). Used by
 * `bench/_tls_cert.ts`; not part of the library.
 *
 * @module
 */

/** Universal tag numbers used below. */
const tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  objectIdentifier: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  utcTime: 0x17,
  sequence: 0x30,
  set: 0x31,
} as const;

/** The first two arcs share one value: first × 40 + second. */
const oidFirstArcFactor = 40;

/** Encodes a length: short form below 128, long form (0x80 | count, big-endian) above. */
function encodeLength(length: number): Uint8Array<ArrayBuffer> {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Any tag (one byte) with its contents. */
export function derTagged(tagByte: number, contents: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes(Uint8Array.of(tagByte), encodeLength(contents.length), contents);
}

/** SEQUENCE of already encoded elements. */
export function derSequence(...elements: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return derTagged(tag.sequence, concatBytes(...elements));
}

/** SET of already encoded elements (callers pass them in DER order; we use one element). */
export function derSet(...elements: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return derTagged(tag.set, concatBytes(...elements));
}

/**
 * INTEGER from unsigned big-endian magnitude bytes: leading zero bytes are stripped and one
 * zero byte is added back when the top bit is set, so the value stays positive and minimal.
 */
export function derUnsignedInteger(magnitude: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const contents = trimmed.length > 0 && trimmed[0] & 0x80
    ? concatBytes(Uint8Array.of(0), trimmed)
    : trimmed.length === 0
    ? Uint8Array.of(0)
    : trimmed;
  return derTagged(tag.integer, contents);
}

/** INTEGER from a small non-negative number. */
export function derSmallInteger(value: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot encode ${value} as a small non-negative INTEGER`);
  }
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return derUnsignedInteger(Uint8Array.from(bytes));
}

/** BOOLEAN. */
export function derBoolean(value: boolean): Uint8Array<ArrayBuffer> {
  return derTagged(tag.boolean, Uint8Array.of(value ? 0xff : 0x00));
}

/** NULL. */
export function derNull(): Uint8Array<ArrayBuffer> {
  return derTagged(tag.null, new Uint8Array(0));
}

/** OBJECT IDENTIFIER from dotted text such as `1.2.840.10045.4.3.2`. */
export function derOid(dotted: string): Uint8Array<ArrayBuffer> {
  const arcs = dotted.split(".").map(Number);
  if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0)) {
    throw new TypeError(`Cannot encode "${dotted}" as an OBJECT IDENTIFIER`);
  }
  const out: number[] = [];
  for (const arc of [arcs[0] * oidFirstArcFactor + arcs[1], ...arcs.slice(2)]) {
    const groups: number[] = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) {
      groups.unshift(0x80 | (rest & 0x7f));
    }
    out.push(...groups);
  }
  return derTagged(tag.objectIdentifier, Uint8Array.from(out));
}

/** UTF8String. */
export function derUtf8String(text: string): Uint8Array<ArrayBuffer> {
  return derTagged(tag.utf8String, new TextEncoder().encode(text));
}

/** PrintableString (the caller keeps to its character set). */
export function derPrintableString(text: string): Uint8Array<ArrayBuffer> {
  return derTagged(tag.printableString, new TextEncoder().encode(text));
}

/** UTCTime `YYMMDDHHMMSSZ` (years 1950–2049). */
export function derUtcTime(date: Date): Uint8Array<ArrayBuffer> {
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new RangeError(`UTCTime cannot hold the year ${year}`);
  const two = (n: number) => String(n).padStart(2, "0");
  const text = two(year % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
    two(date.getUTCHours()) + two(date.getUTCMinutes()) + two(date.getUTCSeconds()) + "Z";
  return derTagged(tag.utcTime, new TextEncoder().encode(text));
}

/** BIT STRING of whole bytes (zero unused bits). */
export function derBitString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return derTagged(tag.bitString, concatBytes(Uint8Array.of(0), bytes));
}

/** OCTET STRING. */
export function derOctetString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return derTagged(tag.octetString, bytes);
}

/** `[n] EXPLICIT`: a constructed context tag around one encoded element. */
export function derExplicit(n: number, element: Uint8Array): Uint8Array<ArrayBuffer> {
  return derTagged(0xa0 | n, element);
}

/** `[n] IMPLICIT` over a primitive type: a primitive context tag around raw contents. */
export function derImplicitPrimitive(n: number, contents: Uint8Array): Uint8Array<ArrayBuffer> {
  return derTagged(0x80 | n, contents);
}
