/**
 * Small formatters for what the command prints: sizes, rates and durations.
 *
 * @module
 */

import { terminalSafe } from "./_terminal_text.ts";

const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const unitStep = 1024;
const secondsPerMinute = 60;
const secondsPerHour = 3600;
const msPerSecond = 1000;

/**
 * A byte count in binary units: `512 B`, `1.5 KiB`, `12.0 MiB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./_format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatBytes(512), "512 B");
 * assert.equal(formatBytes(1536), "1.5 KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= unitStep && unit < units.length - 1) {
    value /= unitStep;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A clock duration for an ETA: `0:07`, `12:30`, `1:02:03`; `--:--` when unknown.
 *
 * @example
 * ```ts
 * import { formatClock } from "./_format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatClock(7), "0:07");
 * assert.equal(formatClock(3723), "1:02:03");
 * assert.equal(formatClock(Infinity), "--:--");
 * ```
 */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const whole = Math.ceil(seconds);
  const hours = Math.floor(whole / secondsPerHour);
  const minutes = Math.floor((whole % secondsPerHour) / secondsPerMinute);
  const rest = String(whole % secondsPerMinute).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

/**
 * Elapsed milliseconds for a summary: `12.3 ms`, `1.25 s`.
 *
 * @example
 * ```ts
 * import { formatMs } from "./_format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatMs(12.34), "12.3 ms");
 * assert.equal(formatMs(1250), "1.25 s");
 * ```
 */
export function formatMs(ms: number): string {
  return ms >= msPerSecond ? `${(ms / msPerSecond).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/**
 * A public key as `ovtp fingerprint` prints it: `SHA256:… comment (RSA-3072)`, the comment made
 * safe for a terminal.
 *
 * @example
 * ```ts
 * import { formatKey } from "./_format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatKey({ fingerprint: "SHA256:x", comment: "a@b", bits: 2048 }), "SHA256:x a@b (RSA-2048)");
assert.equal(formatKey({ fingerprint: "SHA256:x", comment: "a\x1b[2J", bits: 2048 }), "SHA256:x a\\x1b[2J (RSA-2048)");
 * ```
 */
export function formatKey(key: { fingerprint: string; comment: string; bits: number }): string {
  // A key's comment is whatever its owner wrote: escape what a terminal would act on.
  return [key.fingerprint, terminalSafe(key.comment), `(RSA-${key.bits})`]
    .filter((part) => part !== "")
    .join(" ");
}

/**
 * A word for a shell command the user may copy: quoted when it holds anything but safe characters.
 *
 * @example
 * ```ts
 * import { shellWord } from "./_format.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(shellWord("/home/a/.ovtp/id_ovtp"), "/home/a/.ovtp/id_ovtp");
 * assert.equal(shellWord("my keys/it's"), `'my keys/it'\\''s'`);
 * ```
 */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
