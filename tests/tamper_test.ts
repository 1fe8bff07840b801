/**
 * A man in the middle as a test: a relay that flips, drops, duplicates, reorders, delays or cuts
 * traffic in either direction while a client sends a message and uploads a file. Every kind of
 * tampering must end in an error on at least one side (a delay is harmless and must not), no
 * wrong data may reach the handler, and no file may appear under its final name unless it is
 * byte for byte the source. A recorded session replayed to the same or a fresh server is
 * refused.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { OvtpClient } from "../client.ts";
import { fileChunkBytes } from "../files/chunk_tree.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import { DenoTransport } from "../wire/deno_transport.ts";
import { fixtureIdentity, withTempDir } from "./_fixtures.ts";
import { startServer } from "./_helpers.ts";
import { type Direction, type FrameHook, startRelay } from "./_relay.ts";

type Kind = "flip" | "drop" | "duplicate" | "reorder" | "delay" | "cut" | "cut-inside";

/** A hook that tampers with frame `target` of `direction` in the way `kind` says. */
function tamper(kind: Kind, direction: Direction, target: number): FrameHook {
  let held: Uint8Array | undefined;
  return (dir, index, frame) => {
    if (dir !== direction) return [frame];
    if (held !== undefined) {
      const out = [frame, held];
      held = undefined;
      return out;
    }
    if (index !== target) return [frame];
    switch (kind) {
      case "flip": {
        const copy = frame.slice();
        copy[4 + ((index * 7919) % (copy.length - 4))] ^= 0x20;
        return [copy];
      }
      case "drop":
        return [];
      case "duplicate":
        return [frame, frame];
      case "reorder":
        held = frame;
        return [];
      case "delay": {
        const until = Date.now() + 30;
        while (Date.now() < until) { /* a short busy wait keeps the hook synchronous */ }
        return [frame];
      }
      case "cut":
        throw new Error("cut");
      case "cut-inside":
        // Forward half a frame, then cut: the relay cannot make that visible otherwise.
        throw Object.assign(new Error("cut"), { partial: frame.subarray(0, frame.length >> 1) });
    }
  };
}

const kinds: Kind[] = ["flip", "drop", "duplicate", "reorder", "delay", "cut", "cut-inside"];
// toServer: 0 ClientHello, 1 ClientSecret, 2 ClientAuth, then records. toClient: 0 ServerHello,
// 1 ServerFinished, then records.
const targets: Record<Direction, number[]> = { toServer: [1, 3, 5], toClient: [0, 2, 3] };

Deno.test("tampering in either direction is detected and delivers nothing wrong", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const source = join(dir, "source.bin");
    const content = new Uint8Array(2 * fileChunkBytes + 99);
    for (let i = 0; i < content.length; i += 65536) {
      crypto.getRandomValues(content.subarray(i, Math.min(content.length, i + 65536)));
    }
    await Deno.writeFile(source, content);
    const received: string[] = [];
    const server = await startServer((message) => {
      received.push(message.text());
      return { status: true, response: "ok" };
    }, { root, authFailureLimit: 1_000_000, handshakeTimeoutMs: 2000 });
    const alice = await fixtureIdentity("alice");
    try {
      for (const direction of ["toServer", "toClient"] as Direction[]) {
        for (const target of targets[direction]) {
          for (const kind of kinds) {
            const label = `${kind} ${direction} frame ${target}`;
            const name = `${kind}-${direction}-${target}.bin`;
            const eventsBefore = server.events.length;
            received.length = 0;
            const relay = startRelay(server.address, tamper(kind, direction, target));
            const client = new OvtpClient(
              relay.address,
              server.clientOptions(alice, {
                reconnect: false,
                timeoutMs: 3000,
              }),
            );
            let clientError: unknown;
            try {
              const reply = await client.sendMessage("pay 100 to bob");
              assert.equal(reply.response, "ok", label);
              await client.sendFile(source, name);
            } catch (error) {
              clientError = error;
            } finally {
              await client.close().catch(() => {});
              await relay.close();
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
            // No wrong data reached the handler.
            for (const text of received) assert.equal(text, "pay 100 to bob", label);
            assert.ok(received.length <= 1, `${label}: delivered ${received.length} times`);
            // The file is absent or exact.
            const copy = await Deno.readFile(join(root, name)).catch(() => undefined);
            if (copy !== undefined) {
              assert.equal(copy.length, content.length, label);
              assert.ok(copy.every((byte, i) => byte === content[i]), `${label}: wrong content`);
            }
            const serverNoticed = server.events.slice(eventsBefore).some((event) =>
              event.event === "refused" ||
              (event.event === "connection" && event.result === "error")
            );
            if (kind === "delay") {
              assert.equal(clientError, undefined, `${label}: a delay must be harmless`);
              assert.ok(copy !== undefined, `${label}: the file should have arrived`);
            } else {
              assert.ok(
                clientError !== undefined || serverNoticed,
                `${label}: nobody noticed the tampering`,
              );
            }
          }
        }
      }
    } finally {
      await server.close();
    }
  });
});

Deno.test("a recorded session replayed to the same server or a fresh one is refused", async () => {
  const received: string[] = [];
  const handler = (message: { text(): string }) => {
    received.push(message.text());
    return { status: true, response: "ok" };
  };
  const server = await startServer(handler);
  const alice = await fixtureIdentity("alice");
  let fresh: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const recorded: Uint8Array[] = [];
    const relay = startRelay(server.address, (direction, _index, frame) => {
      if (direction === "toServer") recorded.push(frame);
      return [frame];
    });
    const client = new OvtpClient(relay.address, server.clientOptions(alice));
    try {
      await client.sendMessage("transfer once");
    } finally {
      await client.close();
      await relay.close();
    }
    assert.deepEqual(received, ["transfer once"]);
    fresh = await startServer(handler);
    for (const target of [server, fresh]) {
      const transport = new DenoTransport(await Deno.connect(target.address));
      try {
        for (const frame of recorded) await transport.write(frame);
        const reader = new FrameReader(transport);
        const serverHello = await reader.read();
        assert.equal(serverHello?.[0], 2);
        // The server answers the replay with the authentication refusal and nothing else.
        assert.deepEqual(await reader.read(), new Uint8Array([6, 1]));
        assert.equal(await reader.read(), null);
      } finally {
        transport.close();
      }
    }
    assert.deepEqual(received, ["transfer once"]);
  } finally {
    await server.close();
    await fresh?.close();
  }
});
