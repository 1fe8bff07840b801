/**
 * Small statistics for the benchmark: median, percentiles, min–max. Not part of the library.
 *
 * @module
 */

/** The median, min and max of a set of runs. */
export interface Summary {
  /** Median (mean of the middle two for an even count). */
  median: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** How many values. */
  count: number;
}

/** Median, min and max of `values` (which must not be empty). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError("Cannot summarize no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1)!, count: sorted.length };
}

/** The `p`-th percentile (0–100) of already sorted values, nearest-rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("Cannot take a percentile of no values");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
