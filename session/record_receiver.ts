/**
 * The receiving half of the record layer. It reads frames from the `FrameReader`, opens each
 * (several in flight) and hands the plaintexts to the channel strictly in sequence; the first
 * record that fails to open ends the connection. Its mirror is `record_sender.ts`.
 *
 * @module
 */

import { aesGcmOpen, aesGcmTagBytes } from "../crypto/aes_gcm.ts";
import { frameHeaderBytes, writeFrameHeader } from "../wire/frame.ts";
import type { FrameReader } from "../wire/frame_reader.ts";
import { recordNonce } from "./key_schedule.ts";
import { TrafficKeys } from "./traffic_keys.ts";
import { ProtocolError } from "../errors.ts";

/** Options of {@linkcode RecordReceiver}. */
export interface RecordReceiverOptions {
  /** Records per key epoch, as the peer announced in its hello. */
  rekeyRecords: number;
  /** Opens allowed in flight at once. Default 4. */
  opensInFlight?: number;
}

/** Default number of AES-GCM opens in flight. */
export const defaultOpensInFlight = 4;

/**
 * The receiving half of the record layer. It reads frames, starts opening each as soon as it
 * arrives (several in flight), and hands the plaintexts to `deliver` strictly in sequence
 * order. The first record that fails to open ends the run with a {@linkcode ProtocolError};
 * nothing of it, and nothing after it, is delivered. A replayed, reordered, altered or
 * reflected record fails because its nonce or key does not match.
 *
 * @example Open what a RecordSender sealed
 * ```ts
 * import { RecordReceiver } from "./record_receiver.ts";
 * import { RecordSender } from "./record_sender.ts";
 * import { FrameReader } from "../wire/frame_reader.ts";
 * import { memoryTransportPair } from "../wire/memory_transport.ts";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = memoryTransportPair();
 * const secret = new Uint8Array(32).fill(3);
 * const sender = new RecordSender(a, secret, { rekeyRecords: 100 });
 * sender.seal(new Uint8Array([1, 2, 3]));
 * await sender.flush();
 * await a.closeWrite();
 * const got: Uint8Array[] = [];
 * await new RecordReceiver(new FrameReader(b), secret, { rekeyRecords: 100 }).run((p) => got.push(p));
 * assert.deepEqual(got, [new Uint8Array([1, 2, 3])]);
 * b.close();
 * ```
 */
export class RecordReceiver {
  #reader: FrameReader;
  #keys: TrafficKeys;
  #opensInFlight: number;

  /**
   * @param reader Where frames come from.
   * @param secret The first traffic secret of the peer's sending direction.
   * @param options The peer's rekey interval and the opens in flight.
   */
  constructor(reader: FrameReader, secret: Uint8Array, options: RecordReceiverOptions) {
    this.#reader = reader;
    this.#keys = new TrafficKeys(secret, options.rekeyRecords);
    this.#opensInFlight = options.opensInFlight ?? defaultOpensInFlight;
  }

  /** Records received so far. */
  get recordsReceived(): number {
    return this.#keys.sequence;
  }

  /**
   * Reads and opens records until the end of the stream.
   *
   * @param deliver Called with each plaintext, in order; a throw ends the run with that error.
   * @returns When the transport ended at a frame boundary and everything was delivered.
   */
  async run(deliver: (plaintext: Uint8Array) => void): Promise<void> {
    let inFlight = 0;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const signal = () => {
      const resolve = wake;
      wake = undefined;
      resolve?.();
    };
    // Rejects the pending read as soon as a record fails, so the read does not hide the
    // failure. (Not Promise.race with one long-lived promise: every race would leave a reaction
    // on it, and each reaction would keep its frame alive.)
    let failRead: ((error: unknown) => void) | undefined;
    let delivered: Promise<void> = Promise.resolve();
    while (failure === undefined) {
      if (inFlight >= this.#opensInFlight) {
        await new Promise<void>((resolve) => wake = resolve);
        continue;
      }
      let body: Uint8Array | null;
      try {
        body = await new Promise<Uint8Array | null>((resolve, reject) => {
          failRead = reject;
          this.#reader.read().then(resolve, reject);
        });
        failRead = undefined;
        if (body !== null && body.length < aesGcmTagBytes) {
          throw new ProtocolError(
            `Cannot open record: ${body.length} bytes is shorter than its tag`,
          );
        }
      } catch (error) {
        // Deliver what arrived intact before the bad frame, then report it.
        await delivered;
        throw error;
      }
      if (body === null || failure !== undefined) break;
      const frame = body;
      const slot = this.#keys.next(frame.length - aesGcmTagBytes);
      const header = new Uint8Array(frameHeaderBytes);
      writeFrameHeader(header, frame.length);
      inFlight++;
      const opened = slot.keys.then((keys) => {
        const result = aesGcmOpen(keys.key, recordNonce(keys.iv, slot.sequence), frame, header);
        // Web Crypto copied the ciphertext when called: the frame buffer can be reused.
        this.#reader.release(frame);
        return result;
      });
      opened.catch(() => {});
      delivered = delivered.then(async () => {
        const plaintext = await opened;
        inFlight--;
        signal();
        deliver(plaintext);
      });
      delivered.catch((error) => {
        failure ??= error;
        failRead?.(error);
        signal();
      });
    }
    await delivered;
  }
}
