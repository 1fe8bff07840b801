import assert from "node:assert/strict";
import { RemoteError, TimeoutError } from "../../errors.ts";
import type { Stream } from "../../session/stream.ts";
import { StreamError } from "../../session/stream.ts";
import { withStreamDeadline } from "../../session/stream_deadline.ts";
import { channelPair } from "../_helpers.ts";

/** A server that never answers, and records how each of its streams ended. */
function silentServer(ends: Promise<unknown>[]) {
  return (stream: Stream) => {
    ends.push(stream.readAll(1024).then(() => "ended", (error) => error));
  };
}

/** How the server's first stream ended, once the server has seen it. */
async function firstEnd(ends: Promise<unknown>[]): Promise<unknown> {
  while (ends.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  return await ends[0];
}

Deno.test("withStreamDeadline() resets the stream as cancel when the time is up", async () => {
  const ends: Promise<unknown>[] = [];
  const pair = await channelPair({ server: { onStream: silentServer(ends) } });
  try {
    const stream = await pair.client.openStream(9, {});
    await assert.rejects(
      withStreamDeadline(stream, { timeoutMs: 30 }, () => stream.replyHead()),
      (error) => error instanceof TimeoutError && /within 30 ms/.test(error.message),
    );
    assert.ok(stream.done);
    const seen = await firstEnd(ends);
    assert.ok(seen instanceof RemoteError);
    assert.equal(seen.remoteCode, StreamError.cancel);
  } finally {
    await pair.close();
  }
});

Deno.test("withStreamDeadline() rejects with the signal's reason and resets the stream", async () => {
  const ends: Promise<unknown>[] = [];
  const pair = await channelPair({ server: { onStream: silentServer(ends) } });
  try {
    const stream = await pair.client.openStream(9, {});
    const controller = new AbortController();
    const call = withStreamDeadline(
      stream,
      { signal: controller.signal },
      () => stream.replyHead(),
    );
    controller.abort(new Error("changed my mind"));
    await assert.rejects(call, /changed my mind/);
    assert.ok(stream.done);
  } finally {
    await pair.close();
  }
});

Deno.test("withStreamDeadline() resets the stream when the work fails", async () => {
  const ends: Promise<unknown>[] = [];
  const pair = await channelPair({ server: { onStream: silentServer(ends) } });
  try {
    const stream = await pair.client.openStream(9, {});
    await assert.rejects(
      withStreamDeadline(stream, {}, () => Promise.reject(new RangeError("bad"))),
      RangeError,
    );
    assert.ok(stream.done);
    const seen = await firstEnd(ends);
    assert.ok(seen instanceof RemoteError);
    assert.equal(seen.remoteCode, StreamError.cancel);
  } finally {
    await pair.close();
  }
});
