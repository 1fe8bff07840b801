/**
 * Session resumption end to end (SPEC §4.6): real servers on 127.0.0.1, real OvtpClients, a
 * relay where a test must change or replay frames. Whether a connection resumed is read from
 * both ends: the client's `lastHandshake` and the server's connection log event.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { formatPublicKey } from "../crypto/public_key.ts";
import { AuthenticationError } from "../errors.ts";
import { OvtpClient } from "../client.ts";
import type { ConnectionEvent, ServerLogEvent } from "../server_log.ts";
import { SessionCache } from "../session/session_cache.ts";
import { encodeFrame } from "../wire/frame.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import { DenoTransport } from "../wire/deno_transport.ts";
import { decodeRefusedIfAny, HandshakeType, RefusalReason } from "../wire/handshake_codec.ts";
import { fixtureIdentity, withTempDir } from "./_fixtures.ts";
import { startServer, withClient } from "./_helpers.ts";
import { startRelay } from "./_relay.ts";

function connections(events: ServerLogEvent[]): ConnectionEvent[] {
  return events.filter((event): event is ConnectionEvent => event.event === "connection");
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), "the expected event did not happen within 2 s");
}

Deno.test("OvtpClient resumes with a shared sessionCache: no RSA, and a fresh ticket each time", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const sessionCache = new SessionCache();
  try {
    const options = server.clientOptions(alice, { sessionCache });
    for (const expected of [false, true, true]) {
      await withClient(server.address, options, async (client) => {
        assert.equal((await client.sendMessage("hi")).response, "hi");
        assert.equal(client.lastHandshake?.resumed, expected);
      });
      assert.equal(sessionCache.size, 1, "one fresh ticket after each connection");
    }
    await waitFor(() => connections(server.events).length === 3);
    assert.deepEqual(connections(server.events).map((event) => event.resumed), [
      false,
      true,
      true,
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("OvtpClient resumes automatically when it reconnects", async () => {
  // The server drops the connection after answering "drop"; the next call reconnects.
  const server = await startServer((message, peer) => {
    if (message.value() === "drop") setTimeout(() => peer.close(), 10);
    return { status: true, response: message.value() };
  });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await client.sendMessage("drop");
      assert.equal(client.lastHandshake?.resumed, false);
      await waitFor(() => !client.connected);
      assert.equal((await client.sendMessage("again")).response, "again");
      assert.equal(client.lastHandshake?.resumed, true);
    });
    await waitFor(() => connections(server.events).length === 2);
    assert.deepEqual(connections(server.events).map((event) => event.resumed), [false, true]);
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer refuses a resumption once the key is removed from authorized_keys", async () => {
  await withTempDir(async (dir) => {
    const alice = await fixtureIdentity("alice");
    const path = join(dir, "authorized_keys");
    await Deno.writeTextFile(path, `${formatPublicKey(alice.publicKey)}\n`, { mode: 0o600 });
    const server = await startServer(undefined, { authorizedKeys: path });
    const sessionCache = new SessionCache();
    try {
      const options = server.clientOptions(alice, { sessionCache, reconnect: false });
      await withClient(server.address, options, (client) => client.sendMessage("in"));
      assert.equal(sessionCache.size, 1);
      await Deno.writeTextFile(path, "");
      // The ticket is presented, refused, and the full handshake then refuses the key.
      await withClient(server.address, options, async (client) => {
        await assert.rejects(client.connect(), AuthenticationError);
      });
      assert.equal(sessionCache.size, 0, "the ticket was spent");
      await waitFor(() => server.events.some((event) => event.event === "refused"));
      const refused = server.events.find((event) => event.event === "refused");
      assert.equal(refused?.event === "refused" && refused.reason, "authentication");
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpServer answers an expired ticket with a full handshake", async () => {
  const server = await startServer(undefined, { ticketLifetimeMs: 300 });
  const alice = await fixtureIdentity("alice");
  const sessionCache = new SessionCache();
  try {
    const options = server.clientOptions(alice, { sessionCache });
    await withClient(server.address, options, (client) => client.sendMessage("one"));
    // The client keeps it for the announced lifetime rounded up to 1 s; the server for 300 ms.
    await new Promise((resolve) => setTimeout(resolve, 400));
    await withClient(server.address, options, async (client) => {
      assert.equal((await client.sendMessage("two")).response, "two");
      assert.equal(client.lastHandshake?.resumed, false);
    });
    await withClient(server.address, options, async (client) => {
      await client.sendMessage("three");
      assert.equal(client.lastHandshake?.resumed, true, "the fresh ticket works");
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer falls back to a full handshake for a tampered ticket", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const sessionCache = new SessionCache();
  try {
    const options = server.clientOptions(alice, { sessionCache });
    await withClient(server.address, options, (client) => client.sendMessage("one"));
    // The client presents a changed ticket (its own bytes, so the transcripts agree).
    const target = `127.0.0.1:${server.address.port}`;
    const session = sessionCache.take(target, alice.publicKey.fingerprint)!;
    session.ticket[session.ticket.length - 20] ^= 0x01;
    sessionCache.put(target, alice.publicKey.fingerprint, session);
    await withClient(server.address, options, async (client) => {
      assert.equal((await client.sendMessage("two")).response, "two");
      assert.equal(client.lastHandshake?.resumed, false);
    });
    await waitFor(() => connections(server.events).length === 2);
    assert.deepEqual(connections(server.events).map((event) => event.resumed), [false, false]);
  } finally {
    await server.close();
  }
});

/**
 * True for a ResumeHello frame: its type, then the magic "OVTP". Sealed records after the
 * handshake start with random bytes, so the type byte alone would match 1 frame in 256.
 */
