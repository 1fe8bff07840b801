/**
 * Record numbers and epoch keys for one direction of the record layer: `RecordSender` and
 * `RecordReceiver` each take the next slot per record, and both ends move to a new key after the
 * same number of records or bytes (SPEC.md, "Key update").
 *
 * @module
 */

import { type EpochKeys, epochKeys } from "./key_schedule.ts";

/**
 * After this many plaintext bytes under one key, both sides move to the next key even if the
 * record count has not been reached (SPEC.md, "Key update"). 2^36 bytes is well inside the
 * AES-GCM usage limits that TLS 1.3 sets (about 2^38.5 bytes in 2^14-byte records).
 */
export const rekeyBytes = 2 ** 36;

/** One record's place in the sequence: its number and the keys of its epoch. */
export interface RecordSlot {
  /** Record number in this direction, from 0; the nonce is built from it. */
  sequence: number;
  /** Keys of the epoch the record belongs to. */
  keys: Promise<EpochKeys>;
}

/**
 * Hands out record numbers and epoch keys for one direction. Both ends run the same rule: the
 * epoch ends after `rekeyRecords` records, or after the record that brings the epoch's
 * plaintext to {@linkcode rekeyBytes}; the next epoch's secret is ratcheted from the current
 * one, so old keys cannot be recomputed from new ones.
 *
 * @example A new key every two records
 * ```ts
 * import { TrafficKeys } from "./traffic_keys.ts";
 * import assert from "node:assert/strict";
 *
 * const keys = new TrafficKeys(new Uint8Array(32), 2);
 * const slots = [keys.next(10), keys.next(10), keys.next(10)];
 * assert.deepEqual(slots.map((slot) => slot.sequence), [0, 1, 2]);
 * assert.equal(slots[0].keys, slots[1].keys);
 * assert.notEqual(slots[1].keys, slots[2].keys);
 * assert.equal(keys.epoch, 1);
 * ```
 */
export class TrafficKeys {
  #current: Promise<EpochKeys>;
  #rekeyRecords: number;
  #records = 0;
  #bytes = 0;
  #sequence = 0;
  /** Number of completed key updates. */
  epoch = 0;

  /**
   * @param secret The first traffic secret of this direction.
   * @param rekeyRecords Records per epoch, as announced by the sending side.
   */
  constructor(secret: Uint8Array, rekeyRecords: number) {
    if (!Number.isSafeInteger(rekeyRecords) || rekeyRecords < 1) {
      throw new RangeError(`rekeyRecords must be a positive integer, got ${rekeyRecords}`);
    }
    this.#rekeyRecords = rekeyRecords;
    this.#current = epochKeys(secret);
    // A failure here surfaces to whoever awaits the keys; do not let it go unhandled.
    this.#current.catch(() => {});
  }

  /** Number of records handed out so far. */
  get sequence(): number {
    return this.#sequence;
  }

  /**
   * Takes the next record slot for a record of `plaintextBytes`.
   *
   * @param plaintextBytes Length of the record's plaintext.
   */
  next(plaintextBytes: number): RecordSlot {
    if (this.#sequence >= Number.MAX_SAFE_INTEGER) {
      throw new RangeError("Record sequence exhausted; reconnect");
    }
    const slot = { sequence: this.#sequence++, keys: this.#current };
    this.#records++;
    this.#bytes += plaintextBytes;
    if (this.#records >= this.#rekeyRecords || this.#bytes >= rekeyBytes) {
      this.#current = this.#current.then(async (keys) => {
        const next = await keys.next();
        const nextKeys = await epochKeys(next);
        next.fill(0);
        return nextKeys;
      });
      this.#current.catch(() => {});
      this.#records = 0;
      this.#bytes = 0;
      this.epoch++;
    }
    return slot;
  }
}
