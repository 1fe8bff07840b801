import assert from "node:assert/strict";
import { SharedRuns } from "../../files/shared_runs.ts";

/** Work whose runs end only when the test says so; it records when each run started. */
function heldWork() {
  const started: { key: string; at: number; finish: () => void }[] = [];
  let clock = 0;
  const shared = new SharedRuns((key: string) => {
    const at = ++clock;
    return new Promise<number>((resolve) => started.push({ key, at, finish: () => resolve(at) }));
  });
  return { shared, started, tick: () => ++clock };
}

Deno.test("SharedRuns.run() never hands a caller a run that started before its call", async () => {
  const { shared, started, tick } = heldWork();
  const first = shared.run("dir");
  assert.equal(started.length, 1);
  // The folder changes now, while run 1 is going: a caller asking afterwards needs a later run.
  const askedAt = tick();
  const second = shared.run("dir");
  const third = shared.run("dir");
  assert.equal(started.length, 1, "the next run waits for the running one");
  started[0].finish();
  assert.equal(await first, 1);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(started.length, 2);
  assert.ok(started[1].at > askedAt, "the shared run starts after the callers asked");
  started[1].finish();
  assert.deepEqual(await Promise.all([second, third]), [started[1].at, started[1].at]);
});

Deno.test("SharedRuns.run() keeps keys apart and starts afresh once idle", async () => {
  const { shared, started } = heldWork();
  const a = shared.run("a");
  const b = shared.run("b");
  assert.deepEqual(started.map((run) => run.key), ["a", "b"]);
  started.forEach((run) => run.finish());
  await Promise.all([a, b]);
  const again = shared.run("a");
  assert.equal(started.length, 3, "an idle key starts a run at once");
  started[2].finish();
  assert.equal(await again, started[2].at);
});
