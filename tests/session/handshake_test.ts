import assert from "node:assert/strict";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { AuthenticationError, HostKeyError, ProtocolError, TimeoutError } from "../../errors.ts";
import { clientHandshake, serverHandshake } from "../../session/handshake.ts";
import { encodeFrame } from "../../wire/frame.ts";
import { FrameReader } from "../../wire/frame_reader.ts";
import { memoryTransportPair } from "../../wire/memory_transport.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { handshakePair, testParameters } from "../_helpers.ts";

Deno.test("clientHandshake() and serverHandshake() agree on crossed traffic secrets", async () => {
  const pair = await handshakePair({ server: { maxRecordBytes: 32768, maxStreams: 7 } });
  try {
    assert.deepEqual(pair.client.sendSecret, pair.server.receiveSecret);
    assert.deepEqual(pair.client.receiveSecret, pair.server.sendSecret);
    assert.notDeepEqual(pair.client.sendSecret, pair.client.receiveSecret);
    assert.equal(pair.client.peer.maxRecordBytes, 32768);
    assert.equal(pair.client.peer.maxStreams, 7);
    const [alice, server] = await Promise.all([
      fixtureIdentity("alice"),
      fixtureIdentity("server"),
    ]);
    assert.equal(pair.client.peerKey.fingerprint, server.publicKey.fingerprint);
    assert.equal(pair.server.peerKey.fingerprint, alice.publicKey.fingerprint);
  } finally {
    pair.close();
  }
});

Deno.test("clientHandshake() gives fresh secrets on every handshake", async () => {
  const first = await handshakePair();
  const second = await handshakePair();
  try {
    assert.notDeepEqual(first.client.sendSecret, second.client.sendSecret);
  } finally {
    first.close();
    second.close();
  }
});

Deno.test("serverHandshake() refuses an unauthorized key with the authentication refusal", async () => {
  const [c, s] = memoryTransportPair();
  const [bob, server] = await Promise.all([fixtureIdentity("bob"), fixtureIdentity("server")]);
  const authorized = AuthorizedKeys.fromKeys([]);
  const results = await Promise.allSettled([
    clientHandshake(c, {
      identity: bob,
      verifyServerKey: () => Promise.resolve(),
      ...testParameters,
    }),
    serverHandshake(s, {
      identity: server,
      authorize: (fingerprint) => authorized.find(fingerprint),
      ...testParameters,
    }),
  ]);
  c.close();
  s.close();
  assert.equal(results[0].status, "rejected");
  assert.ok(results[0].reason instanceof AuthenticationError);
  assert.match(results[0].reason.message, /refused our key/);
  assert.equal(results[1].status, "rejected");
  assert.ok(results[1].reason instanceof AuthenticationError);
  assert.match(results[1].reason.message, /not authorized/);
});

Deno.test("serverHandshake() gives the same refusal when the server key is not the real one", async () => {
  // The client wraps its secret to bob's key while talking to "server": a man in the middle
  // who shows someone else's key cannot unwrap it, and the handshake fails at key confirmation.
  const [c, s] = memoryTransportPair();
  const [alice, bob, server] = await Promise.all([
    fixtureIdentity("alice"),
    fixtureIdentity("bob"),
    fixtureIdentity("server"),
  ]);
  const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
  const impostor = { ...server, publicKey: bob.publicKey };
  const results = await Promise.allSettled([
    clientHandshake(c, {
      identity: alice,
      verifyServerKey: () => Promise.resolve(),
      ...testParameters,
    }),
    serverHandshake(s, {
      identity: impostor,
      authorize: (fingerprint) => authorized.find(fingerprint),
      ...testParameters,
    }),
  ]);
  c.close();
  s.close();
  assert.equal(results[0].status, "rejected");
  assert.ok(results[0].reason instanceof AuthenticationError);
  assert.equal(results[1].status, "rejected");
  assert.match(String(results[1].reason), /key confirmation failed/);
});

