/**
 * A TCP relay for tests that sits between a client and a server on 127.0.0.1 and hands every
 * frame (4-byte length + body) to a hook that may pass, alter, drop or multiply it.
 *
 * @module
 */

/** Which way a frame travels. */
export type Direction = "toServer" | "toClient";

/** Decides what to forward for one frame (with its length prefix): the frames to send instead. */
export type FrameHook = (direction: Direction, index: number, frame: Uint8Array) => Uint8Array[];

/** A running relay. */
export interface Relay {
  /** Where clients should connect. */
  address: { hostname: string; port: number };
  /** Frames seen so far in each direction. */
  counts: Record<Direction, number>;
  /** Stops listening and cuts every relayed connection. */
  close(): Promise<void>;
}

/** Starts a relay to `target`. */
export function startRelay(
  target: { hostname: string; port: number },
  hook: FrameHook = (_direction, _index, frame) => [frame],
): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const counts: Record<Direction, number> = { toServer: 0, toClient: 0 };
  const tasks = new Set<Promise<void>>();
  const accepting = (async () => {
    try {
      for await (const inbound of listener) {
        const task = relayOne(inbound as Deno.TcpConn);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // Listener closed.
    }
  })();

  async function relayOne(inbound: Deno.TcpConn): Promise<void> {
    conns.add(inbound);
    let outbound: Deno.TcpConn;
    try {
      outbound = await Deno.connect(target);
    } catch {
      inbound.close();
      conns.delete(inbound);
      return;
    }
    conns.add(outbound);
    inbound.setNoDelay(true);
    outbound.setNoDelay(true);
    await Promise.allSettled([
      pump(inbound, outbound, "toServer"),
      pump(outbound, inbound, "toClient"),
    ]);
    for (const conn of [inbound, outbound]) {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }

  async function pump(from: Deno.Conn, to: Deno.Conn, direction: Direction): Promise<void> {
    let pending = new Uint8Array(0);
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const count = await from.read(buffer);
        if (count === null) break;
        const joined = new Uint8Array(pending.length + count);
        joined.set(pending);
        joined.set(buffer.subarray(0, count), pending.length);
        pending = joined;
        while (pending.length >= 4) {
          const length = new DataView(pending.buffer, pending.byteOffset, 4).getUint32(0);
          if (pending.length < 4 + length) break;
          const frame = pending.slice(0, 4 + length);
          pending = pending.slice(4 + length);
          for (const out of hook(direction, counts[direction]++, frame)) await writeAll(to, out);
        }
      }
      await to.closeWrite();
    } catch (error) {
      // A hook may forward part of a frame before cutting.
      const partial = (error as { partial?: Uint8Array }).partial;
      if (partial !== undefined) await writeAll(to, partial).catch(() => {});
      // One side went away, or the hook cut: cut the other.
      try {
        to.close();
      } catch {
        // Already closed.
      }
    }
  }

  return {
    address: { hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port },
    counts,
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}