function isResumeHello(frame: Uint8Array): boolean {
  return frame[4] === HandshakeType.resumeHello &&
    new TextDecoder().decode(frame.subarray(5, 9)) === "OVTP";
}

Deno.test("OvtpClient fails closed when its ResumeHello is changed in transit", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const sessionCache = new SessionCache();
  // Flips one byte of the ticket inside every ResumeHello: the server falls back to a full
  // handshake, whose transcript then differs from the client's, so it fails; no session.
  const relay = startRelay(server.address, (direction, _index, frame) => {
    if (direction === "toServer" && isResumeHello(frame)) {
      const changed = frame.slice();
      changed[changed.length - 20] ^= 0x01;
      return [changed];
    }
    return [frame];
  });
  try {
    const options = server.clientOptions(alice, { sessionCache, reconnect: false });
    await withClient(relay.address, options, (client) => client.sendMessage("one"));
    await withClient(relay.address, options, async (client) => {
      await assert.rejects(client.connect(), AuthenticationError);
    });
    // The ticket was spent; the next connection is a full handshake, and works.
    await withClient(relay.address, options, async (client) => {
      assert.equal((await client.sendMessage("three")).response, "three");
      assert.equal(client.lastHandshake?.resumed, false);
    });
  } finally {
    await relay.close();
    await server.close();
  }
});

