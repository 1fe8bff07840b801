/**
 * The one interface between the protocol and a byte stream. The codec, handshake and channel
 * only see a {@linkcode Transport}; {@linkcode DenoTransport} adapts a `Deno.Conn`, and
 * `memoryTransportPair()` joins two in-memory ends for tests.
 *
 * @module
 */

/** Network address of one end of a transport, as far as it is known. */
export interface TransportAddress {
  /** Host name or IP address. */
  hostname: string;
  /** Port number, 0 where there is none. */
  port: number;
}

/**
 * A reliable, ordered, bidirectional byte stream.
 *
 * @example A TCP connection as a Transport
 * ```ts
 * import type { Transport } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * function tcpTransport(conn: Deno.TcpConn): Transport {
 *   const address = (addr: Deno.Addr) => {
 *     const { hostname, port } = addr as Deno.NetAddr;
 *     return { hostname, port };
 *   };
 *   return {
 *     read: (buffer) => conn.read(buffer),
 *     async write(bytes) {
 *       for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
 *     },
 *     closeWrite: () => conn.closeWrite(),
 *     close() {
 *       try {
 *         conn.close();
 *       } catch {
 *         // Already closed.
 *       }
 *     },
 *     remoteAddr: address(conn.remoteAddr),
 *     localAddr: address(conn.localAddr),
 *   };
 * }
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const [a, b] = await Promise.all([
 *   Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }).then(tcpTransport),
 *   listener.accept().then(tcpTransport),
 * ]);
 * await a.write(new Uint8Array([1, 2, 3]));
 * await a.closeWrite();
 * const buffer = new Uint8Array(8);
 * assert.equal(await b.read(buffer), 3);
 * assert.equal(await b.read(buffer), null);
 * a.close();
 * b.close();
 * ```
 */
export interface Transport {
  /** Reads into `buffer`; resolves to the count read, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`; resolves once the transport has taken them (backpressure). */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the sending direction; reads may go on. */
  closeWrite(): Promise<void>;
  /** Closes both directions at once. Safe to call more than once. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: TransportAddress;
  /** Our address. */
  readonly localAddr: TransportAddress;
}
