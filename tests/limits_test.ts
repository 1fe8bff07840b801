import assert from "node:assert/strict";
import { OvtpClient } from "../client.ts";
import { AuthenticationError, ConnectionError } from "../errors.ts";
import type { RefusedEvent } from "../server_log.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import { DenoTransport } from "../wire/deno_transport.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { startServer, withClient } from "./_helpers.ts";

function refusals(events: readonly { event: string }[], reason: string): RefusedEvent[] {
  return events.filter((e): e is RefusedEvent =>
    e.event === "refused" && (e as RefusedEvent).reason === reason
  );
}

Deno.test("OvtpServer caps connections still in the handshake (maxStartups)", async () => {
  const server = await startServer(undefined, { maxStartups: 2, handshakeTimeoutMs: 400 });
  const alice = await fixtureIdentity("alice");
  const silent: Deno.Conn[] = [];
  const authenticated = new OvtpClient(server.address, server.clientOptions(alice));
  try {
    await authenticated.connect();
    for (let i = 0; i < 2; i++) silent.push(await Deno.connect(server.address));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A third connection is turned away at once, with the busy refusal, before any crypto.
    const third = new DenoTransport(await Deno.connect(server.address));
    try {
      assert.deepEqual(await new FrameReader(third).read(), new Uint8Array([6, 3]));
    } finally {
      third.close();
    }
    // The client that was already in keeps being served during the flood.
    assert.equal((await authenticated.sendMessage("still here")).response, "still here");
    // Once the silent ones hit the handshake deadline, new clients get in again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.equal((await client.sendMessage("in")).response, "in");
    });
    assert.ok(refusals(server.events, "max_startups").length >= 1);
    assert.equal(refusals(server.events, "handshake_timeout").length, 2);
  } finally {
    for (const conn of silent) conn.close();
    await authenticated.close();
    await server.close();
  }
});

Deno.test("OvtpServer caps connections per address", async () => {
  const server = await startServer(undefined, { maxConnectionsPerAddress: 2 });
  const alice = await fixtureIdentity("alice");
  const clients = [0, 1, 2].map(() => new OvtpClient(server.address, server.clientOptions(alice)));
  try {
    await clients[0].connect();
    await clients[1].connect();
    await assert.rejects(clients[2].connect(), (error: unknown) => {
      assert.ok(error instanceof ConnectionError);
      assert.match(error.message, /busy/);
      return true;
    });
    assert.equal(refusals(server.events, "max_connections_per_address").length, 1);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  }
});

Deno.test("OvtpServer holds off an address after repeated authentication failures", async () => {
  const server = await startServer(undefined, { authFailureLimit: 2, authBackoffMs: 400 });
  const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
  try {
    for (let i = 0; i < 2; i++) {
      await withClient(server.address, server.clientOptions(bob), async (client) => {
        await assert.rejects(client.connect(), AuthenticationError);
      });
    }
    // Now even a good key from the same address is refused at once, as busy.
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await assert.rejects(client.connect(), /busy/);
    });
    const failures = refusals(server.events, "authentication");
    assert.equal(failures.length, 2);
    assert.equal(failures[0].fingerprint, bob.publicKey.fingerprint);
    assert.match(failures[0].detail ?? "", /not authorized/);
    assert.equal(refusals(server.events, "auth_backoff").length, 1);
    // After the hold-off, the good key gets in.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.equal((await client.sendMessage("ok")).response, "ok");
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer logs one structured event per connection outcome", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await client.sendMessage("x".repeat(1000));
    });
    for (let i = 0; i < 100 && server.events.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const [event] = server.events;
    assert.equal(event.event, "connection");
    if (event.event !== "connection") return;
    assert.equal(event.fingerprint, alice.publicKey.fingerprint);
    assert.equal(event.comment, "alice@test");
    assert.equal(event.result, "closed");
    assert.match(event.remote, /^127\.0\.0\.1:\d+$/);
    assert.ok(event.bytesIn > 1000 && event.bytesOut > 1000, JSON.stringify(event));
    assert.ok(event.durationMs >= 0);
    assert.ok(!Number.isNaN(Date.parse(event.time)));
  } finally {
    await server.close();
  }
});
