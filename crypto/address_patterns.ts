/**
 * The address patterns of an `authorized_keys` `from="…"` option (SPEC.md, section 10), read
 * once and matched against the client's IP address as an address, not as text: `127.0.0.1`
 * equals `::ffff:127.0.0.1` (how a server listening on `[::]` sees an IPv4 client), and
 * `2001:DB8::1` equals `2001:db8:0:0::1`.
 *
 * @module
 */

/** How long an IPv4 address is, in bits. */
const ipv4Bits = 32;
/** How long an IPv6 address is, in bits. */
const ipv6Bits = 128;
/** IPv6 groups (16 bits each) in an address. */
const ipv6Groups = 8;
/** The first 12 bytes of an IPv4-mapped IPv6 address (`::ffff:0:0/96`). */
const mappedPrefix = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
/** The longest pattern list read, in characters: a `from=` value is one line of a 1 MiB file. */
const maxPatternListChars = 65_536;

/** A list of `from=` patterns, read by {@linkcode parseAddressPatterns}. */
export interface AddressPatterns {
  /**
   * Whether the list lets `address` in: it matches at least one pattern without `!` and none
   * with `!`. An address that is not an IP address matches nothing.
   *
   * @param address The client's IP address, as the socket gives it (a zone `%eth0` is ignored).
   * @returns Whether the address is let in.
   */
  allows(address: string): boolean;
}

/**
 * Reads a `from=` value: patterns separated by commas (spaces around them are ignored), each
 * optionally preceded by `!` (refuse what it matches; a refusal wins over every other pattern):
 *
 * - an address, IPv4 (`192.0.2.7`) or IPv6 (`2001:db8::7`, any valid spelling);
 * - a CIDR block, `address/bits` (`10.0.0.0/8`, `2001:db8::/32`), with no bits set after the
 *   prefix;
 * - a wildcard pattern of hex digits, `.`, `:`, `*` (any run of characters) and `?` (one
 *   character), matched against the address's normal text (see {@linkcode normalizeAddress}).
 *
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, or `::ffff:10.0.0.0/104` as a block) is read
 * as the IPv4 address (block) it maps. Host names are not accepted (ovtp does no DNS lookups).
 *
 * @param text The option's value.
 * @returns The patterns.
 * @throws {TypeError} If a pattern is malformed; the message names it and says why.
 *
 * @example Match an IPv4 client seen through an IPv6 socket
 * ```ts
 * import { parseAddressPatterns } from "./address_patterns.ts";
 * import assert from "node:assert/strict";
 *
 * const patterns = parseAddressPatterns("10.0.0.0/8, 2001:db8::/32, !10.0.0.9");
 * assert.equal(patterns.allows("::ffff:10.1.2.3"), true);
 * assert.equal(patterns.allows("10.0.0.9"), false);
 * assert.equal(patterns.allows("2001:DB8:0:0::1"), true);
 * assert.equal(patterns.allows("192.0.2.1"), false);
 * assert.throws(() => parseAddressPatterns("10.0.0.0/33"), TypeError);
 * ```
 */
export function parseAddressPatterns(text: string): AddressPatterns {
  if (text.length > maxPatternListChars) {
    throw new TypeError(`the pattern list is longer than ${maxPatternListChars} characters`);
  }
  const patterns = text.split(",").map((raw) => parsePattern(raw.trim()));
  return {
    allows(address: string): boolean {
      const bytes = parseAddress(address.replace(/%[^%]*$/, ""));
      if (bytes === undefined) return false;
      const normal = normalBytes(bytes);
      const normalText = formatAddress(normal);
      let allowed = false;
      for (const pattern of patterns) {
        if (!matches(pattern, normal, normalText)) continue;
        if (pattern.negated) return false;
        allowed = true;
      }
      return allowed;
    },
  };
}

/**
 * The normal text of an IP address: IPv4 in dotted decimal; an IPv4-mapped IPv6 address as the
 * IPv4 address it maps; any other IPv6 address in the canonical form of RFC 5952 (lower case,
 * no leading zeros, the longest run of two or more zero groups written `::`).
 *
 * @param address An IPv4 or IPv6 address.
 * @returns Its normal text, or `undefined` if it is not an IP address.
 *
 * @example
 * ```ts
 * import { normalizeAddress } from "./address_patterns.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(normalizeAddress("::FFFF:127.0.0.1"), "127.0.0.1");
 * assert.equal(normalizeAddress("2001:DB8:0:0:0:0:0:01"), "2001:db8::1");
 * assert.equal(normalizeAddress("localhost"), undefined);
 * ```
 */
export function normalizeAddress(address: string): string | undefined {
  const bytes = parseAddress(address);
  return bytes === undefined ? undefined : formatAddress(normalBytes(bytes));
}

/**
 * The bytes of an IP address (4 for IPv4, and for an IPv4-mapped IPv6 address; 16 for IPv6), or
 * `undefined` if it is not an IP address. A zone (`%eth0`) or brackets are not accepted.
 *
 * @example
 * ```ts
 * import { addressBytes } from "./address_patterns.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(addressBytes("::ffff:10.0.0.1"), new Uint8Array([10, 0, 0, 1]));
 * assert.equal(addressBytes("2001:db8::1")?.length, 16);
 * ```
 */
