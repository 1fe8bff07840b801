/**
 * Reads the `HOST[:PORT]:PATH` arguments of `put`, `get` and `hash` as `scp` does (a port only
 * when a second `:` follows it); the client-command skeleton (`client_command.ts`) connects to the
 * server it names and hands the command the remote path.
 *
 * @module
 */

import { defaultPort, type HostPort, parseHostPort } from "../address.ts";

/** A remote path with the server it is on, as `HOST[:PORT]:PATH` names it. */
export interface RemoteTarget {
  /** The server. */
  address: HostPort;
  /** The path on the server (may be empty: the served folder itself). */
  path: string;
  /** Whether the text gave the port (else it is the default, which `Port` in the config may change). */
  portGiven?: boolean;
}

/**
 * Parses `HOST:PATH`, `HOST:PORT:PATH`, `[IPv6]:PATH` or `[IPv6]:PORT:PATH`, as `scp` names remote
 * files. A port is read only when a second `:` follows it, so `host:2024` is the path `2024` on
 * the default port (4242), and `host:2024:` is the served folder on port 2024.
 *
 * @param text The argument.
 * @returns The server and the path, or `undefined` if `text` names no server (a local path).
 *
 * @example Read a port, or not
 * ```ts
 * import { parseRemoteTarget } from "./remote_target.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRemoteTarget("files.example:9000:in/a.csv"), {
 *   address: { hostname: "files.example", port: 9000 },
 *   path: "in/a.csv",
 *   portGiven: true,
 * });
 * assert.deepEqual(parseRemoteTarget("[::1]:a.csv"), {
 *   address: { hostname: "::1", port: 4242 },
 *   path: "a.csv",
 *   portGiven: false,
 * });
 * assert.equal(parseRemoteTarget("./a.csv"), undefined);
 * ```
 */
export function parseRemoteTarget(text: string): RemoteTarget | undefined {
  const match = /^(\[[^\]]*\]|[^:\/\[\]]+):(?:(\d{1,5}):)?(.*)$/s.exec(text);
  if (match === null) return undefined;
  const [, host, port, path] = match;
  let address: HostPort;
  try {
    address = parseHostPort(port === undefined ? host : `${host}:${port}`, defaultPort);
  } catch {
    return undefined;
  }
  return { address, path, portGiven: port !== undefined };
}
