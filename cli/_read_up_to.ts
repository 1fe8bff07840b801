/**
 * Internal: reads a stream to its end up to a byte limit, so that standard input (`cli_io.ts`) and
 * an `--exec` program's output (`exec_handler.ts`) cannot grow memory without bound.
 *
 * @module
 */

/**
 * Reads a stream to its end, up to a limit.
 *
 * @param readable The stream.
 * @param maxBytes The most bytes to keep.
 * @param onOverflow Called when the stream holds more (the rest is not read).
 * @returns The bytes, or `undefined` when there were more than `maxBytes`.
 *
 * @example
 * ```ts
 * import { readUpTo } from "./_read_up_to.ts";
 * import assert from "node:assert/strict";
 *
 * const stream = () => ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * assert.deepEqual(await readUpTo(stream(), 3), new Uint8Array([1, 2, 3]));
 * assert.equal(await readUpTo(stream(), 2), undefined);
 * ```
 */
export async function readUpTo(
  readable: ReadableStream<Uint8Array>,
  maxBytes: number,
  onOverflow?: () => void,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of readable) {
    total += chunk.length;
    if (total > maxBytes) {
      onOverflow?.();
      return undefined;
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