Deno.test("OvtpServer refuses a replayed ResumeHello at ClientFinished", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const sessionCache = new SessionCache();
  let recorded: Uint8Array | undefined;
  const relay = startRelay(server.address, (direction, _index, frame) => {
    if (direction === "toServer" && isResumeHello(frame)) recorded = frame;
    return [frame];
  });
  try {
    const options = server.clientOptions(alice, { sessionCache });
    await withClient(relay.address, options, (client) => client.sendMessage("one"));
    await withClient(relay.address, options, async (client) => {
      await client.sendMessage("two");
      assert.equal(client.lastHandshake?.resumed, true);
    });
    assert.ok(recorded !== undefined);
    // The attacker replays the whole hello: the server resumes (it keeps no list of used
    // tickets) but the attacker has neither eph_c's private key nor rms, so whatever it sends
    // as ClientFinished is refused, and no session comes of it.
    const transport = new DenoTransport(await Deno.connect(server.address));
    try {
      await transport.write(recorded);
      const reader = new FrameReader(transport, { maxFrameBytes: 16384 });
      assert.equal((await reader.read())?.[0], HandshakeType.serverResumed);
      assert.equal((await reader.read())?.[0], HandshakeType.serverFinished);
      await transport.write(encodeFrame(Uint8Array.of(9, ...new Uint8Array(32))));
      const answer = await reader.read();
      assert.equal(decodeRefusedIfAny(answer!), RefusalReason.authentication);
      assert.equal(await reader.read(), null);
    } finally {
      transport.close();
    }
    await waitFor(() => server.events.some((event) => event.event === "refused"));
    assert.equal(connections(server.events).length, 2, "the replay never became a connection");
  } finally {
    await relay.close();
    await server.close();
  }
});

Deno.test("OvtpServer keeps its ticket key file 0600 and resumes across a restart", async () => {
  await withTempDir(async (dir) => {
    const ticketKeyFile = join(dir, "ticket_keys");
    const alice = await fixtureIdentity("alice");
    const sessionCache = new SessionCache();
    let server = await startServer(undefined, { ticketKeyFile });
    try {
      const options = server.clientOptions(alice, { sessionCache });
      await withClient(server.address, options, (client) => client.sendMessage("one"));
      const info = await Deno.stat(ticketKeyFile);
      if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777, 0o600);
      const port = server.address.port;
      await server.close();
      server = await startServer(undefined, { ticketKeyFile, port });
      await withClient(server.address, options, async (client) => {
        await client.sendMessage("two");
        assert.equal(client.lastHandshake?.resumed, true);
      });
      // Without the file, a restarted server has a new key: the ticket falls back.
      await server.close();
      server = await startServer(undefined, { port });
      await withClient(server.address, options, async (client) => {
        await client.sendMessage("three");
        assert.equal(client.lastHandshake?.resumed, false);
      });
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpServer restarted under a burst of clients gets them all back, resumed, with maxStartups below the burst", async () => {
  // The reconnect storm of bench/_storm.ts scaled down: 20 clients, 4 startups at once.
  await withTempDir(async (dir) => {
    const ticketKeyFile = join(dir, "ticket_keys");
    const alice = await fixtureIdentity("alice");
    const limits = { ticketKeyFile, maxStartups: 4 };
    let server = await startServer(undefined, limits);
    const clients = Array.from(
      { length: 20 },
      () => new OvtpClient(server.address, server.clientOptions(alice, { maxRetryDelayMs: 200 })),
    );
    try {
      for (const client of clients) await client.sendMessage("before");
      const port = server.address.port;
      await server.close();
      server = await startServer(undefined, { ...limits, port });
      // Every client at once, each calling again until answered, as an application would.
      await Promise.all(clients.map(async (client) => {
        for (let attempt = 0;; attempt++) {
          try {
            return await client.sendMessage("after");
          } catch (error) {
            if (attempt >= 50) throw error;
          }
        }
      }));
      const resumed = clients.filter((client) => client.lastHandshake?.resumed === true).length;
      // A startup that had sent its ResumeHello used to be pushed out for the next newcomer,
      // spending its ticket: most came back with a full handshake.
      assert.ok(resumed >= 18, `only ${resumed} of 20 resumed`);
      const shed = server.events.filter((event) =>
        event.event === "refused" && event.reason === "shed"
      );
      assert.ok(shed.length <= 2, `${shed.length} startups were shed`);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await server.close();
    }
  });
});

Deno.test("OvtpClient never resumes with sessionCache: false", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice, { sessionCache: false }), async (
      client,
    ) => {
      await client.sendMessage("x");
      assert.equal(client.lastHandshake?.resumed, false);
    });
  } finally {
    await server.close();
  }
});
