import assert from "node:assert/strict";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { QueueStoreError, RemoteError } from "../../errors.ts";
import { OvtpServer } from "../../server.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { startServer, type TestServer, withClient } from "../_helpers.ts";
import { startRelay } from "../_relay.ts";

/** Polls `condition` for up to 10 s. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), `timed out waiting for ${what}`);
}

Deno.test("OvtpClient.pull() gives each pushed item to exactly one of several workers", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const clients = [0, 1, 2].map(() => new OvtpClient(server.address, server.clientOptions(alice)));
  try {
    const seen = new Map<number, number[]>();
    for (const [index, client] of clients.entries()) {
      seen.set(index, []);
      await client.pull("jobs", async (message, info) => {
        assert.equal(info.queue, "jobs");
        assert.equal(info.attempts, 1);
        seen.get(index)!.push(message.json<number>());
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      });
    }
    const total = 300;
    for (let n = 0; n < total; n += 2) {
      await clients[0].push("jobs", n);
      server.server.push("jobs", n + 1);
    }
    const all = () => [...seen.values()].flat();
    await waitFor(() => all().length === total, "every item");
    assert.deepEqual(all().sort((a, b) => a - b), [...Array(total).keys()]);
    for (const items of seen.values()) assert.ok(items.length > 0, "every worker got work");
    await waitFor(() => server.server.messagingStats("jobs").queue!.inFlight === 0, "all acked");
    assert.deepEqual(server.server.messagingStats("jobs").queue, {
      waiting: 0,
      delayed: 0,
      inFlight: 0,
      workers: 3,
    });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("An item whose worker disconnects before acknowledging goes to another worker", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  // The dying worker reaches the server through a relay, which the test cuts.
  const relay = startRelay(server.address);
  let relayClosed = false;
  const dying = new OvtpClient(relay.address, server.clientOptions(alice, { reconnect: false }));
  const healthy = new OvtpClient(server.address, server.clientOptions(alice));
  try {
    let taken!: () => void;
    const tookIt = new Promise<void>((resolve) => taken = resolve);
    let releaseStuck!: () => void;
    const stuck = new Promise<void>((resolve) => releaseStuck = resolve);
    const dyingWorker = await dying.pull("jobs", async () => {
      taken();
      await stuck;
    });
    server.server.push("jobs", "precious");
    await tookIt;
    const got: [string, number][] = [];
    await healthy.pull("jobs", (message, info) => {
      got.push([message.text(), info.attempts]);
    });
    assert.equal(server.server.messagingStats("jobs").queue!.inFlight, 1);
    assert.deepEqual(got, [], "the held item is not handed out twice");
    relayClosed = true;
    await relay.close(); // the worker's machine goes away
    await waitFor(() => got.length === 1, "the item at the healthy worker");
    assert.deepEqual(got, [["precious", 2]]);
    releaseStuck();
    assert.ok(await dyingWorker.closed instanceof Error, "without reconnect the worker stops");
  } finally {
    await healthy.close();
    await dying.close();
    if (!relayClosed) await relay.close();
    await server.close();
  }
});

Deno.test("A worker that fails an item hands it back to the queue", async () => {
  // A short back-off: the item comes back after 20 ms, then 40 ms.
  const server = await startServer(undefined, { messaging: { retryDelayMs: 20 } });
  const alice = await fixtureIdentity("alice");
  const errors: unknown[] = [];
  try {
    await withClient(
      server.address,
      server.clientOptions(alice, { onError: (error) => errors.push(error) }),
      async (client) => {
        const attempts: number[] = [];
        const worker = await client.pull("retry", (_message, info) => {
          attempts.push(info.attempts);
          if (info.attempts < 3) throw new Error("not yet");
        });
        await client.push("retry", "x");
        await waitFor(() => attempts.length === 3, "three attempts");
        assert.deepEqual(attempts, [1, 2, 3]);
        assert.equal(errors.length, 2);
        await worker.stop();
        assert.equal(await worker.closed, undefined);
        await waitFor(() => server.server.messagingStats("retry").queue!.workers === 0, "stop");
        // Pushed with no worker: it waits.
        assert.equal(await client.push("retry", "later"), 1);
      },
    );
  } finally {
    await server.close();
  }
});

Deno.test("A full queue refuses pushes (code 40 remotely, RangeError locally)", async () => {
  const server = await startServer(undefined, { messaging: { maxQueueItems: 5 } });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      for (let n = 1; n <= 4; n++) assert.equal(await client.push("q", n), n);
      assert.equal(server.server.push("q", 5), 5);
      await assert.rejects(
        client.push("q", 6),
        (error) => error instanceof RemoteError && error.remoteCode === 40,
      );
      assert.throws(() => server.server.push("q", 6), RangeError);
      assert.equal(server.server.messagingStats("q").queue!.waiting, 5);
      // Another queue is not affected.
      assert.equal(await client.push("other", 1), 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("topics= also limits the queues a key may push to and pull from", async () => {
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  const server = await startServer(undefined, {
    authorizedKeys: AuthorizedKeys.fromKeys([
      alice.publicKey,
      { publicKey: bob.publicKey, options: new Map([["topics", "jobs.>"]]), lineNumber: 2 },
    ]),
  });
  try {
    await withClient(server.address, server.clientOptions(bob), async (client) => {
      const isPermission = (error: unknown) =>
        error instanceof RemoteError && error.remoteCode === 13;
      await assert.rejects(client.push("other", 1), isPermission);
      await assert.rejects(client.pull("other", () => {}), isPermission);
      assert.equal(await client.push("jobs.a", 1), 1);
    });
  } finally {
    await server.close();
  }
});

/** Whether `error` is a refusal with code 40 (full) whose message matches `pattern`. */
function isFull(pattern: RegExp): (error: unknown) => boolean {
  return (error) =>
    error instanceof RemoteError && error.remoteCode === 40 && pattern.test(error.message);
}

