/**
 * A small seeded pseudo-random generator (mulberry32) for reproducible fuzzing: the same seed
 * gives the same cases. Not for cryptography.
 *
 * @module
 */

/** Reproducible random choices from one 32-bit seed. */
export class Prng {
  #state: number;

  /** @param seed Any 32-bit integer. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  /** A mutated copy of `input`: flipped bits, a truncation, an extension, or replaced bytes. */
  mutate(input: Uint8Array): Uint8Array {
    const out = input.slice();
    switch (this.int(5)) {
      case 0: { // flip 1-4 bits
        for (let i = 0, n = 1 + this.int(4); i < n && out.length > 0; i++) {
          out[this.int(out.length)] ^= 1 << this.int(8);
        }
        return out;
      }
      case 1: // truncate
        return out.subarray(0, this.int(out.length + 1));
      case 2: { // extend with random bytes
        const longer = new Uint8Array(out.length + 1 + this.int(64));
        longer.set(out);
        longer.set(this.bytes(longer.length - out.length), out.length);
        return longer;
      }
      case 3: { // overwrite a run with random bytes
        if (out.length === 0) return out;
        const start = this.int(out.length);
        out.set(this.bytes(Math.min(out.length - start, 1 + this.int(16))), start);
        return out;
      }
      default: { // set a byte to an edge value
        if (out.length > 0) out[this.int(out.length)] = this.pick([0, 1, 0x7f, 0x80, 0xff]);
        return out;
      }
    }
  }
}

/** The fuzz seed: `FUZZ_SEED` from the environment, or a fixed default. */
export function fuzzSeed(fallback: number): number {
  const text = Deno.env.get("FUZZ_SEED");
  return text === undefined ? fallback : Number(text) >>> 0;
}
