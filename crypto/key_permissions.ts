/**
 * What a client key may do, read from the options of its `authorized_keys` line (SPEC.md,
 * section 10): `from=`, `restrict`, `no-forward`, `permitopen=`, `read-only`, `write-only`,
 * `root=`, `topics=`. The list is closed: {@linkcode checkKeyOptions} refuses any other option,
 * so a line written for ssh (`command=`, `no-port-forwarding`) or a misspelt option never gets
 * more than its author meant.
 *
 * @module
 */

import { type AddressPatterns, parseAddressPatterns } from "./address_patterns.ts";

/** The options of one `authorized_keys` line, by lower-cased name. */
export type KeyOptions = ReadonlyMap<string, string | true>;

/**
 * Every option ovtp knows, and whether it takes a value (`"value"`) or stands alone (`"flag"`).
 * Where each is enforced: `from` (the server, at the handshake), `root`, `read-only`,
 * `write-only` (file operations), `no-forward`, `permitopen` (TCP forwarding), `topics`
 * (publish/subscribe and work queues), `restrict` (forwarding and file writes).
 */
const knownOptions: ReadonlyMap<string, "flag" | "value"> = new Map([
  ["from", "value"],
  ["root", "value"],
  ["permitopen", "value"],
  ["topics", "value"],
  ["read-only", "flag"],
  ["write-only", "flag"],
  ["no-forward", "flag"],
  ["restrict", "flag"],
]);

/**
 * Checks the options of one key, as the `authorized_keys` parser does for every line: each name
 * (lower case) must be one ovtp knows; `from`, `root`, `permitopen` and `topics` need a non-empty
 * value, the others (`read-only`, `write-only`, `no-forward`, `restrict`) must have none; a
 * `from=` value must be a valid pattern list. A key whose options fail this must not be let in.
 *
 * @param options The options, by lower-cased name; `true` for a name given without `=`.
 * @throws {TypeError} For the first option that is unknown or malformed; the message names it.
 *
 * @example Refuse an option written for ssh
 * ```ts
 * import { checkKeyOptions } from "./key_permissions.ts";
 * import assert from "node:assert/strict";
 *
 * checkKeyOptions(new Map<string, string | true>([["read-only", true], ["from", "10.0.0.0/8"]]));
 * assert.throws(() => checkKeyOptions(new Map([["command", "date"]])), /unknown option "command"/);
 * assert.throws(() => checkKeyOptions(new Map([["root", true]])), /needs a value/);
 * ```
 */
export function checkKeyOptions(options: KeyOptions): void {
  for (const [name, value] of options) {
    const kind = knownOptions.get(name);
    if (kind === undefined) {
      throw new TypeError(
        `unknown option "${name}" (ovtp knows ${[...knownOptions.keys()].join(", ")})`,
      );
    }
    if (kind === "flag" && value !== true) {
      throw new TypeError(`the option "${name}" takes no value`);
    }
    if (kind === "value" && (value === true || value === "")) {
      throw new TypeError(`the option "${name}" needs a value: ${name}="…"`);
    }
    if (name === "from" && typeof value === "string") {
      try {
        parseAddressPatterns(value);
      } catch (error) {
        throw new TypeError(`the option "from": ${(error as Error).message}`);
      }
    }
  }
}

/**
 * Whether a key's `from="pattern,…"` option lets it in from `address` (the client's IP address).
 * Patterns are addresses, CIDR blocks or `*`/`?` wildcards, compared as addresses (an
 * IPv4-mapped IPv6 address is its IPv4 address); a pattern starting with `!` refuses what it
 * matches and wins over the others; the address must match at least one pattern without `!`
 * (see {@linkcode parseAddressPatterns}). A key without `from=` is allowed from anywhere; a
 * `from` that is empty or malformed allows nothing.
 *
 * @param options The key's options.
 * @param address The client's IP address.
 * @returns Whether the key may be used from there.
 *
 * @example
 * ```ts
 * import { allowsFrom } from "./key_permissions.ts";
 * import assert from "node:assert/strict";
 *
 * const options = new Map<string, string | true>([["from", "10.0.0.0/8,!10.0.0.9,127.0.0.1"]]);
 * assert.equal(allowsFrom(options, "10.1.2.3"), true);
 * assert.equal(allowsFrom(options, "::ffff:127.0.0.1"), true);
 * assert.equal(allowsFrom(options, "10.0.0.9"), false);
 * assert.equal(allowsFrom(options, "192.168.0.1"), false);
 * assert.equal(allowsFrom(new Map(), "192.168.0.1"), true);
 * ```
 */
export function allowsFrom(options: KeyOptions, address: string): boolean {
  const from = options.get("from");
  if (from === undefined) return true;
  if (from === true || from === "") return false;
  let patterns = parsedFrom.get(options);
  if (patterns === undefined || patterns.text !== from) {
    try {
      patterns = { text: from, parsed: parseAddressPatterns(from) };
    } catch {
      patterns = { text: from, parsed: undefined };
    }
    parsedFrom.set(options, patterns);
  }
  return patterns.parsed?.allows(address) ?? false;
}

/** Each key's `from=` read once, not at every handshake (a list may be long). */
const parsedFrom = new WeakMap<KeyOptions, { text: string; parsed: AddressPatterns | undefined }>();

/**
 * Whether a key may open TCP forwards: not with `no-forward`, not with `restrict`. (The
 * destination must also be on the server's allow-list and, with `permitopen=`, on the key's.)
 *
 * @param options The key's options.
 * @returns Whether forwarding is on for the key.
 *
 * @example
 * ```ts
 * import { allowsForward } from "./key_permissions.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(allowsForward(new Map()), true);
 * assert.equal(allowsForward(new Map([["no-forward", true]])), false);
 * assert.equal(allowsForward(new Map([["restrict", true]])), false);
 * ```
 */
export function allowsForward(options: KeyOptions): boolean {
  return !options.has("no-forward") && !options.has("restrict");
}

/**
 * Whether a key may write files (upload, make folders and links): not with `read-only`, not with
 * `restrict`.
 *
 * @param options The key's options.
 * @returns Whether file writes are on for the key.
 *
 * @example
 * ```ts
 * import { allowsWrite } from "./key_permissions.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(allowsWrite(new Map()), true);
 * assert.equal(allowsWrite(new Map([["read-only", true]])), false);
 * assert.equal(allowsWrite(new Map([["restrict", true]])), false);
 * ```
 */
export function allowsWrite(options: KeyOptions): boolean {
  return !options.has("read-only") && !options.has("restrict");
}

/**
 * Whether a key may read files (download, stat, list): not with `write-only`.
 *
 * @param options The key's options.
 * @returns Whether file reads are on for the key.
 *
 * @example
 * ```ts
 * import { allowsRead } from "./key_permissions.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(allowsRead(new Map([["write-only", true]])), false);
 * ```
 */
export function allowsRead(options: KeyOptions): boolean {
  return !options.has("write-only");
}