/** Pulls one item at a time from `queue` with a fresh client, then stops; returns the items. */
async function drain(server: TestServer, queue: string, count: number): Promise<string[]> {
  const alice = await fixtureIdentity("alice");
  const got: string[] = [];
  await withClient(server.address, server.clientOptions(alice), async (client) => {
    const worker = await client.pull(queue, (message) => {
      got.push(message.text());
    });
    await waitFor(() => got.length === count, `${count} items of ${queue}`);
    await waitFor(() => server.server.messagingStats(queue).queue!.inFlight === 0, "the acks");
    await worker.stop();
  });
  return got;
}

Deno.test("WorkQueues counts items against the pushing key: a key at its quota is refused, another key still pushes", async () => {
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  const server = await startServer(undefined, {
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey, bob.publicKey]),
    messaging: { maxQueueItemsPerKey: 3, maxQueueBytesPerKey: 1000, maxQueuesPerKey: 2 },
  });
  const aliceClient = new OvtpClient(server.address, server.clientOptions(alice));
  const bobClient = new OvtpClient(server.address, server.clientOptions(bob));
  try {
    // Items: alice fills her 3, in any queue; bob and the server are not affected.
    for (let n = 1; n <= 3; n++) await aliceClient.push("a", `alice ${n}`);
    await assert.rejects(aliceClient.push("a", "alice 4"), isFull(/client key has 3 items/));
    await assert.rejects(aliceClient.push("b", "alice 4"), isFull(/client key has 3 items/));
    assert.equal(await bobClient.push("a", "bob 1"), 4);
    assert.equal(server.server.push("a", "server 1"), 5, "the server's own items count for no key");
    // Bytes: bob may have 1000 bytes in queues.
    assert.equal(await bobClient.push("c", "x".repeat(600)), 1);
    await assert.rejects(bobClient.push("c", "x".repeat(500)), isFull(/at most 1000 bytes/));
    assert.equal(await bobClient.push("c", "x".repeat(300)), 2);
    // Queues: bob uses "a" and "c", his limit; a new queue is refused, to push or to pull.
    await assert.rejects(bobClient.push("d", "y"), isFull(/uses 2 work queues/));
    await assert.rejects(bobClient.pull("d", () => {}), isFull(/uses 2 work queues/));
    // Items taken and acknowledged leave the quota.
    assert.deepEqual(await drain(server, "a", 5), [
      "alice 1",
      "alice 2",
      "alice 3",
      "bob 1",
      "server 1",
    ]);
    assert.equal(await aliceClient.push("b", "alice 4"), 1);
    assert.equal(await bobClient.push("d", "y"), 1, "bob no longer uses the queue a");
  } finally {
    await aliceClient.close();
    await bobClient.close();
    await server.close();
  }
});

