import assert from "node:assert/strict";
import { join } from "node:path";
import { KnownHosts } from "../crypto/known_hosts.ts";
import { ConnectionError, HostKeyError, TimeoutError } from "../errors.ts";
import type { ServerLogEvent } from "../server_log.ts";
import { OvtpClient } from "../client.ts";
import { fixtureIdentity, withTempDir } from "./_fixtures.ts";
import { startServer, withClient } from "./_helpers.ts";
import { startRelay } from "./_relay.ts";

/** A connection that ended because a record failed to open. */
function isRecordFailure(event: ServerLogEvent): boolean {
  return event.event === "connection" && event.result === "error" &&
    /Cannot open record/.test(event.error ?? "");
}

/** Polls `condition` for up to 2 s; fails the test if it never holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), "the expected event did not happen within 2 s");
}

Deno.test("OvtpClient refuses an unknown server key unless told to trust it", async () => {
  const server = await startServer();
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(server.address, { identity: alice }, async (client) => {
      await assert.rejects(client.connect(), (error: unknown) => {
        assert.ok(error instanceof HostKeyError);
        assert.equal(error.problem, "unknown");
        assert.equal(error.presented, server.identity.publicKey.fingerprint);
        return true;
      });
    });
    await withClient(server.address, { identity: alice, acceptNew: true }, async (client) => {
      assert.equal((await client.sendMessage("tofu")).response, "tofu");
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpClient records a new key with acceptNew and then requires it", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const server = await startServer();
    try {
      const alice = await fixtureIdentity("alice");
      await withClient(
        server.address,
        { identity: alice, knownHosts: path, acceptNew: true },
        (client) => client.sendMessage("first"),
      );
      const text = await Deno.readTextFile(path);
      assert.match(text, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${server.address.port} ovtp-rsa `));
      // Without acceptNew, the recorded key is now enough.
      await withClient(server.address, { identity: alice, knownHosts: path }, async (client) => {
        assert.equal((await client.sendMessage("second")).response, "second");
      });
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpClient refuses a server whose key differs from known_hosts, naming both keys", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
    const server = await startServer();
    try {
      // known_hosts says this address belongs to bob's key.
      await new KnownHosts(path).add("127.0.0.1", server.address.port, bob.publicKey);
      await withClient(
        server.address,
        { identity: alice, knownHosts: path, acceptNew: true },
        async (client) => {
          await assert.rejects(client.sendMessage("hi"), (error: unknown) => {
            assert.ok(error instanceof HostKeyError);
            assert.equal(error.problem, "mismatch");
            assert.equal(error.presented, server.identity.publicKey.fingerprint);
            assert.equal(error.expected, bob.publicKey.fingerprint);
            assert.match(error.message, /remove line 1 of/);
            assert.equal(error.knownHostsPath, path);
            assert.equal(error.lineNumber, 1);
            return true;
          });
        },
      );
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpClient records a pinned key in known_hosts when acceptNew is set", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const server = await startServer();
    try {
      const alice = await fixtureIdentity("alice");
      const options = server.clientOptions(alice, { knownHosts: path, acceptNew: true });
      await withClient(server.address, options, (client) => client.connect());
      const check = await new KnownHosts(path).check(
        "127.0.0.1",
        server.address.port,
        server.identity.publicKey,
      );
      assert.equal(check.status, "match");
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpClient reports each key acceptNew recorded through onHostKeyRecorded", async () => {
  await withTempDir(async (dir) => {
    const server = await startServer();
    try {
      const alice = await fixtureIdentity("alice");
      const serverKey = server.identity.publicKey.fingerprint;
      for (const fingerprint of [undefined, serverKey]) {
        const path = join(dir, `known_hosts_${fingerprint === undefined ? "tofu" : "pinned"}`);
        const recorded: string[] = [];
        const options = server.clientOptions(alice, {
          knownHosts: path,
          acceptNew: true,
          fingerprint,
          onHostKeyRecorded: (key, file) => recorded.push(`${key.fingerprint} ${file}`),
        });
        // The first connection records the key; the second finds it known.
        await withClient(server.address, options, (client) => client.connect());
        await withClient(server.address, options, (client) => client.connect());
        assert.deepEqual(recorded, [`${serverKey} ${path}`]);
      }
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpClient refuses a server that does not match the pinned fingerprint", async () => {
  const server = await startServer();
  try {
    const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
    const options = { identity: alice, fingerprint: bob.publicKey.fingerprint };
    await withClient(server.address, options, async (client) => {
      await assert.rejects(client.connect(), HostKeyError);
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpClient detects a flipped ciphertext byte; nothing wrong is delivered", async () => {
  const received: string[] = [];
  const server = await startServer((message) => {
    received.push(message.text());
    return { status: true, response: message.text() };
  });
  // Frames 0 to 2 to the server are the handshake; flip a byte in the first record after it.
  const relay = startRelay(server.address, (direction, index, frame) => {
    if (direction === "toServer" && index === 3) {
      const copy = frame.slice();
      copy[copy.length - 20] ^= 0x40;
      return [copy];
    }
    return [frame];
  });
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(relay.address, server.clientOptions(alice), async (client) => {
      await assert.rejects(client.sendMessage("transfer 100 to bob"), ConnectionError);
    });
    assert.deepEqual(received, []);
    await waitFor(() => server.events.some(isRecordFailure));
  } finally {
    await relay.close();
    await server.close();
  }
});

Deno.test("OvtpClient detects a replayed record", async () => {
  const received: string[] = [];
  const server = await startServer((message) => {
    received.push(message.text());
    return { status: true, response: "ok" };
  });
  const relay = startRelay(server.address, (direction, index, frame) => {
    // Send the first record twice: the copy must be refused.
    return direction === "toServer" && index === 3 ? [frame, frame] : [frame];
  });
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(relay.address, server.clientOptions(alice), async (client) => {
      await client.sendMessage("pay once").catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    assert.ok(received.length <= 1, `delivered ${received.length} times`);
    await waitFor(() => server.events.some(isRecordFailure));
  } finally {
    await relay.close();
    await server.close();
  }
});

Deno.test("OvtpClient reconnects after the connection drops", async () => {
  const first = await startServer((message) => ({ status: true, response: `A ${message.text()}` }));
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient(first.address, first.clientOptions(alice));
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    assert.equal((await client.sendMessage("one")).response, "A one");
    await first.close();
    assert.equal(client.connected, false);
    // The same server key comes back on the same port.
    second = await startServer((message) => ({ status: true, response: `B ${message.text()}` }), {
      port: first.address.port,
    });
    assert.equal((await client.sendMessage("two")).response, "B two");
    assert.equal(client.connected, true);
  } finally {
    await client.close();
    await first.close();
    await second?.close();
  }
});

Deno.test("OvtpClient with reconnect off fails once the connection is lost", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient(server.address, server.clientOptions(alice, { reconnect: false }));
  try {
    assert.equal((await client.sendMessage("one")).response, "one");
    await server.close();
    await assert.rejects(client.sendMessage("two"), /reconnect is off/);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("OvtpClient times out a call and honours an AbortSignal", async () => {
  const server = await startServer(async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { status: true };
  });
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await assert.rejects(client.sendMessage("slow", { timeoutMs: 50 }), TimeoutError);
      const controller = new AbortController();
      const call = client.sendMessage("slow", { signal: controller.signal });
      controller.abort(new Error("changed my mind"));
      await assert.rejects(call, /changed my mind/);
      // The connection is still good.
      assert.equal((await client.sendMessage("slow")).status, true);
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpClient fails fast when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient({ hostname: "127.0.0.1", port }, { identity: alice });
  try {
    await assert.rejects(client.connect(), ConnectionError);
  } finally {
    await client.close();
  }
});

Deno.test("OvtpClient gives up on a silent server after its handshakeTimeoutMs", async () => {
  // A listener that accepts and never answers: only the handshake deadline ends the wait.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient(listener.addr as Deno.NetAddr, {
    identity: alice,
    fingerprint: "SHA256:unused",
    handshakeTimeoutMs: 200,
    reconnect: false,
  });
  try {
    await assert.rejects(client.connect(), (error: Error) => {
      assert.ok(error instanceof TimeoutError, String(error));
      assert.match(error.message, /200 ms/);
      return true;
    });
  } finally {
    await client.close();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});
