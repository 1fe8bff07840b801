/**
 * A one-line terminal progress bar (bytes, percent, rate, time left; for a folder the files
 * done and the folder's total), fed by the transfer progress callbacks; drawn by `put` and `get`
 * on standard error when it is a terminal, and by the demo.
 *
 * @module
 */

import { basename } from "node:path";
import type { TransferProgress } from "../transfer/progress_counter.ts";
import { formatBytes, formatClock } from "./_format.ts";
import { terminalSafe } from "./_terminal_text.ts";

/** Options of {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** Writes text to the terminal as it is. */
  write: (text: string) => void;
  /** Width of the terminal in columns. Default 80. */
  columns?: () => number;
  /** Shortest time between two redraws, in milliseconds. Default 100 (10 a second). */
  redrawIntervalMs?: number;
  /** The clock, in milliseconds. Default `performance.now`. */
  now?: () => number;
}

const defaultColumns = 80;
const defaultRedrawIntervalMs = 100;
const maxLabelChars = 24;
const minBarChars = 10;
const maxBarChars = 40;
const percent = 100;
/** Carriage return: back to the start of the line, to draw over the previous state. */
const lineStart = "\r";
/** ANSI "erase to end of line", so a shorter line leaves nothing of a longer one. */
const eraseToLineEnd = "\x1b[K";

/**
 * A one-line progress bar for a terminal: the file, a bar, the percentage, bytes moved and in
 * all (for a folder: of the whole folder, and the files done of all its files), the average
 * rate and the estimated time left. It redraws at most every
 * `redrawIntervalMs`, over the same line; {@linkcode ProgressBar.finish} draws the last state and
 * ends the line.
 *
 * @example Draw a transfer's progress
 * ```ts
 * import { ProgressBar } from "./progress_bar.ts";
 * import assert from "node:assert/strict";
 *
 * let screen = "";
 * let clock = 0;
 * const bar = new ProgressBar({ write: (text) => screen += text, now: () => clock });
 * bar.update({ path: "a.bin", bytesDone: 1024, totalBytes: 4096, bytesPerSecond: 1024 });
 * clock += 10;
 * bar.update({ path: "a.bin", bytesDone: 2048, totalBytes: 4096, bytesPerSecond: 1024 });
 * bar.finish();
 * assert.match(screen, /a\.bin .* 25% +1\.0 KiB\/4\.0 KiB +1\.0 KiB\/s +ETA 0:03/);
 * assert.match(screen, / 50% .*\n$/); // the update 10 ms later waited for finish()
 * ```
 */
export class ProgressBar {
  #write: (text: string) => void;
  #columns: () => number;
  #redrawIntervalMs: number;
  #now: () => number;
  #last: TransferProgress | undefined;
  #lastDrawMs = -Infinity;
  #drawnLast = true;

  /**
   * Creates the object; nothing is drawn before the first update.
   *
   * @param options Where to draw, how wide, how often.
   */
  constructor(options: ProgressBarOptions) {
    this.#write = options.write;
    this.#columns = options.columns ?? (() => defaultColumns);
    this.#redrawIntervalMs = options.redrawIntervalMs ?? defaultRedrawIntervalMs;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Takes a new state; draws it unless the last drawing is more recent than the interval. */
  update(progress: TransferProgress): void {
    this.#last = progress;
    this.#drawnLast = false;
    const now = this.#now();
    if (now - this.#lastDrawMs < this.#redrawIntervalMs) return;
    this.#lastDrawMs = now;
    this.#draw(progress);
  }

  /** Draws the last state if it was not drawn, and ends the line. Nothing if nothing moved. */
  finish(): void {
    if (this.#last === undefined) return;
    if (!this.#drawnLast) this.#draw(this.#last);
    this.#write("\n");
    this.#last = undefined;
  }

  #draw(progress: TransferProgress): void {
    this.#drawnLast = true;
    this.#write(lineStart + this.#render(progress) + eraseToLineEnd);
  }

  #render(
    { path, bytesDone, totalBytes, bytesPerSecond, filesDone, totalFiles }: TransferProgress,
  ): string {
    const fraction = totalBytes > 0 ? Math.min(1, bytesDone / totalBytes) : 1;
    const eta = bytesDone >= totalBytes
      ? 0
      : bytesPerSecond > 0
      ? (totalBytes - bytesDone) / bytesPerSecond
      : Infinity;
    // A downloaded file's name is the server's choice: escape what a terminal would act on.
    const label = shorten(terminalSafe(basename(path)), maxLabelChars);
    const figures = [
      `${Math.floor(fraction * percent)}%`.padStart(4),
      `${formatBytes(bytesDone)}/${formatBytes(totalBytes)}`.padStart(17),
      ...(totalFiles === undefined ? [] : [`${filesDone ?? 0}/${totalFiles} files`]),
      `${formatBytes(bytesPerSecond)}/s`.padStart(10),
      `ETA ${formatClock(eta)}`,
    ].join(" ");
    // One column is left free: writing the last column makes some terminals wrap.
    const room = this.#columns() - 1 - label.length - figures.length - 4;
    if (room < minBarChars) return `${label} ${figures}`.slice(0, this.#columns() - 1);
    const width = Math.min(maxBarChars, room);
    const filled = Math.round(fraction * width);
    return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${figures}`;
  }
}

function shorten(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}