Deno.test("clientHandshake() sends nothing secret when verifyServerKey refuses", async () => {
  const [c, s] = memoryTransportPair();
  const alice = await fixtureIdentity("alice");
  const server = await fixtureIdentity("server");
  const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
  const serverSide = serverHandshake(s, {
    identity: server,
    authorize: (fingerprint) => authorized.find(fingerprint),
    ...testParameters,
  });
  serverSide.catch(() => {});
  await assert.rejects(
    clientHandshake(c, {
      identity: alice,
      verifyServerKey: (key) =>
        Promise.reject(
          new HostKeyError("no", { problem: "unknown", host: "x", presented: key.fingerprint }),
        ),
      ...testParameters,
    }),
    HostKeyError,
  );
  await assert.rejects(serverSide);
  c.close();
  s.close();
});

Deno.test("serverHandshake() times out a client that sends half a frame", async () => {
  const [c, s] = memoryTransportPair();
  const server = await fixtureIdentity("server");
  try {
    await c.write(new Uint8Array([0, 0, 0, 83, 1, 0x4f]));
    const started = Date.now();
    await assert.rejects(
      serverHandshake(s, {
        identity: server,
        authorize: () => Promise.resolve(undefined),
        ...testParameters,
        timeoutMs: 200,
      }),
      TimeoutError,
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    c.close();
    s.close();
  }
});

Deno.test("serverHandshake() rejects an oversized first frame before reading it", async () => {
  const [c, s] = memoryTransportPair();
  const server = await fixtureIdentity("server");
  try {
    await c.write(new Uint8Array([0x7f, 0, 0, 0]));
    await assert.rejects(
      serverHandshake(s, {
        identity: server,
        authorize: () => Promise.resolve(undefined),
        ...testParameters,
      }),
      /exceeds the 16384-byte limit/,
    );
  } finally {
    c.close();
    s.close();
  }
});

Deno.test("serverHandshake() refuses a replayed ClientAuth from an earlier handshake", async () => {
  // Record what a real client sends, then replay its bytes to a new server handshake.
  const [c, s] = memoryTransportPair({ highWaterBytes: 1 << 20 });
  const [alice, server] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("server")]);
  const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
  const options = {
    identity: server,
    authorize: (fingerprint: string) => authorized.find(fingerprint),
    ...testParameters,
  };
  const sent: Uint8Array[] = [];
  const recording = {
    ...c,
    read: (buffer: Uint8Array) => c.read(buffer),
    write: (bytes: Uint8Array) => {
      sent.push(bytes.slice());
      return c.write(bytes);
    },
    closeWrite: () => c.closeWrite(),
    close: () => c.close(),
    remoteAddr: c.remoteAddr,
    localAddr: c.localAddr,
  };
  await Promise.all([
    clientHandshake(recording, {
      identity: alice,
      verifyServerKey: () => Promise.resolve(),
      ...testParameters,
    }),
    serverHandshake(s, options),
  ]);
  c.close();
  s.close();
  assert.equal(sent.length, 3); // ClientHello, ClientSecret, ClientAuth

  const [attacker, victim] = memoryTransportPair({ highWaterBytes: 1 << 20 });
  try {
    const replay = serverHandshake(victim, options);
    await attacker.write(sent[0]);
    const reader = new FrameReader(attacker);
    assert.ok(await reader.read()); // a fresh ServerHello
    await attacker.write(sent[1]);
    await attacker.write(sent[2]);
    await assert.rejects(replay, AuthenticationError);
    const answer = await reader.read();
    assert.deepEqual(answer, new Uint8Array([6, 1])); // Refused: authentication
  } finally {
    attacker.close();
    victim.close();
  }
});

Deno.test("clientHandshake() rejects a server that answers with garbage", async () => {
  const [c, s] = memoryTransportPair();
  const alice = await fixtureIdentity("alice");
  try {
    await s.write(encodeFrame(new Uint8Array([2, 0, 1, 2, 3])));
    await assert.rejects(
      clientHandshake(c, {
        identity: alice,
        verifyServerKey: () => Promise.resolve(),
        ...testParameters,
      }),
      ProtocolError,
    );
  } finally {
    c.close();
    s.close();
  }
});
