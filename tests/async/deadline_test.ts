import assert from "node:assert/strict";
import { deadline } from "../../async/deadline.ts";
import { TimeoutError } from "../../errors.ts";

/** Work that ends only when its signal aborts, and says when it did. */
function untilAborted(stopped: string[]) {
  return (signal: AbortSignal) =>
    new Promise<string>((_, reject) => {
      signal.addEventListener("abort", () => {
        stopped.push("stopped");
        reject(new Error("work stopped"));
      });
    });
}

Deno.test("deadline() resolves with the work's result", async () => {
  assert.equal(await deadline(() => Promise.resolve(7), { timeoutMs: 1000 }), 7);
  assert.equal(await deadline(() => Promise.resolve("no limit")), "no limit");
});

Deno.test("deadline() aborts the work and rejects with a TimeoutError when time is up", async () => {
  const stopped: string[] = [];
  await assert.rejects(
    deadline(untilAborted(stopped), { timeoutMs: 20, timeoutMessage: "too slow" }),
    (error) => error instanceof TimeoutError && error.message === "too slow",
  );
  assert.deepEqual(stopped, ["stopped"]);
});

Deno.test("deadline() rejects with the caller's reason when its signal aborts", async () => {
  const stopped: string[] = [];
  const controller = new AbortController();
  const call = deadline(untilAborted(stopped), { timeoutMs: 10_000, signal: controller.signal });
  controller.abort(new Error("changed my mind"));
  await assert.rejects(call, /changed my mind/);
  assert.deepEqual(stopped, ["stopped"]);
});

Deno.test("deadline() settles only once the work has stopped", async () => {
  const events: string[] = [];
  const call = deadline(async (signal) => {
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    events.push("work ended");
    throw new Error("cut");
  }, { timeoutMs: 5 });
  await assert.rejects(call, TimeoutError);
  events.push("call settled");
  assert.deepEqual(events, ["work ended", "call settled"]);
});

Deno.test("deadline() refuses an aborted signal without starting the work", async () => {
  let started = false;
  await assert.rejects(
    deadline(() => {
      started = true;
      return Promise.resolve();
    }, { signal: AbortSignal.abort("gone") }),
    /gone/,
  );
  assert.equal(started, false);
});

Deno.test("deadline() keeps the work's own error when nothing aborted", async () => {
  await assert.rejects(
    deadline(() => Promise.reject(new RangeError("own")), { timeoutMs: 1000 }),
    RangeError,
  );
  await assert.rejects(deadline(() => Promise.resolve(), { timeoutMs: -1 }), RangeError);
});
