import assert from "node:assert/strict";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { RemoteError } from "../../errors.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { startServer, withClient } from "../_helpers.ts";
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
  const server = await startServer();
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
