/**
 * The client side of TCP forwarding (`OvtpClient.forward()`, like `ssh -L`): after a probe stream
 * shows the server would allow it, it listens on a local port and carries each accepted connection
 * as one FORWARD stream, which `forward_service.ts` answers.
 *
 * @module
 */

import { acceptLoop } from "../wire/accept_loop.ts";
import type { HostPort } from "../address.ts";
import type { Channel } from "../session/channel.ts";
import { type Stream, StreamKind } from "../session/stream.ts";
import { parseForwardHead } from "./forward_service.ts";
import { pipeStream } from "./_pipe.ts";

/** Options of `OvtpClient.forward()`: like `ssh -L [localHost:]localPort:remoteHost:remotePort`. */
export interface ForwardOptions {
  /** Address to listen on here. Default `127.0.0.1` (only this machine). */
  localHost?: string;
  /** Port to listen on here; 0 picks a free one (see {@linkcode LocalForward.addr}). */
  localPort: number;
  /** The destination host, as the server resolves it (and as its allow-list names it). */
  remoteHost: string;
  /** The destination port. */
  remotePort: number;
  /** Aborting it closes the forward, as {@linkcode LocalForward.close} does. */
  signal?: AbortSignal;
  /** Called when one forwarded connection could not be opened or broke; the others go on. */
  onError?: (error: unknown) => void;
}

/** A running local forward, made by `OvtpClient.forward()`. */
export interface LocalForward {
  /** The local address it listens on. */
  readonly addr: HostPort;
  /** Resolves once it is closed and every forwarded connection has ended. */
  readonly finished: Promise<void>;
  /** Stops listening and cuts the forwarded connections still open. */
  close(): Promise<void>;
}

/**
 * Starts a local forward: first asks the server whether it would open the destination for us
 * (a probe stream, so a refused forward fails here, at once, with a `RemoteError` of code 13),
 * then listens on `localHost:localPort` and carries each accepted connection as one forward
 * stream over the channel `openChannel()` gives (which may reconnect).
 *
 * @param openChannel Returns the client's connected channel.
 * @param options Where to listen and where to forward to.
 * @returns The running forward.
 * @throws {RangeError} For a malformed host or port.
 * @throws {RemoteError} When the server refuses the forward (code 13).
 *
 * @example Forward a local port (needs a server; see tests/forward_test.ts)
 * ```ts ignore
 * const forward = await client.forward({ localPort: 8080, remoteHost: "127.0.0.1", remotePort: 80 });
 * await fetch(`http://127.0.0.1:${forward.addr.port}/`);
 * await forward.close();
 * ```
 */
export async function startLocalForward(
  openChannel: () => Promise<Channel>,
  options: ForwardOptions,
): Promise<LocalForward> {
  const target = parseForwardHead({ host: options.remoteHost, port: options.remotePort });
  if (typeof target === "string") throw new RangeError(target.replace("Forward head", "forward"));
  if (!Number.isInteger(options.localPort) || options.localPort < 0 || options.localPort > 65535) {
    throw new RangeError(`forward: "localPort" must be an integer from 0 to 65535`);
  }
  const head = { host: target.host, port: target.port };
  const probe = await (await openChannel()).openStream(
    StreamKind.forward,
    { ...head, probe: true },
    { end: true },
  );
  await probe.replyHead();
  await probe.read();

  const listener = Deno.listen({
    hostname: options.localHost ?? "127.0.0.1",
    port: options.localPort,
  });
  const addr = listener.addr as Deno.NetAddr;
  const conns = new Set<Deno.Conn>();
  const carrying = new Set<Promise<void>>();
  let closed = false;

  const carry = async (conn: Deno.Conn) => {
    let stream: Stream;
    try {
      stream = await (await openChannel()).openStream(StreamKind.forward, head);
      await stream.replyHead();
    } catch (error) {
      conn.close();
      if (!closed) options.onError?.(error);
      return;
    }
    const failure = await pipeStream(stream, conn);
    if (failure !== undefined && !closed) options.onError?.(failure);
  };

  const accepting = acceptLoop(listener, (conn) => {
    conns.add(conn);
    const task = carry(conn).finally(() => {
      conns.delete(conn);
      carrying.delete(task);
    });
    carrying.add(task);
  }, { onError: (error) => !closed && options.onError?.(error) });

  let closing: Promise<void> | undefined;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => resolveFinished = resolve);
  const close = () => {
    closing ??= (async () => {
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await accepting;
      await Promise.all(carrying);
      resolveFinished();
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => close(), { once: true });
  if (options.signal?.aborted) close();
  return { addr: { hostname: addr.hostname, port: addr.port }, finished, close };
}
