/**
 * `DenoTransport`: where the protocol meets a socket. It adapts a `Deno.Conn` to the `Transport`
 * interface (`transport.ts`) that the handshake and the channel read and write; the client makes
 * one per connection, the server one per accepted socket.
 *
 * @module
 */

import type { Transport, TransportAddress } from "./transport.ts";

function toAddress(addr: Deno.Addr): TransportAddress {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return { hostname: addr.hostname, port: addr.port };
  }
  return { hostname: "path" in addr ? String(addr.path) : "", port: 0 };
}

/**
 * Adapts a `Deno.Conn` to {@linkcode Transport}: sets `TCP_NODELAY` (Deno leaves Nagle's
 * algorithm on, which stalls small writes for 40 ms), writes everything it is given, and turns
 * the errors of a closed socket into an end of stream.
 *
 * @example Wrap a TCP connection
 * ```ts
 * import { DenoTransport } from "./deno_transport.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * const client = new DenoTransport(await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }));
 * const server = new DenoTransport(await accepted);
 * await client.write(new TextEncoder().encode("hi"));
 * const buffer = new Uint8Array(2);
 * assert.equal(await server.read(buffer), 2);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export class DenoTransport implements Transport {
  #conn: Deno.Conn;
  #closed = false;
  /** The peer's address. */
  readonly remoteAddr: TransportAddress;
  /** Our address. */
  readonly localAddr: TransportAddress;

  /** @param conn A connected socket; this transport owns it from now on. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.remoteAddr = toAddress(conn.remoteAddr);
    this.localAddr = toAddress(conn.localAddr);
    if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") {
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
      } catch {
        // Not a TCP socket: nothing to tune.
      }
    }
  }

  /** Reads into `buffer`; `null` at the end of the stream or once closed. */
  read(buffer: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    // Not an async function: an idle connection waits here all the time, and a suspended
    // async frame per connection costs memory for nothing.
    return this.#conn.read(buffer).catch((error) => {
      if (this.#closed || isClosedError(error)) return null;
      throw error;
    });
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.#conn.write(offset === 0 ? bytes : bytes.subarray(offset));
    }
  }

  /** Shuts down the sending direction. */
  async closeWrite(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      if (!isClosedError(error)) throw error;
    }
  }

  /** Closes the socket; safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }
}

function isClosedError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BrokenPipe;
}