Deno.test("WorkQueues bounds the bytes and items of all queues together (maxTotalQueueBytes, maxTotalQueueItems)", async () => {
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  const server = await startServer(undefined, {
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey, bob.publicKey]),
    messaging: { maxTotalQueueBytes: 1000, maxTotalQueueItems: 4 },
  });
  const aliceClient = new OvtpClient(server.address, server.clientOptions(alice));
  const bobClient = new OvtpClient(server.address, server.clientOptions(bob));
  try {
    await aliceClient.push("a", "x".repeat(600));
    await bobClient.push("b", "x".repeat(300));
    await assert.rejects(bobClient.push("b", "x".repeat(200)), isFull(/1000 bytes in all/));
    assert.throws(() => server.server.push("c", "x".repeat(200)), RangeError);
    assert.equal(server.server.push("c", "x".repeat(100)), 1);
    await drain(server, "a", 1);
    assert.equal(await bobClient.push("b", "x".repeat(200)), 2);
    // Four items in all (two of bob's, one of the server's, this one): the fifth is refused.
    assert.equal(await aliceClient.push("a", ""), 1);
    await assert.rejects(aliceClient.push("a", ""), isFull(/4 items in all/));
  } finally {
    await aliceClient.close();
    await bobClient.close();
    await server.close();
  }
});

Deno.test("WorkQueues forgets an empty queue: after a refused push, and once its last item is taken and its last worker left", async () => {
  const server = await startServer(undefined, {
    messaging: { maxQueues: 2, maxQueueBytes: 100 },
  });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      // A refused push to a new queue leaves no queue behind.
      await assert.rejects(client.push("big", "x".repeat(200)), isFull(/100 bytes/));
      assert.equal(await client.push("a", 1), 1);
      assert.equal(await client.push("b", 1), 1);
      // The table is full: a new queue is refused, to push or to pull; an existing one is not.
      await assert.rejects(client.push("c", 1), isFull(/holds 2 work queues/));
      await assert.rejects(client.pull("c", () => {}), isFull(/holds 2 work queues/));
      assert.equal(await client.push("a", 2), 2);
    });
    // The last items of "a" taken, its last worker gone: the queue takes no slot any more.
    assert.deepEqual(await drain(server, "a", 2), ["1", "2"]);
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.equal(await client.push("c", 1), 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer with a queueStore file: items pushed survive close and open; a second server on the file is refused with QueueStoreError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ovtp_queue_store_" });
  const identity = await fixtureIdentity("server");
  const open = () =>
    new OvtpServer(() => ({ status: true }), {
      identity,
      authorizedKeys: AuthorizedKeys.fromKeys([]),
      queueStore: `${dir}/queues.db`,
    });
  const servers: OvtpServer[] = [];
  try {
    const first = open();
    servers.push(first);
    assert.equal(first.push("jobs", "a"), 1);
    assert.equal(first.push("jobs", { b: 2 }), 2);
    assert.throws(open, (error: unknown) => {
      assert.ok(error instanceof QueueStoreError);
      assert.equal(error.code, "QUEUE_STORE");
      assert.match(error.message, /queues\.db: another process holds it/);
      return true;
    });
    await first.close();
    const second = open();
    servers.push(second);
    assert.deepEqual(second.messagingStats("jobs").queue, {
      waiting: 2,
      delayed: 0,
      inFlight: 0,
      workers: 0,
    });
  } finally {
    await Promise.all(servers.map((server) => server.close()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("QueueItemInfo.release() gives an item back at once without counting the delivery", async () => {
  const server = await startServer(undefined, { messaging: { maxDeliveries: 1 } });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      const attempts: number[] = [];
      const worker = await client.pull("jobs", (_message, info) => {
        attempts.push(info.attempts);
        if (attempts.length < 3) info.release();
      });
      await client.push("jobs", "x");
      await waitFor(() => attempts.length === 3, "three hand-outs");
      await worker.stop();
      // Released twice, then acknowledged: never dead-lettered despite maxDeliveries 1.
      assert.deepEqual(attempts, [1, 1, 1]);
      assert.equal(server.server.messagingStats("jobs.dead").queue!.waiting, 0);
    });
  } finally {
    await server.close();
  }
});
