/**
 * Carries bytes both ways between a TCP connection and a forward stream, until both directions
 * ended (a TCP half-close becomes the stream's end and back) or either side broke.
 *
 * @module
 */

import { type Stream, StreamError } from "../session/stream.ts";

/** Receive window of each forward stream: up to this much in flight per direction. */
export const forwardWindowBytes = 1024 * 1024;
/** Bytes read from the TCP connection at a time. */
const readBufferBytes = 64 * 1024;

/**
 * Pipes `conn` and `stream` into each other and closes `conn` at the end. Flow control is the
 * stream's: a slow TCP reader stops window updates, and a stream without credit stops reads
 * from TCP. Resolves when both directions ended; a failure on either side resets the stream
 * and closes the connection (the promise still resolves; the error is returned).
 */
export async function pipeStream(stream: Stream, conn: Deno.Conn): Promise<unknown> {
  stream.setWindow(forwardWindowBytes);
  let failure: unknown;
  const fail = (error: unknown) => {
    if (failure !== undefined) return;
    failure = error;
    stream.reset(StreamError.cancel, `the forwarded TCP connection failed: ${describe(error)}`);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const toStream = (async () => {
    while (true) {
      const buffer = new Uint8Array(readBufferBytes);
      const count = await conn.read(buffer);
      if (count === null) return await stream.end();
      await stream.write(buffer.subarray(0, count));
    }
  })().catch(fail);
  const toConn = (async () => {
    for (let chunk = await stream.read(); chunk !== null; chunk = await stream.read()) {
      for (let offset = 0; offset < chunk.length;) {
        offset += await conn.write(chunk.subarray(offset));
      }
      stream.release(chunk);
    }
    await (conn as Deno.TcpConn).closeWrite?.().catch(() => {});
  })().catch(fail);
  await Promise.all([toStream, toConn]);
  if (failure === undefined) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
  return failure;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
