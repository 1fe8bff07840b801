import assert from "node:assert/strict";
import { TimerQueue } from "../../async/timer_queue.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("TimerQueue.add() fires each entry no earlier than its time, in order", async () => {
  const timers = new TimerQueue();
  const started = performance.now();
  const fired: [string, number][] = [];
  for (const [name, ms] of [["c", 30], ["a", 5], ["b", 15]] as const) {
    timers.add(ms, () => fired.push([name, performance.now() - started]));
  }
  await sleep(60);
  assert.deepEqual(fired.map(([name]) => name), ["a", "b", "c"]);
  for (const [name, elapsed] of fired) {
    const due = { a: 5, b: 15, c: 30 }[name as "a" | "b" | "c"];
    assert.ok(elapsed >= due - 1, `${name} fired after ${elapsed} ms, due at ${due}`);
  }
  assert.equal(timers.size, 0);
});

Deno.test("TimerQueue.cancel() disarms an entry, and the last one leaves no timer behind", async () => {
  const timers = new TimerQueue();
  let fired = 0;
  const first = timers.add(10, () => fired++);
  const second = timers.add(20, () => fired++);
  timers.cancel(first);
  // The timer armed for the first fires for nothing and re-arms for the one left.
  await sleep(40);
  assert.equal(fired, 1);
  timers.cancel(second);
  const late = timers.add(10_000, () => fired++);
  timers.cancel(timers.add(5_000, () => fired++));
  assert.equal(timers.size, 1);
  // Cancelling the last entry clears the timer at once: the op sanitizer of this test would
  // report a 10 s timer left running.
  timers.cancel(late);
  assert.equal(timers.size, 0);
  assert.equal(fired, 1);
});

Deno.test("TimerQueue.add() refuses a negative time", () => {
  assert.throws(() => new TimerQueue().add(-1, () => {}), RangeError);
});
