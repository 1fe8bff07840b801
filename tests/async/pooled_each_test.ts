import assert from "node:assert/strict";
import { pooledEach } from "../../async/pooled_each.ts";

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

Deno.test("pooledEach() runs every item with at most concurrency at once", async () => {
  let running = 0;
  let most = 0;
  const seen: number[] = [];
  await pooledEach(Array.from({ length: 20 }, (_, i) => i), async (item) => {
    most = Math.max(most, ++running);
    await tick();
    seen.push(item);
    running--;
  }, { concurrency: 3 });
  assert.equal(most, 3);
  assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
});

Deno.test("pooledEach() starts nothing after the first failure and rejects with it", async () => {
  const started: number[] = [];
  let settledBeforeReject = 0;
  await assert.rejects(
    pooledEach([1, 2, 3, 4, 5, 6], async (item) => {
      started.push(item);
      await tick();
      settledBeforeReject++;
      if (item === 1) throw new Error("first");
      if (item === 2) throw new Error("second");
    }, { concurrency: 2 }),
    /first/,
  );
  assert.deepEqual(started, [1, 2]);
  assert.equal(settledBeforeReject, 2);
});

Deno.test("pooledEach() stops starting items once its signal aborts", async () => {
  const controller = new AbortController();
  const started: number[] = [];
  await assert.rejects(
    pooledEach([1, 2, 3, 4], async (item) => {
      started.push(item);
      controller.abort(new Error("stop"));
      await tick();
    }, { concurrency: 1, signal: controller.signal }),
    /stop/,
  );
  assert.deepEqual(started, [1]);
});

Deno.test("pooledEach() handles no items and refuses a bad concurrency", async () => {
  await pooledEach([], () => Promise.reject(new Error("never")), { concurrency: 4 });
  await assert.rejects(pooledEach([1], () => Promise.resolve(), { concurrency: 0 }), RangeError);
  await assert.rejects(pooledEach([1], () => Promise.resolve(), { concurrency: NaN }), RangeError);
});
