import assert from "node:assert/strict";
import { join } from "node:path";
import { addAuthorizedKey, AuthorizedKeys } from "../crypto/authorized_keys.ts";
import { formatPublicKey } from "../crypto/public_key.ts";
import { AuthenticationError, ConnectionError, RemoteError } from "../errors.ts";
import { OvtpClient } from "../client.ts";
import { fixtureIdentity, withTempDir } from "./_fixtures.ts";
import { startServer, withClient } from "./_helpers.ts";

Deno.test("OvtpServer answers text, JSON, bytes and empty messages", async () => {
  const server = await startServer((message, peer) => ({
    status: message.type !== "bytes",
    response: message.type === "bytes"
      ? message.data.toReversed()
      : { got: message.value(), from: peer.comment },
  }));
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.deepEqual(await client.sendMessage("hello").then((r) => [r.status, r.response]), [
        true,
        { got: "hello", from: "alice@test" },
      ]);
      assert.deepEqual((await client.sendMessage({ a: [1, 2] })).response, {
        got: { a: [1, 2] },
        from: "alice@test",
      });
      const bytes = await client.sendData(new Uint8Array([1, 2, 3]));
      assert.equal(bytes.status, false);
      assert.deepEqual(bytes.response, new Uint8Array([3, 2, 1]));
      assert.deepEqual((await client.sendMessage("")).response, { got: "", from: "alice@test" });
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer turns a thrown handler error into a RemoteError and keeps serving", async () => {
  const server = await startServer((message) => {
    if (message.text() === "boom") throw new Error("exploded");
    return { status: true, response: "fine" };
  });
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await assert.rejects(client.sendMessage("boom"), (error: unknown) => {
        assert.ok(error instanceof RemoteError);
        assert.match(error.message, /handler failed: Error: exploded/);
        return true;
      });
      assert.equal((await client.sendMessage("again")).response, "fine");
    });
    assert.ok(server.errors.some((e) => String(e).includes("exploded")));
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer refuses an unauthorized client and keeps serving others", async () => {
  const server = await startServer();
  try {
    const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
    await withClient(server.address, server.clientOptions(bob), async (client) => {
      await assert.rejects(client.sendMessage("let me in"), (error: unknown) => {
        assert.ok(error instanceof AuthenticationError);
        assert.match(error.message, new RegExp(bob.publicKey.fingerprint.replace(/[+/]/g, ".")));
        return true;
      });
    });
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.equal((await client.sendMessage("hi")).response, "hi");
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer applies edits of authorized_keys to the next handshake", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "authorized_keys");
    const [alice, bob] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("bob")]);
    await Deno.writeTextFile(path, formatPublicKey(alice.publicKey) + "\n");
    const server = await startServer(undefined, { authorizedKeys: path });
    try {
      const ask = (identity: typeof alice) =>
        withClient(
          server.address,
          server.clientOptions(identity),
          (client) => client.sendMessage("x"),
        );
      await assert.rejects(ask(bob), AuthenticationError);
      // Authorize bob: no restart needed.
      assert.equal(await addAuthorizedKey(path, bob.publicKey), true);
      assert.equal((await ask(bob)).status, true);
      // Revoke alice: her next connection is refused.
      await Deno.writeTextFile(path, formatPublicKey(bob.publicKey) + "\n");
      await assert.rejects(ask(alice), AuthenticationError);
      assert.equal((await ask(bob)).status, true);
    } finally {
      await server.close();
    }
  });
});

Deno.test("OvtpServer serves 50 concurrent clients", async () => {
  const server = await startServer((message, peer) => ({
    status: true,
    response: `${message.text()} from ${peer.remoteAddr.port}`,
  }));
  try {
    const alice = await fixtureIdentity("alice");
    const clients = Array.from(
      { length: 50 },
      () => new OvtpClient(server.address, server.clientOptions(alice)),
    );
    try {
      const results = await Promise.all(clients.map((client, i) => client.sendMessage(`n${i}`)));
      const ports = new Set<string>();
      results.forEach((result, i) => {
        const [text, port] = String(result.response).split(" from ");
        assert.equal(text, `n${i}`);
        ports.add(port);
      });
      assert.equal(ports.size, 50);
      assert.equal(server.server.connectionCount, 50);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer answers 100 requests in flight on one connection", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const server = await startServer(async (message) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 20));
    inFlight--;
    return { status: true, response: message.json<number>() * 2 };
  });
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) => client.sendMessage(i)),
      );
      results.forEach((result, i) => assert.equal(result.response, i * 2));
    });
    assert.equal(maxInFlight, 100);
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer.close() lets a request in flight finish", async () => {
  let started!: () => void;
  const handlerStarted = new Promise<void>((resolve) => started = resolve);
  const server = await startServer(async () => {
    started();
    await new Promise((resolve) => setTimeout(resolve, 150));
    return { status: true, response: "finished" };
  });
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient(server.address, server.clientOptions(alice, { reconnect: false }));
  try {
    const pending = client.sendMessage("slow");
    await handlerStarted;
    const closing = server.close();
    assert.equal((await pending).response, "finished");
    await closing;
    await assert.rejects(client.sendMessage("after"), ConnectionError);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("OvtpServer refuses connections above maxConnections as busy", async () => {
  const server = await startServer(undefined, { maxConnections: 1 });
  try {
    const alice = await fixtureIdentity("alice");
    await withClient(server.address, server.clientOptions(alice), async (first) => {
      await first.connect();
      await withClient(server.address, server.clientOptions(alice), async (second) => {
        await assert.rejects(second.connect(), /busy/);
      });
      assert.equal((await first.sendMessage("still here")).response, "still here");
    });
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer stops when its AbortSignal aborts", async () => {
  const controller = new AbortController();
  const server = await startServer(undefined, {
    signal: controller.signal,
    authorizedKeys: AuthorizedKeys.fromKeys([]),
  });
  controller.abort();
  await server.server.finished;
  await assert.rejects(
    Deno.connect(server.address).then((conn) => conn.close()),
    Deno.errors.ConnectionRefused,
  );
});
