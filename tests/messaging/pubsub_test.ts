import assert from "node:assert/strict";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { RemoteError } from "../../errors.ts";
import type { OvtpMessage } from "../../message.ts";
import { PubSub } from "../../messaging/pubsub.ts";
import type { PeerInfo } from "../../peer_connection.ts";
import { type Allowance, Budget, budgetLimits } from "../../session/budget.ts";
import { StreamKind } from "../../session/stream.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import {
  type ChannelPair,
  channelPair,
  startServer,
  type TestServer,
  withClient,
} from "../_helpers.ts";

/** Polls `condition` for up to 10 s. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), `timed out waiting for ${what}`);
}

/** A server where alice may do anything and bob only what `topics=` allows. */
async function serverWithBob(topics: string): Promise<TestServer> {
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  return await startServer(undefined, {
    authorizedKeys: AuthorizedKeys.fromKeys([
      alice.publicKey,
      { publicKey: bob.publicKey, options: new Map([["topics", topics]]), lineNumber: 2 },
    ]),
  });
}

Deno.test("OvtpClient.subscribe() gets published events in order, with their types", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      const got: [string, unknown, string][] = [];
      const subscription = await client.subscribe("orders.*", (message, topic) => {
        got.push([topic, message.value(), message.type]);
      });
      assert.equal(server.server.messagingStats().subscriptions, 1);
      for (let i = 0; i < 200; i++) assert.equal(server.server.publish("orders.new", i), 1);
      assert.equal(server.server.publish("orders.new.x", "no match"), 0);
      assert.equal(server.server.publish("other.new", "no match"), 0);
      assert.equal(await client.publish("orders.text", "hello"), 1);
      assert.equal(await client.publish("orders.bytes", new Uint8Array([1, 2, 3])), 1);
      await waitFor(() => got.length === 202, "202 events");
      assert.deepEqual(got.slice(0, 200).map(([, value]) => value), [...Array(200).keys()]);
      assert.ok(
        got.slice(0, 200).every(([topic, , type]) => topic === "orders.new" && type === "json"),
      );
      assert.deepEqual(got[200], ["orders.text", "hello", "text"]);
      assert.deepEqual(got[201], ["orders.bytes", new Uint8Array([1, 2, 3]), "bytes"]);
      await subscription.unsubscribe();
      await waitFor(() => server.server.messagingStats().subscriptions === 0, "unsubscribed");
      assert.equal(server.server.publish("orders.new", "late"), 0);
    });
  } finally {
    await server.close();
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("OvtpClient.subscribe() with wildcards delivers across connections", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const publisher = new OvtpClient(server.address, server.clientOptions(alice));
  const subscriber = new OvtpClient(server.address, server.clientOptions(alice));
  try {
    const all: string[] = [];
    const cpu: string[] = [];
    await subscriber.subscribe(">", (_message, topic) => {
      all.push(topic);
    });
    await subscriber.subscribe(["metrics.*.cpu", "metrics.host1.>"], (_message, topic) => {
      cpu.push(topic);
    });
    const topics = ["metrics.host1.cpu", "metrics.host2.cpu", "metrics.host2.mem", "logs.x"];
    const delivered = [];
    for (const topic of topics) delivered.push(await publisher.publish(topic, topic));
    // Each subscription gets an event once, even when several of its patterns match.
    assert.deepEqual(delivered, [2, 2, 1, 1]);
    await waitFor(() => all.length === 4 && cpu.length === 2, "all events");
    assert.deepEqual(all, topics);
    assert.deepEqual(cpu, ["metrics.host1.cpu", "metrics.host2.cpu"]);
    await assert.rejects(publisher.publish("metrics.*", "x"), TypeError);
    await assert.rejects(subscriber.subscribe("metrics.>.cpu", () => {}), TypeError);
  } finally {
    await publisher.close();
    await subscriber.close();
    await server.close();
  }
});

