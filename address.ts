/**
 * Host and port parsing and formatting (`host`, `host:port`, `[IPv6]:port`; port 4242 when none is
 * given). Not on the data path: it names where a connection goes, for the client's target, the
 * server's listen address, the forward allow lists and the CLI's `HOST[:PORT]` arguments.
 *
 * @module
 */

/** The port ovtp uses when none is given. */
export const defaultPort = 4242;

/** A host and port to connect to or listen on. */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
}

/**
 * Parses `host`, `host:port`, `[v6]` or `[v6]:port`. The port defaults to
 * {@linkcode defaultPort}.
 *
 * @example
 * ```ts
 * import { parseHostPort } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseHostPort("example.org:99"), { hostname: "example.org", port: 99 });
 * assert.deepEqual(parseHostPort("[::1]"), { hostname: "::1", port: 4242 });
 * ```
 *
 * @throws {TypeError} When the text is not a host with an optional port from 0 to 65535.
 */
export function parseHostPort(text: string, fallbackPort: number = defaultPort): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]\s]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = match?.[3] === undefined ? fallbackPort : Number(match[3]);
  if (match === null || port > 65535) {
    throw new TypeError(
      `Cannot parse address "${text}": expected HOST, HOST:PORT or [IPv6]:PORT with a port 0-65535`,
    );
  }
  return { hostname: match[1] ?? match[2], port };
}

/**
 * Formats a host and port as `host:port`, bracketing IPv6 addresses.
 *
 * @example
 * ```ts
 * import { formatHostPort } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatHostPort({ hostname: "::1", port: 7 }), "[::1]:7");
 * ```
 */
export function formatHostPort(address: HostPort): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}
