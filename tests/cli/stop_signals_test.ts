import assert from "node:assert/strict";
import { StopSignals } from "../../cli/stop_signals.ts";
import { waitFor } from "./_cli.ts";

Deno.test({
  name: "StopSignals ends the wait at the signal onSignal chooses",
  // Deno on Windows cannot listen for SIGTERM, nor send it to itself.
  ignore: Deno.build.os === "windows",
  async fn() {
    const counts: number[] = [];
    using stopping = new StopSignals({
      onSignal: (count) => {
        counts.push(count);
        return count > 1;
      },
    });
    let ended = false;
    stopping.stopped.then(() => ended = true);
    Deno.kill(Deno.pid, "SIGTERM");
    await waitFor(() => counts.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(ended, false, "the first signal only starts the stop");
    Deno.kill(Deno.pid, "SIGTERM");
    // A signal listener does not keep the event loop alive: poll until it ran.
    await waitFor(() => ended);
    assert.deepEqual(counts, [1, 2]);
  },
});

Deno.test("StopSignals.until() gives what ended first: the promise, or the stop", async () => {
  using stopping = new StopSignals();
  assert.equal(await stopping.until(Promise.resolve("closed")), "closed");
  const pending = new Promise<string>(() => {});
  const waiting = stopping.until(pending);
  stopping.stop();
  assert.equal(await waiting, undefined);
});