Deno.test("A subscriber that does not read: the server's queue stays bounded and drops the oldest", async () => {
  const server = await startServer(undefined, {
    messaging: { subscriberQueueEvents: 100, subscriberQueueBytes: 1 << 30 },
  });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      let release!: () => void;
      const blocked = new Promise<void>((resolve) => release = resolve);
      const got: number[] = [];
      let dropped = 0;
      await client.subscribe("load", async (message) => {
        got.push(message.json<{ n: number }>().n);
        await blocked;
      }, { onDropped: (count) => dropped += count });
      const total = 5000;
      const body = "x".repeat(1024);
      for (let n = 0; n < total; n++) {
        server.server.publish("load", { n, body });
        if (n % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const stats = server.server.messagingStats();
      assert.ok(stats.queuedEvents <= 100, `queued ${stats.queuedEvents}`);
      assert.ok(stats.queuedBytes <= 100 * 1200, `queued ${stats.queuedBytes} bytes`);
      // Flow control holds what the subscriber did not read (its 256 KiB window), nothing more.
      assert.ok(stats.droppedEvents >= total - 100 - 300, `dropped ${stats.droppedEvents}`);
      release();
      await waitFor(() => got.includes(total - 1), "the last event");
      assert.equal(dropped, stats.droppedEvents, "every drop was reported");
      assert.equal(got.length + dropped, total, "each event was delivered or counted as dropped");
      for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], "still in order");
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpClient.subscribe() survives a restart of the server", async () => {
  const first = await startServer();
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient(first.address, first.clientOptions(alice));
  let second: TestServer | undefined;
  try {
    const got: string[] = [];
    await client.subscribe("news.>", (message: OvtpMessage) => {
      got.push(message.text());
    });
    first.server.publish("news.a", "before");
    await waitFor(() => got.length === 1, "the first event");
    await first.close();
    second = await startServer(undefined, { port: first.address.port });
    // The client reconnects on its own, without a call, because it has a subscription.
    await waitFor(() => second!.server.messagingStats().subscriptions === 1, "a resubscription");
    assert.equal(second.server.publish("news.b", "after"), 1);
    await waitFor(() => got.length === 2, "the event after the restart");
    assert.deepEqual(got, ["before", "after"]);
  } finally {
    await client.close();
    await first.close();
    await second?.close();
  }
});

Deno.test("topics= limits what a key may publish and subscribe to (code 13)", async () => {
  const server = await serverWithBob("metrics.>,alerts.cpu");
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  try {
    await withClient(server.address, server.clientOptions(bob), async (client) => {
      const isPermission = (error: unknown) =>
        error instanceof RemoteError && error.remoteCode === 13 &&
        /its authorized_keys option topics=/.test(error.message);
      await assert.rejects(client.publish("logs.x", "no"), isPermission);
      await assert.rejects(client.publish("alerts.mem", "no"), isPermission);
      await assert.rejects(client.subscribe(">", () => {}), isPermission);
      await assert.rejects(client.subscribe("alerts.*", () => {}), isPermission);
      await assert.rejects(client.subscribe(["metrics.cpu", "logs.>"], () => {}), isPermission);
      const got: string[] = [];
      await client.subscribe(["metrics.*.cpu", "alerts.cpu"], (_message, topic) => {
        got.push(topic);
      });
      assert.equal(await client.publish("metrics.a.cpu", 1), 1);
      assert.equal(await client.publish("alerts.cpu", 2), 1);
      await waitFor(() => got.length === 2, "bob's events");
    });
    // A key without topics= may do both.
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await client.subscribe(">", () => {});
      assert.equal(await client.publish("logs.x", "yes"), 1);
    });
  } finally {
    await server.close();
  }
});

Deno.test("A connection may hold a bounded number of subscription patterns (code 40)", async () => {
  const server = await startServer(undefined, { messaging: { maxSubscriptionsPerConnection: 3 } });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await client.subscribe(["a", "b"], () => {});
      await assert.rejects(
        client.subscribe(["c", "d"], () => {}),
        (error) => error instanceof RemoteError && error.remoteCode === 40,
      );
      const third = await client.subscribe("c", () => {});
      await third.unsubscribe();
      await waitFor(() => server.server.messagingStats().subscriptions === 1, "unsubscribed");
      await client.subscribe("d", () => {});
    });
  } finally {
    await server.close();
  }
});

