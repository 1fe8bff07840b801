/**
 * What a client key may do, read from the options of its `authorized_keys` line (SPEC.md,
 * section 10): `from=`, `restrict`, `no-forward`, `permitopen=`, `read-only`, `write-only`,
 * `root=`. Options these functions do not know are ignored, so a line written for ssh
 * (`no-pty`, `command=`) still works.
 *
 * @module
 */

/** The options of one `authorized_keys` line, by lower-cased name. */
export type KeyOptions = ReadonlyMap<string, string | true>;

/**
 * Whether a key's `from="pattern,…"` option lets it in from `address` (the client's IP address,
 * as text). Like ssh: patterns are separated by commas, `*` matches any run of characters and
 * `?` one character, a pattern starting with `!` refuses the addresses it matches (and wins over
 * the others), and the address must match at least one pattern without `!`. Addresses are
 * compared as text (no DNS names, no CIDR masks). A key without `from=` is allowed from
 * anywhere; a `from` without a value allows nothing.
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
 * const options = new Map<string, string | true>([["from", "10.*,!10.0.0.9,127.0.0.1"]]);
 * assert.equal(allowsFrom(options, "10.1.2.3"), true);
 * assert.equal(allowsFrom(options, "10.0.0.9"), false);
 * assert.equal(allowsFrom(options, "192.168.0.1"), false);
 * assert.equal(allowsFrom(new Map(), "192.168.0.1"), true);
 * ```
 */
export function allowsFrom(options: KeyOptions, address: string): boolean {
  const from = options.get("from");
  if (from === undefined) return true;
  if (from === true) return false;
  let allowed = false;
  for (const raw of from.split(",")) {
    const pattern = raw.trim();
    if (pattern === "") continue;
    const negated = pattern.startsWith("!");
    if (!matchesWildcard(negated ? pattern.slice(1) : pattern, address)) continue;
    if (negated) return false;
    allowed = true;
  }
  return allowed;
}

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

/** `*` (any run) and `?` (one character) wildcards over the whole text, case-insensitive. */
function matchesWildcard(pattern: string, text: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll(
    "?",
    ".",
  );
  return new RegExp(`^${source}$`, "i").test(text);
}