export function addressBytes(address: string): Uint8Array | undefined {
  const bytes = parseAddress(address);
  return bytes === undefined ? undefined : normalBytes(bytes);
}

type Pattern =
  | { negated: boolean; kind: "block"; bytes: Uint8Array; prefixBits: number }
  | { negated: boolean; kind: "wildcard"; regex: RegExp };

function parsePattern(entry: string): Pattern {
  const negated = entry.startsWith("!");
  const body = negated ? entry.slice(1) : entry;
  const quoted = JSON.stringify(entry);
  if (body === "") {
    throw new TypeError(
      negated ? `"!" must be followed by a pattern` : "an empty pattern in the list",
    );
  }
  if (/[*?]/.test(body)) {
    if (!/^[0-9A-Fa-f.:*?]+$/.test(body)) {
      throw new TypeError(
        `the wildcard pattern ${quoted} may hold only hex digits, ".", ":", "*" and "?"`,
      );
    }
    return { negated, kind: "wildcard", regex: wildcardRegex(body) };
  }
  const slash = body.indexOf("/");
  const addressText = slash === -1 ? body : body.slice(0, slash);
  const parsed = parseAddress(addressText);
  if (parsed === undefined) {
    throw new TypeError(
      `${quoted} is not an IP address, CIDR block or wildcard pattern (host names are not looked up)`,
    );
  }
  const familyBits = parsed.length * 8;
  let prefixBits = familyBits;
  if (slash !== -1) {
    const prefixText = body.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > familyBits) {
      throw new TypeError(
        `the prefix length of ${quoted} must be a whole number from 0 to ${familyBits}`,
      );
    }
    prefixBits = Number(prefixText);
    if (!hostBitsClear(parsed, prefixBits)) {
      throw new TypeError(
        `${quoted} has bits set after its /${prefixBits} prefix; write the block's first address`,
      );
    }
  }
  // A mapped block that covers only mapped addresses is the IPv4 block it maps.
  const mappedBits = ipv6Bits - ipv4Bits;
  if (parsed.length === 16 && isMapped(parsed) && prefixBits >= mappedBits) {
    return { negated, kind: "block", bytes: parsed.slice(12), prefixBits: prefixBits - mappedBits };
  }
  return { negated, kind: "block", bytes: parsed, prefixBits };
}

function matches(pattern: Pattern, address: Uint8Array, addressText: string): boolean {
  if (pattern.kind === "wildcard") return pattern.regex.test(addressText);
  if (pattern.bytes.length !== address.length) return false;
  return prefixEqual(pattern.bytes, address, pattern.prefixBits);
}

function wildcardRegex(pattern: string): RegExp {
  const source = pattern.replaceAll(".", "\\.").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${source}$`, "i");
}

function prefixEqual(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = Math.floor(bits / 8);
  for (let index = 0; index < whole; index++) if (a[index] !== b[index]) return false;
  const rest = bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole] & mask) === (b[whole] & mask);
}

function hostBitsClear(bytes: Uint8Array, prefixBits: number): boolean {
  return bytes.every((byte, index) => {
    const keptBits = Math.min(8, Math.max(0, prefixBits - index * 8));
    return (byte & (0xff >> keptBits)) === 0;
  });
}

function isMapped(bytes: Uint8Array): boolean {
  return mappedPrefix.every((byte, index) => bytes[index] === byte);
}

/** An IPv4-mapped IPv6 address as its 4 IPv4 bytes; any other address as it is. */
function normalBytes(bytes: Uint8Array): Uint8Array {
  return bytes.length === 16 && isMapped(bytes) ? bytes.slice(12) : bytes;
}

/** The 4 or 16 bytes of an IPv4 or IPv6 address, or `undefined`. */
function parseAddress(text: string): Uint8Array | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  // Leading zeros are refused: some tools read them as octal.
  const match = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(
    text,
  );
  if (match === null) return undefined;
  const bytes = match.slice(1).map(Number);
  return bytes.every((byte) => byte <= 255) ? new Uint8Array(bytes) : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groupsOf(halves[1], true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== ipv6Groups : given > ipv6Groups - 1) return undefined;
  const groups = [...head, ...Array(ipv6Groups - given).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

/** The 16-bit groups of one side of `::`; the last may be a dotted IPv4 address if `last`. */
function groupsOf(text: string, last: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (last && index === parts.length - 1 && part.includes(".")) {
      const ipv4 = parseIpv4(part);
      if (ipv4 === undefined) return undefined;
      groups.push((ipv4[0] << 8) | ipv4[1], (ipv4[2] << 8) | ipv4[3]);
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  const groups = Array.from(
    { length: ipv6Groups },
    (_, i) => (bytes[i * 2] << 8) | bytes[i * 2 + 1],
  );
  // RFC 5952: compress the longest run of two or more zero groups, the first if tied.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < ipv6Groups;) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < ipv6Groups && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
