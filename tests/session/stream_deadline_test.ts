import assert from "node:assert/strict";
import { RemoteError, TimeoutError } from "../../errors.ts";
import { type Stream, StreamError } from "../../session/stream.ts";
import { withStreamDeadline } from "../../session/stream_deadline.ts";
import { channelPair } from "../_helpers.ts";

/**
 * Opens a stream to a server that never answers, runs `body` with it, and returns how the
 * server's end of the stream ended (a `RemoteError` when the client reset it).
 */
async function withSilentPeer(body: (stream: Stream) => Promise<void>): Promise<unknown> {
  const ends: Promise<unknown>[] = [];
  const pair = await channelPair({
    server: {
      onStream: (stream) => {
        ends.push(stream.readAll(1024).then(() => "ended", (error) => error));
      },
    },
  });
  try {
    const stream = await pair.client.openStream(9, {});
    await body(stream);
    assert.ok(stream.done);
    while (ends.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    return await ends[0];
  } finally {
    await pair.close();
  }
}

function isCancel(seen: unknown): boolean {
  return seen instanceof RemoteError && seen.remoteCode === StreamError.cancel;
}

Deno.test("withStreamDeadline() resets the stream as cancel when the time is up", async () => {
  const seen = await withSilentPeer(async (stream) => {
    await assert.rejects(
      withStreamDeadline(stream, { timeoutMs: 30 }, () => stream.replyHead()),
      (error) => error instanceof TimeoutError && /within 30 ms/.test(error.message),
    );
  });
  assert.ok(isCancel(seen));
});

Deno.test("withStreamDeadline() rejects with the signal's reason and resets the stream", async () => {
  const seen = await withSilentPeer(async (stream) => {
    const controller = new AbortController();
    const call = withStreamDeadline(
      stream,
      { signal: controller.signal },
      () => stream.replyHead(),
    );
    controller.abort(new Error("changed my mind"));
    await assert.rejects(call, /changed my mind/);
  });
  assert.ok(isCancel(seen));
});

Deno.test("withStreamDeadline() resets the stream when the work fails", async () => {
  const seen = await withSilentPeer(async (stream) => {
    await assert.rejects(
      withStreamDeadline(stream, {}, () => Promise.reject(new RangeError("bad"))),
      RangeError,
    );
  });
  assert.ok(isCancel(seen));
});
