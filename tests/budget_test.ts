/**
 * Attacks on the server's budgets (session/budget.ts) by one authorized key, with the budgets at
 * their defaults: what the server holds stays within them, the stream over a budget is refused,
 * and other clients go on being served.
 */
import assert from "node:assert/strict";
import { waitFor as waitUntil } from "./cli/_cli.ts";
import { OvtpClient } from "../client.ts";
import { RemoteError } from "../errors.ts";
import { defaultBudgetLimits } from "../session/budget.ts";
import type { Stream } from "../session/stream.ts";
import { StreamError, StreamKind } from "../session/stream.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { rawClientChannel, startServer, withClient } from "./_helpers.ts";

const MiB = 1024 * 1024;

Deno.test("OvtpServer bounds the bytes unfinished messages hold, per connection", async () => {
  const server = await startServer(undefined, { streamStallTimeoutMs: 2000 });
  const alice = await fixtureIdentity("alice");
  const fingerprint = server.identity.publicKey.fingerprint;
  const attacker = await rawClientChannel(server.address, alice, fingerprint);
  const budget = defaultBudgetLimits.connection.bufferedBytes;
  try {
    // 96 messages of 1 MiB each, none ever ended: 96 MiB asked for, 64 MiB allowed.
    const streams: Stream[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 96; i++) {
      const stream = await attacker.openStream(StreamKind.message, { type: "bytes" });
      streams.push(stream);
      writes.push(stream.write(new Uint8Array(MiB)));
    }
    const results = await Promise.allSettled(writes);
    assert.equal(results.length, 96);
    const refused = () =>
      streams.filter((stream) =>
        stream.error instanceof RemoteError && stream.error.remoteCode === StreamError.refused
      ).length;
    // What the server takes stays within the connection's budget all along; the streams past
    // it are refused.
    let mostHeld = 0;
    await waitUntil(() => {
      mostHeld = Math.max(mostHeld, server.server.held.bufferedBytes);
      return refused() >= 96 - budget / MiB;
    });
    assert.ok(mostHeld <= budget, `${mostHeld} bytes held`);
    // ...another connection is served meanwhile...
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.equal((await client.sendMessage("still served")).response, "still served");
    });
    // ...and the unfinished ones are reset once they stall, giving everything back.
    await waitUntil(() => streams.every((stream) => stream.done));
    await waitUntil(() => server.server.held.bufferedBytes === 0);
    assert.ok(server.events.some((event) => event.event === "limit"));
  } finally {
    attacker.abort(new Error("test over"));
    await server.close();
  }
});

Deno.test("OvtpServer refuses a key's connection a stream over the key's budget", async () => {
  const server = await startServer(undefined, {
    budgets: { key: { bufferedBytes: 4 * MiB } },
    streamStallTimeoutMs: 2000,
  });
  const alice = await fixtureIdentity("alice");
  const fingerprint = server.identity.publicKey.fingerprint;
  const channels = await Promise.all(
    [0, 1].map(() => rawClientChannel(server.address, alice, fingerprint)),
  );
  try {
    // Two connections of one key, 3 MiB each: together over the key's 4 MiB.
    const streams = await Promise.all(
      channels.map((channel) => channel.openStream(StreamKind.message, { type: "bytes" })),
    );
    await Promise.allSettled(streams.map((stream) => stream.write(new Uint8Array(3 * MiB))));
    await waitUntil(() => streams.some((stream) => stream.done));
    assert.ok(server.server.held.bufferedBytes <= 4 * MiB);
    const failed = streams.find((stream) => stream.done)!;
    assert.match(String(failed.error), /this client key: at most 4194304 bytes/);
  } finally {
    for (const channel of channels) channel.abort(new Error("test over"));
    await server.close();
  }
});

Deno.test("OvtpServer resets a message stream that stops half way", async () => {
  const server = await startServer(undefined, { streamStallTimeoutMs: 300 });
  const alice = await fixtureIdentity("alice");
  const channel = await rawClientChannel(
    server.address,
    alice,
    server.identity.publicKey.fingerprint,
  );
  try {
    const stream = await channel.openStream(StreamKind.message, { type: "text" });
    await stream.write(new TextEncoder().encode("half a mess"));
    await assert.rejects(stream.replyHead(), /no progress for 300 ms/);
    await waitUntil(() => server.server.held.bufferedBytes === 0);
  } finally {
    channel.abort(new Error("test over"));
    await server.close();
  }
});

Deno.test("OvtpClient against a server: a normal 16 MiB message still fits the budgets", async () => {
  const server = await startServer();
  const alice = await fixtureIdentity("alice");
  const client = new OvtpClient(server.address, server.clientOptions(alice));
  try {
    const big = new Uint8Array(16 * MiB).fill(7);
    const reply = await client.sendData(big);
    assert.equal((reply.response as Uint8Array).length, 16 * MiB);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("OvtpServer's memory stays near the budget while another process attacks it", async () => {
  const budget = defaultBudgetLimits.connection.bufferedBytes;
  const run = (script: string, args: string[] = [], flags: string[] = []) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...flags,
        "--allow-net=127.0.0.1",
        "--allow-read",
        new URL(script, import.meta.url).pathname,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  // The server and the attacker each in a process of their own: the server's memory is
  // measured alone, after a full garbage collection.
  const server = run("./_budget_server.ts", [], ["--v8-flags=--expose-gc"]);
  const serverLines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const serverWriter = server.stdin.getWriter();
  let attacker: Deno.ChildProcess | undefined;
  try {
    const [port, fingerprint] = (await serverLines.read()).value!.trim().split(" ");
    // 256 unfinished 1 MiB messages: four times the connection's budget.
    attacker = run("./_budget_attacker.ts", [port, fingerprint, "256"]);
    const attackerLines = attacker.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await attackerLines.read()).value?.trim(), "sent");
    attackerLines.releaseLock();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await serverWriter.write(new TextEncoder().encode("measure\n"));
    const [grownBytes, heldBytes] = (await serverLines.read()).value!.trim().split(" ").map(Number);
    assert.ok(heldBytes <= budget, `${heldBytes} bytes held`);
    // The budget plus a little working set, whatever is sent: before the budgets the server
    // held all 256 MiB.
    assert.ok(grownBytes < budget + 32 * MiB, `grew ${Math.round(grownBytes / MiB)} MiB`);
  } finally {
    attacker?.kill("SIGKILL");
    await attacker?.status;
    await attacker?.stdout.cancel().catch(() => {});
    await serverWriter.close().catch(() => {});
    serverLines.releaseLock();
    await server.stdout.cancel().catch(() => {});
    await server.status;
  }
});
