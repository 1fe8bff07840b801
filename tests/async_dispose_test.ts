/**
 * `await using` on the two objects a library user holds: `OvtpClient` and `OvtpServer` close at
 * the end of the block, as their `close()` does, and `OvtpClient.connect()` connects at once.
 */
import assert from "node:assert/strict";
import { OvtpClient } from "../client.ts";
import { AuthenticationError } from "../errors.ts";
import { AuthorizedKeys, OvtpServer } from "../mod.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { startServer } from "./_helpers.ts";

/** Polls `condition` for up to 2 s; fails the test if it never holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), "the expected state was not reached within 2 s");
}

Deno.test("OvtpClient[Symbol.asyncDispose]() closes the connection when an await using block ends", async () => {
  const server = await startServer();
  try {
    const alice = await fixtureIdentity("alice");
    let outside: OvtpClient | undefined;
    {
      await using client = await OvtpClient.connect(
        server.address,
        server.clientOptions(alice),
      );
      outside = client;
      assert.equal(client.connected, true);
      assert.equal((await client.sendMessage("hi")).response, "hi");
      await waitFor(() => server.server.connections.length === 1);
    }
    assert.equal(outside.connected, false);
    await waitFor(() => server.server.connections.length === 0);
    await assert.rejects(outside.sendMessage("late"), /The client is closed/);
  } finally {
    await server.close();
  }
});

Deno.test("OvtpClient.connect() rejects a refused key and leaves no connection open", async () => {
  const server = await startServer();
  try {
    const bob = await fixtureIdentity("bob"); // not in the server's authorized_keys
    await assert.rejects(
      OvtpClient.connect(server.address, server.clientOptions(bob, { reconnect: false })),
      AuthenticationError,
    );
    await waitFor(() => server.server.connections.length === 0);
  } finally {
    await server.close();
  }
});

Deno.test("OvtpServer[Symbol.asyncDispose]() closes the server when an await using block ends, after the call in flight", async () => {
  const [identity, alice] = await Promise.all([
    fixtureIdentity("server"),
    fixtureIdentity("alice"),
  ]);
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  let started = () => {};
  const handlerStarted = new Promise<void>((resolve) => started = resolve);
  let port = 0;
  let reply: Promise<{ status: boolean; response?: unknown }> | undefined;
  let caller: OvtpClient | undefined;
  try {
    {
      await using server = new OvtpServer(async () => {
        started();
        await released;
        return { status: true, response: "done" };
      }, {
        identity,
        authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey]),
        hostname: "127.0.0.1",
        port: 0,
      });
      port = server.listen().port;
      caller = new OvtpClient({ hostname: "127.0.0.1", port }, {
        identity: alice,
        fingerprint: identity.publicKey.fingerprint,
        reconnect: false,
      });
      reply = caller.sendMessage("slow");
      await handlerStarted;
      setTimeout(release, 50); // the block ends first; disposing waits for the call
    }
    // The block waited for the call in flight, and nothing listens any more.
    const { status, response } = await reply!;
    assert.deepEqual({ status, response }, { status: true, response: "done" });
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
  } finally {
    release();
    await caller?.close();
  }
});
