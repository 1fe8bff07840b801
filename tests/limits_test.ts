import assert from "node:assert/strict";
import { waitFor as waitUntil } from "./cli/_cli.ts";
import { OvtpClient } from "../client.ts";
import { AuthenticationError, ConnectionError } from "../errors.ts";
import type { RefusedEvent } from "../server_log.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import { DenoTransport } from "../wire/deno_transport.ts";
import { encodeFrame } from "../wire/frame.ts";
import {
  decodeServerHello,
  encodeClientHello,
  encodeClientSecret,
  protocolVersion,
} from "../wire/handshake_codec.ts";
import { generateX25519 } from "../crypto/x25519.ts";
import { importPublicKey } from "../crypto/public_key.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { startServer, testParameters, withClient } from "./_helpers.ts";

function refusals(events: readonly { event: string }[], reason: string): RefusedEvent[] {
  return events.filter((e): e is RefusedEvent =>
    e.event === "refused" && (e as RefusedEvent).reason === reason
  );
}

Deno.test("OvtpServer sheds silent startups so good clients get in during a flood", async () => {
  // The attack: silent sockets renewed before the handshake deadline, always filling
  // maxStartups. Scaled down to 2 startups; the mechanism is the same.
  const server = await startServer(undefined, { maxStartups: 2, handshakeTimeoutMs: 5000 });
  const alice = await fixtureIdentity("alice");
  const silent: Deno.Conn[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) silent.push(await Deno.connect(server.address));
      await new Promise((resolve) => setTimeout(resolve, 50));
      // A good client gets in, pushing out the oldest silent socket once it is 500 ms old.
      await withClient(server.address, server.clientOptions(alice), async (client) => {
        assert.equal((await client.sendMessage("in")).response, "in");
      });
    }
    assert.ok(refusals(server.events, "shed").length >= 3);
    assert.equal(refusals(server.events, "max_startups").length, 0);
    // A shed socket was closed by the server: reading it ends.
    assert.equal(await silent[0].read(new Uint8Array(1)), null);
  } finally {
    for (const conn of silent) conn.close();
    await server.close();
  }
});

/**
 * Starts a handshake and stops right after ClientSecret: the server has done its RSA
 * decryption by then, and nothing authenticated.
 */
async function cutAfterClientSecret(address: { hostname: string; port: number }): Promise<void> {
  const transport = new DenoTransport(await Deno.connect(address));
  try {
    const ephemeral = await generateX25519();
    await transport.write(encodeFrame(encodeClientHello({
      version: protocolVersion,
      nonce: crypto.getRandomValues(new Uint8Array(32)),
      ephemeralKey: ephemeral.publicKey,
      ...testParameters,
    })));
    const reader = new FrameReader(transport);
    const serverHello = decodeServerHello((await reader.read())!);
    const rsaBytes = (await importPublicKey(serverHello.spki)).bits / 8;
    await transport.write(encodeFrame(encodeClientSecret({
      wrappedSecret: crypto.getRandomValues(new Uint8Array(rsaBytes)),
    })));
    // Give the server time to start its decryption, then vanish.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    transport.close();
  }
}

Deno.test("OvtpServer counts handshakes cut off after its RSA decryption as failures", async () => {
  const server = await startServer(undefined, { authFailureLimit: 3, authBackoffMs: 60_000 });
  const alice = await fixtureIdentity("alice");
  try {
    for (let i = 0; i < 3; i++) await cutAfterClientSecret(server.address);
    await waitUntil(() => refusals(server.events, "handshake_aborted").length === 3);
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await assert.rejects(client.connect(), /busy/);
    });
    assert.equal(refusals(server.events, "auth_backoff").length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer caps the connections of one key", async () => {
  const server = await startServer(undefined, { maxConnectionsPerKey: 2 });
  const alice = await fixtureIdentity("alice");
  const clients: OvtpClient[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const client = new OvtpClient(server.address, server.clientOptions(alice));
      clients.push(client);
      await client.connect();
    }
    const third = new OvtpClient(server.address, server.clientOptions(alice));
    clients.push(third);
    await assert.rejects(third.connect(), /busy/);
    const refused = refusals(server.events, "max_connections_per_key");
    assert.equal(refused.length, 1);
    assert.match(refused[0].detail ?? "", /this client key: at most 2 connections/);
    // Not an authentication failure: the address is not held off.
    assert.equal(refusals(server.events, "authentication").length, 0);
    // The first two keep working; one closing frees a slot.
    assert.equal((await clients[0].sendMessage("still")).response, "still");
    await clients[0].close();
    await waitUntil(() => server.server.connectionCount === 1);
    const again = new OvtpClient(server.address, server.clientOptions(alice));
    clients.push(again);
    assert.equal((await again.sendMessage("back")).response, "back");
  } finally {
    for (const client of clients) await client.close();
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
