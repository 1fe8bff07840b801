/**
 * The sending half of the record layer. The channel hands it each batch of records as plaintext;
 * it seals each with the next key and sequence number (several seals in flight) and writes the
 * frames to the transport strictly in order. Its mirror is `record_receiver.ts`.
 *
 * @module
 */

import { aesGcmSeal, aesGcmTagBytes } from "../crypto/aes_gcm.ts";
import { freeBuffer } from "../wire/_bytes.ts";
import { frameHeaderBytes, writeFrameHeader } from "../wire/frame.ts";
import type { Transport } from "../wire/transport.ts";
import { recordNonce } from "./key_schedule.ts";
import { TrafficKeys } from "./traffic_keys.ts";

/** Options of {@linkcode RecordSender}. */
export interface RecordSenderOptions {
  /** Records per key epoch (what we announced in our hello). */
  rekeyRecords: number;
  /** Seals allowed in flight at once. Default 4. */
  sealsInFlight?: number;
  /** Called whenever a sealed record has been written, so the caller can seal more. */
  onWritten?: () => void;
}

/** Default number of AES-GCM seals in flight. */
export const defaultSealsInFlight = 4;

/** Frames at least this large are written as header and body without joining them. */
const separateWriteBytes = 65536;

/**
 * The sending half of the record layer. Each plaintext gets the next sequence number and the
 * key of its epoch, and is sealed at once; several seals run in flight (Web Crypto's AES-GCM
 * runs off the main thread with a fixed cost per call), while frames are written strictly in
 * sequence order. The frame header is the additional data of the seal:
 * `length (4) || AES-GCM(key, iv ^ sequence, plaintext, aad = length) (plaintext + 16)`.
 *
 * @example Seal one record into a memory transport
 * ```ts
 * import { RecordSender } from "./record_sender.ts";
 * import { memoryTransportPair } from "../wire/memory_transport.ts";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = memoryTransportPair();
 * const sender = new RecordSender(a, new Uint8Array(32), { rekeyRecords: 100 });
 * sender.seal(new Uint8Array(5));
 * await sender.flush();
 * assert.equal(sender.bytesWritten, 4 + 5 + 16);
 * a.close();
 * b.close();
 * ```
 */
export class RecordSender {
  #transport: Transport;
  #keys: TrafficKeys;
  #sealsInFlight: number;
  #inFlight = 0;
  #writes: Promise<void> = Promise.resolve();
  #failure: unknown;
  #onWritten: () => void;
  /** Bytes written to the transport, headers included. */
  bytesWritten = 0;

  /**
   * @param transport Where frames go.
   * @param secret The first traffic secret of our sending direction.
   * @param options Rekey interval, seals in flight and the written callback.
   */
  constructor(transport: Transport, secret: Uint8Array, options: RecordSenderOptions) {
    this.#transport = transport;
    this.#keys = new TrafficKeys(secret, options.rekeyRecords);
    this.#sealsInFlight = options.sealsInFlight ?? defaultSealsInFlight;
    this.#onWritten = options.onWritten ?? (() => {});
  }

  /** True while another record may be sealed without exceeding the in-flight limit. */
  get ready(): boolean {
    return this.#inFlight < this.#sealsInFlight && this.#failure === undefined;
  }

  /** Records sealed so far. */
  get recordsSealed(): number {
    return this.#keys.sequence;
  }

  /** Key updates done so far. */
  get epoch(): number {
    return this.#keys.epoch;
  }

  /** The first write or seal error, if any; once set, nothing more is written. */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * Seals `plaintext` as the next record and queues its frame for writing. The caller must not
   * modify `plaintext` afterwards; with `owned`, it hands the buffer over, and it is freed as
   * soon as Web Crypto has copied it.
   */
  seal(plaintext: Uint8Array, options: { owned?: boolean } = {}): void {
    if (this.#failure !== undefined) return;
    const slot = this.#keys.next(plaintext.length);
    const header = new Uint8Array(frameHeaderBytes);
    writeFrameHeader(header, plaintext.length + aesGcmTagBytes);
    this.#inFlight++;
    const sealed = slot.keys.then((keys) => {
      const result = aesGcmSeal(keys.key, recordNonce(keys.iv, slot.sequence), plaintext, header);
      // Web Crypto copied the plaintext when called.
      if (options.owned) freeBuffer(plaintext);
      return result;
    });
    sealed.catch(() => {});
    this.#writes = this.#writes.then(async () => {
      if (this.#failure !== undefined) return;
      const body = await sealed;
      if (body.length >= separateWriteBytes) {
        await this.#transport.write(header);
        await this.#transport.write(body);
      } else {
        const frame = new Uint8Array(frameHeaderBytes + body.length);
        frame.set(header);
        frame.set(body, frameHeaderBytes);
        await this.#transport.write(frame);
      }
      this.bytesWritten += frameHeaderBytes + body.length;
      freeBuffer(body);
      this.#inFlight--;
      this.#onWritten();
    }).catch((error) => {
      this.#failure ??= error;
      this.#inFlight--;
      this.#onWritten();
    });
  }

  /** Resolves once every sealed record has been written (or writing failed). */
  flush(): Promise<void> {
    return this.#writes;
  }
}
