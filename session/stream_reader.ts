/**
 * Reads a stream's data in the sizes a protocol needs: exact fields (an upload's start offset, an
 * event frame's header), then chunks up to a limit, keeping what is left of a record for the
 * next read. Used by the file transfers (PUT/GET content) and the messaging event frames; it sits
 * on top of `Stream.read()` and never holds more than one record.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import type { Stream } from "./stream.ts";

/**
 * Reads a stream's data in the sizes a file operation needs (exact field sizes, then chunks up
 * to a limit), keeping what is left of a record for the next read. Holds at most one record.
 *
 * @example See tests/transfer/file_transfer_test.ts; in short:
 * ```ts ignore
 * const reader = new StreamReader(stream);
 * const start = await reader.readExact(8);
 * ```
 */
export class StreamReader {
  #stream: Stream;
  #pending: Uint8Array = new Uint8Array(0);
  #current: Uint8Array | undefined;
  #ended = false;

  /** @param stream The stream to read. */
  constructor(stream: Stream) {
    this.#stream = stream;
  }

  async #fill(): Promise<boolean> {
    while (this.#pending.length === 0) {
      if (this.#ended) return false;
      // What read() returned before is no longer in use (see read()): free its record.
      if (this.#current !== undefined) this.#stream.release(this.#current);
      this.#current = undefined;
      const chunk = await this.#stream.read();
      if (chunk === null) {
        this.#ended = true;
        return false;
      }
      this.#pending = chunk;
      this.#current = chunk;
    }
    return true;
  }

  /**
   * The next bytes, at most `maxBytes`; `null` at the end of the stream. They are valid only
   * until the next call: the record they came from is then freed.
   */
  async read(maxBytes: number): Promise<Uint8Array | null> {
    if (!await this.#fill()) return null;
    const out = this.#pending.subarray(0, maxBytes);
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  /** Exactly `count` bytes; a {@linkcode ProtocolError} if the stream ends first. */
  async readExact(count: number): Promise<Uint8Array> {
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const part = await this.read(count - filled);
      if (part === null) {
        throw new ProtocolError(
          `Stream ${this.#stream.id} ended after ${filled} of ${count} expected bytes`,
        );
      }
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  /** Throws unless the stream ends here. */
  async expectEnd(): Promise<void> {
    if (await this.#fill()) {
      throw new ProtocolError(`Stream ${this.#stream.id} carries more data than announced`);
    }
  }
}
