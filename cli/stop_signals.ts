/**
 * How the long-running commands (`serve`, `forward`, `sub`, `pull`) wait until they are asked to
 * stop: SIGINT (Ctrl-C) everywhere, and SIGTERM where Deno can listen for it. Deno on Windows
 * refuses a SIGTERM listener (it throws), so the choice of signals is made once, here, and no
 * command adds a signal listener of its own.
 *
 * @module
 */

/** The signals that ask a command to stop: SIGINT everywhere, SIGTERM too except on Windows. */
export const stopSignals: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/** Options of {@linkcode StopSignals}. */
export interface StopSignalsOptions {
  /**
   * Called for each stop signal with how many have arrived (1 for the first); returns whether
   * this one ends the wait. Without it, the first signal ends it.
   */
  onSignal?: (count: number) => boolean;
}

/**
 * Listens for the stop signals from its creation until it is disposed (`using`), so that a
 * signal ends a command normally (exit code 0) instead of killing the process. The wait ends at
 * the first signal (or as `onSignal` decides), or when {@linkcode StopSignals.stop} is called
 * (a `--count` reached, a lost connection).
 *
 * @example Stop a wait from code, as `sub --count` does
 * ```ts
 * import { StopSignals } from "./stop_signals.ts";
 * import assert from "node:assert/strict";
 *
 * using stopping = new StopSignals();
 * assert.equal(await stopping.until(Promise.resolve("ended")), "ended");
 * setTimeout(() => stopping.stop(), 10);
 * const never = new Promise<string>(() => {});
 * assert.equal(await stopping.until(never), undefined);
 * await stopping.stopped; // resolved: the wait is over
 * ```
 */
export class StopSignals implements Disposable {
  /** Resolves once the wait has ended: a stop signal arrived, or `stop()` was called. */
  readonly stopped: Promise<void>;
  #stop!: () => void;
  #count = 0;
  #onSignal: (count: number) => boolean;
  #listener = () => {
    if (this.#onSignal(++this.#count)) this.#stop();
  };

  /**
   * Starts listening for the stop signals.
   *
   * @param options What a signal does.
   */
  constructor(options: StopSignalsOptions = {}) {
    this.stopped = new Promise((resolve) => this.#stop = resolve);
    this.#onSignal = options.onSignal ?? (() => true);
    for (const signal of stopSignals) Deno.addSignalListener(signal, this.#listener);
  }

  /** Ends the wait without a signal. */
  stop(): void {
    this.#stop();
  }

  /**
   * Waits for `ended` or the end of the wait, whichever comes first.
   *
   * @param ended What ends the command by itself (a subscription closed, a server finished).
   * @returns What `ended` gave, or `undefined` if the wait ended first.
   */
  async until<T>(ended: Promise<T>): Promise<T | undefined> {
    return await Promise.race([this.stopped.then(() => undefined), ended]);
  }

  /** Stops listening; the signals again end the process as they would by default. */
  [Symbol.dispose](): void {
    for (const signal of stopSignals) Deno.removeSignalListener(signal, this.#listener);
  }
}
