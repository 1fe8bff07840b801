import assert from "node:assert/strict";
import { OvtpClient } from "../client.ts";
import { ConnectionError, RemoteError } from "../errors.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { startServer, withClient } from "./_helpers.ts";

Deno.test("PeerConnection.sendMessage() calls the client back while its own calls are in flight", async () => {
  const server = await startServer(async (message, peer) => {
    if (message.text() === "call me back") {
      const answer = await peer.sendMessage({ question: "who are you?" });
      return { status: answer.status, response: { client: answer.response } };
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    return { status: true, response: message.value() };
  });
  const alice = await fixtureIdentity("alice");
  const calls: unknown[] = [];
  const client = new OvtpClient(
    server.address,
    server.clientOptions(alice, {
      handler: (message) => {
        calls.push(message.json());
        return { status: true, response: "alice, at your service" };
      },
    }),
  );
  try {
    const own = Array.from({ length: 20 }, (_, i) => client.sendMessage(i));
    const callback = client.sendMessage("call me back");
    const results = await Promise.all(own);
    results.forEach((result, i) => assert.equal(result.response, i));
    assert.deepEqual((await callback).response, { client: "alice, at your service" });
    assert.deepEqual(calls, [{ question: "who are you?" }]);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("OvtpServer.connections lets the server call every connected client", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const clients = [0, 1, 2].map((n) =>
    new OvtpClient(
      server.address,
      server.clientOptions(alice, {
        handler: (message) => ({ status: true, response: `${n}: ${message.text()}` }),
      }),
    )
  );
  try {
    await Promise.all(clients.map((client) => client.connect()));
    const replies = await Promise.all(
      server.server.connections.map((peer) => peer.sendMessage("ping")),
    );
    assert.deepEqual(replies.map((reply) => reply.response).sort(), [
      "0: ping",
      "1: ping",
      "2: ping",
    ]);
    assert.ok(server.server.connections.every((peer) => peer.comment === "alice@test"));
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  }
});

Deno.test("PeerConnection.sendMessage() is refused by a client without a handler", async () => {
  let attempt: Promise<unknown> | undefined;
  const server = await startServer((_message, peer) => {
    attempt = peer.sendMessage("anyone there?");
    attempt.catch(() => {});
    return { status: true };
  });
  const alice = await fixtureIdentity("alice");
  try {
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      await client.sendMessage("hello");
      await assert.rejects(attempt!, RemoteError);
    });
  } finally {
    await server.close();
  }
});

Deno.test("PeerConnection.sendMessage() fails clearly once the client is gone", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  try {
    const client = new OvtpClient(server.address, server.clientOptions(alice));
    await client.connect();
    const [peer] = server.server.connections;
    await client.close();
    for (let i = 0; i < 100 && !peer.closed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await assert.rejects(peer.sendMessage("too late"), ConnectionError);
  } finally {
    await server.close();
  }
});
