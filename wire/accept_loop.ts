/**
 * The one accept loop of every listener ovtp opens (the server's, and `ovtp forward -L`'s local
 * one). An accept error that concerns one connection, or the process, never ends it: only
 * closing the listener does.
 *
 * @module
 */

/** Options of {@linkcode acceptLoop}. */
export interface AcceptLoopOptions {
  /**
   * Called with the first error of each burst of accept errors (failures with no successful
   * accept between them), so a long outage is reported once. What it throws is ignored.
   */
  onError?: (error: unknown) => void;
  /** Longest pause after repeated errors that say the process is out of descriptors. */
  maxBackoffMs?: number;
}

/** First pause after an accept failed for lack of file descriptors. */
export const firstAcceptBackoffMs = 10;
/** Default longest pause between accepts while descriptors are exhausted. */
export const defaultMaxAcceptBackoffMs = 1000;

/**
 * Accepts connections from `listener` and hands each to `serve` (which must not throw
 * synchronously; its promise is not awaited), until the listener is closed. Errors that
 * concern one connection (reset or aborted before it was accepted: ENOTCONN, ECONNABORTED,
 * ECONNRESET) are skipped at once; running out of file descriptors (EMFILE, ENFILE) or memory
 * pauses the loop, doubling from 10 ms up to `maxBackoffMs`, and it goes on once accepts succeed
 * again. Resolves when the listener is closed.
 *
 * @example Accept until closed
 * ```ts
 * import { acceptLoop } from "./accept_loop.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * let accepted = 0;
 * const loop = acceptLoop(listener, (conn) => {
 *   accepted++;
 *   conn.close();
 * });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * await conn.read(new Uint8Array(1));
 * conn.close();
 * listener.close();
 * await loop;
 * assert.equal(accepted, 1);
 * ```
 */
export async function acceptLoop(
  listener: Deno.Listener,
  serve: (conn: Deno.Conn) => void,
  options: AcceptLoopOptions = {},
): Promise<void> {
  const maxBackoffMs = options.maxBackoffMs ?? defaultMaxAcceptBackoffMs;
  let backoffMs = 0;
  let failures = 0;
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (listenerClosed(error)) return;
      if (failures++ === 0) report(options, error);
      if (outOfResources(error)) {
        backoffMs = Math.min(maxBackoffMs, Math.max(firstAcceptBackoffMs, backoffMs * 2));
        await sleep(backoffMs);
      } else if (failures % 64 === 0) {
        // An error we do not know, repeating: do not spin on it.
        await sleep(firstAcceptBackoffMs);
      }
      continue;
    }
    failures = 0;
    backoffMs = 0;
    serve(conn);
  }
}

function listenerClosed(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted;
}

function outOfResources(error: unknown): boolean {
  const text = error instanceof Error ? error.message : String(error);
  // EMFILE (24), ENFILE (23), ENOBUFS (105), ENOMEM (12): Deno has no error classes for them.
  return /os error (24|23|105|12)\)|too many open files|no buffer space|cannot allocate memory/i
    .test(text);
}

function report(options: AcceptLoopOptions, error: unknown): void {
  try {
    options.onError?.(error);
  } catch {
    // A failing reporter must not end the loop.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