Deno.test("PubSub takes subscriptions from the connection's allowance, so one key's connections share its budget", async () => {
  const budget = new Budget(budgetLimits({ key: { subscriptions: 3 } }));
  const pubsub = new PubSub();
  const key = "SHA256:one-key";
  const pairs: ChannelPair[] = [];
  const peers: (PeerInfo & { allowance: Allowance })[] = [];
  for (let n = 0; n < 2; n++) {
    const allowance = budget.open(key) as Allowance;
    const peer = {
      fingerprint: key,
      comment: `connection ${n}`,
      remoteAddr: { hostname: "127.0.0.1", port: n },
      options: new Map<string, string | true>(),
      allowance,
    };
    peers.push(peer);
    pairs.push(
      await channelPair({ server: { onStream: (stream) => void pubsub.handle(stream, peer) } }),
    );
  }
  const subscribe = async (pair: ChannelPair, topics: string[]) => {
    const stream = await pair.client.openStream(StreamKind.subscribe, { topics });
    await stream.replyHead();
    return stream;
  };
  try {
    const first = await subscribe(pairs[0], ["a", "b"]);
    assert.equal(budget.heldBy(key).subscriptions, 2);
    await subscribe(pairs[1], ["c"]);
    assert.equal(peers[1].allowance.held.subscriptions, 1);
    // The key holds 3 on two connections: a fourth is refused on either.
    await assert.rejects(
      subscribe(pairs[1], ["d"]),
      (error) =>
        error instanceof RemoteError && error.remoteCode === 40 &&
        /this client key: at most 3 subscriptions/.test(error.message),
    );
    assert.equal(budget.heldBy(key).subscriptions, 3, "a refused subscription takes nothing");
    // Unsubscribing gives them back.
    await first.end();
    await waitFor(() => budget.heldBy(key).subscriptions === 1, "the patterns given back");
    await subscribe(pairs[1], ["d", "e"]);
    assert.equal(pubsub.stats().subscriptions, 2);
  } finally {
    pubsub.close();
    await Promise.all(pairs.map((pair) => pair.close()));
    for (const peer of peers) peer.allowance.close();
  }
});

Deno.test("PubSub bounds the bytes one key's slow subscriptions hold together; other keys are not affected", async () => {
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  const keyBytes = 64 * 1024;
  const server = await startServer(undefined, {
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey, bob.publicKey]),
    messaging: {
      subscriberQueueEvents: 1_000_000,
      subscriberQueueBytes: 1 << 30,
      subscriberQueueBytesPerKey: keyBytes,
    },
  });
  const aliceClient = new OvtpClient(server.address, server.clientOptions(alice));
  const bobClient = new OvtpClient(server.address, server.clientOptions(bob));
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => release = resolve);
  try {
    // alice subscribes three times and does not read: each holds up to its 256 KiB window, and the
    // server queues the rest.
    for (const topic of ["t1", "t2", "t3"]) await aliceClient.subscribe(topic, () => blocked);
    const bobGot: number[] = [];
    await bobClient.subscribe("t1", (message) => {
      bobGot.push(message.json<{ n: number }>().n);
    });
    const total = 1000;
    const body = "x".repeat(1024);
    for (let n = 0; n < total; n++) {
      for (const topic of ["t1", "t2", "t3"]) server.server.publish(topic, { n, body });
      // Bursts of 20 KiB a topic: a subscriber that reads keeps under the key's 64 KiB.
      if (n % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await waitFor(() => bobGot.length === total, "every event at bob");
    const stats = server.server.messagingStats();
    // Each of alice's subscriptions would otherwise queue about 1 MiB.
    assert.ok(stats.queuedBytes <= keyBytes, `queued ${stats.queuedBytes} bytes`);
    assert.ok(stats.droppedEvents > total, `dropped ${stats.droppedEvents}`);
    assert.deepEqual(bobGot, [...Array(total).keys()], "bob lost nothing");
  } finally {
    release();
    await aliceClient.close();
    await bobClient.close();
    await server.close();
  }
});

Deno.test("PubSub bounds the bytes all keys' slow subscriptions hold together", async () => {
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  const totalBytes = 96 * 1024;
  const server = await startServer(undefined, {
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey, bob.publicKey]),
    messaging: {
      subscriberQueueEvents: 1_000_000,
      subscriberQueueBytes: 1 << 30,
      subscriberQueueBytesPerKey: 1 << 30,
      subscriberQueueBytesTotal: totalBytes,
    },
  });
  const clients = [alice, bob].map((key) =>
    new OvtpClient(server.address, server.clientOptions(key))
  );
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => release = resolve);
  try {
    // Two keys, neither reading: only the server-wide bound holds them back.
    for (const client of clients) await client.subscribe("t", () => blocked);
    const body = "x".repeat(1024);
    for (let n = 0; n < 1000; n++) server.server.publish("t", { n, body });
    const stats = server.server.messagingStats();
    // Without it, each would queue about 1 MiB beyond its window.
    assert.ok(stats.queuedBytes <= totalBytes, `queued ${stats.queuedBytes} bytes`);
    assert.ok(stats.droppedEvents > 0);
  } finally {
    release();
    for (const client of clients) await client.close();
    await server.close();
  }
});
