/**
 * Internal: hands byte views to Web Crypto as the `BufferSource` it accepts, copying only views
 * over shared memory. Every Web Crypto wrapper in `crypto/` passes its bytes through it.
 *
 * @module
 */

/**
 * Returns `bytes` typed as a view over an `ArrayBuffer`, as Web Crypto's `BufferSource` wants.
 * The view is returned as is, without copying, unless it lies over a `SharedArrayBuffer`, which
 * Web Crypto refuses: then it is copied.
 *
 * @param bytes Any byte view.
 * @returns The same view, or a copy if it was over shared memory.
 *
 * @example Views are passed through
 * ```ts
 * import { bufferSource } from "./_buffer_source.ts";
 * import assert from "node:assert/strict";
 *
 * const view = new Uint8Array(8).subarray(2, 4);
 * assert.equal(bufferSource(view), view);
 * ```
 */
export function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.buffer instanceof ArrayBuffer) return bytes as Uint8Array<ArrayBuffer>;
  return new Uint8Array(bytes);
}
