/**
 * `ForwardAllowList`: the destinations a server opens TCP forwards to (`serveOvtp`'s
 * `forwardAllow`, `ovtp serve --forward-allow`), compared as text. `forward_service.ts` checks
 * each forward stream against it before connecting.
 *
 * @module
 */

import { formatHostPort } from "../address.ts";

/** Highest TCP port. */
const maxPort = 65535;

interface Entry {
  host: string;
  /** `undefined` for `*`, any port. */
  port: number | undefined;
}

/**
 * Destinations a server opens TCP forwards to: entries `host:port`, `host:*` (any port) and
 * `[IPv6]:port`. Hosts are compared as text, case-insensitively, and are not resolved: allowing
 * `localhost:80` does not allow `127.0.0.1:80`. An empty list allows nothing.
 *
 * @example Allow one port, and every port of another host
 * ```ts
 * import { ForwardAllowList } from "./forward_allow_list.ts";
 * import assert from "node:assert/strict";
 *
 * const allow = ForwardAllowList.parse(["127.0.0.1:8080", "db.internal:*"]);
 * assert.equal(allow.allows("127.0.0.1", 8080), true);
 * assert.equal(allow.allows("127.0.0.1", 22), false);
 * assert.equal(allow.allows("DB.internal", 5432), true);
 * assert.throws(() => ForwardAllowList.parse(["no-port"]), TypeError);
 * ```
 */
export class ForwardAllowList {
  readonly #entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    this.#entries = entries;
  }

  /**
   * Parses the entries.
   *
   * @param entries `host:port`, `host:*` or `[IPv6]:port` each.
   * @returns The list.
   * @throws {TypeError} For an entry that is not one of those.
   */
  static parse(entries: Iterable<string>): ForwardAllowList {
    const parsed: Entry[] = [];
    for (const text of entries) {
      const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]\s,]+)):(\*|\d{1,5})$/.exec(text.trim());
      const port = match === null || match[3] === "*" ? undefined : Number(match[3]);
      if (match === null || (port !== undefined && (port < 1 || port > maxPort))) {
        throw new TypeError(
          `Cannot parse forward destination "${text}": expected HOST:PORT, HOST:* or [IPv6]:PORT ` +
            `with a port 1-${maxPort}`,
        );
      }
      parsed.push({ host: (match[1] ?? match[2]).toLowerCase(), port });
    }
    return new ForwardAllowList(parsed);
  }

  /** True when the list allows nothing. */
  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /**
   * Whether the list holds `host:port`.
   *
   * @param host The destination host, as the client named it.
   * @param port The destination port.
   * @returns Whether it is allowed.
   */
  allows(host: string, port: number): boolean {
    const wanted = host.toLowerCase();
    return this.#entries.some((entry) =>
      entry.host === wanted && (entry.port === undefined || entry.port === port)
    );
  }

  /** The entries, formatted (`host:port`, `host:*`). */
  toString(): string {
    return this.#entries.map(({ host, port }) =>
      port === undefined
        ? `${formatHostPort({ hostname: host, port: 0 }).slice(0, -1)}*`
        : formatHostPort({ hostname: host, port })
    ).join(",");
  }
}
