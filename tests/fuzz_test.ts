/**
 * Deterministic fuzzing: random and mutated inputs for the frame reader, the handshake and
 * record decoders, a channel fed garbage by an authenticated peer, and a real server fed mutated
 * handshakes over TCP. Every case must end in a value, a ProtocolError or a clean close, and the
 * server must still serve a good client afterwards. `FUZZ_SEED=n` reproduces a run; a failure
 * names its seed and case.
 *
 * @module
 */

import assert from "node:assert/strict";
import { OvtpError, ProtocolError } from "../errors.ts";
import { Channel } from "../session/channel.ts";
import { RecordSender } from "../session/record_sender.ts";
import { decodeHead, encodeHead, type Stream } from "../session/stream.ts";
import { encodeFrame } from "../wire/frame.ts";
import { FrameReader } from "../wire/frame_reader.ts";
import {
  decodeClientAuth,
  decodeClientAuthInner,
  decodeClientFinished,
  decodeClientHello,
  decodeClientSecret,
  decodeNewTicket,
  decodeServerFinished,
  decodeServerHello,
  decodeServerResumed,
  encodeClientAuth,
  encodeClientAuthInner,
  encodeClientFinished,
  encodeClientHello,
  encodeClientSecret,
  encodeNewTicket,
  encodeServerFinished,
  encodeServerHello,
  encodeServerResumed,
} from "../wire/handshake_codec.ts";
import { memoryTransportPair } from "../wire/memory_transport.ts";
import {
  type ChannelRecord,
  decodeReason,
  decodeRecords,
  encodeReason,
  encodeRecords,
  recordsByteLength,
  RecordType,
} from "../wire/record_codec.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { handshakePair, startServer, withClient } from "./_helpers.ts";
import { fuzzSeed, Prng } from "./_prng.ts";
import { startRelay } from "./_relay.ts";

const seed = fuzzSeed(20261124);

/** Runs `count` cases; a failing case reports the seed and its number. */
async function cases(
  name: string,
  count: number,
  run: (prng: Prng, index: number) => void | Promise<void>,
): Promise<void> {
  const prng = new Prng(seed ^ hash(name));
  for (let i = 0; i < count; i++) {
    try {
      await run(prng, i);
    } catch (error) {
      throw new Error(`${name}: case ${i} failed (FUZZ_SEED=${seed}): ${error}`, { cause: error });
    }
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (const char of text) h = Math.imul(h ^ char.charCodeAt(0), 16777619);
  return h >>> 0;
}

/** Calls `decode` and accepts a value or a ProtocolError; anything else fails the case. */
function decodesOrRefuses(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
  }
}

function record(type: number, streamId: number, payload: Uint8Array, flags = 0): ChannelRecord {
  return { type: type as ChannelRecord["type"], flags, streamId, payload };
}

function encode(records: ChannelRecord[]): Uint8Array {
  const out = new Uint8Array(recordsByteLength(records));
  encodeRecords(records, out, 0);
  return out;
}

const validHandshakeMessages: [string, Uint8Array, (bytes: Uint8Array) => unknown][] = [
  [
    "ClientHello",
    encodeClientHello({
      version: 1,
      nonce: new Uint8Array(32).fill(1),
      ephemeralKey: new Uint8Array(32).fill(2),
      maxRecordBytes: 65536,
      rekeyRecords: 100,
      maxStreams: 8,
    }),
    decodeClientHello,
  ],
  [
    "ServerHello",
    encodeServerHello({
      version: 1,
      nonce: new Uint8Array(32),
      ephemeralKey: new Uint8Array(32),
      maxRecordBytes: 65536,
      rekeyRecords: 100,
      maxStreams: 8,
      spki: new Uint8Array(300).fill(48),
    }),
    decodeServerHello,
  ],
  ["ClientSecret", encodeClientSecret({ wrappedSecret: new Uint8Array(384) }), decodeClientSecret],
  ["ClientAuth", encodeClientAuth({ sealed: new Uint8Array(900) }), decodeClientAuth],
  [
    "ClientAuth inner",
    encodeClientAuthInner({ spki: new Uint8Array(400), signature: new Uint8Array(384) }),
    decodeClientAuthInner,
  ],
  [
    "ServerFinished",
    encodeServerFinished({ verifyData: new Uint8Array(32), ticketBox: new Uint8Array(156) }),
    decodeServerFinished,
  ],
  [
    "ResumeHello",
    encodeClientHello({
      version: 2,
      nonce: new Uint8Array(32).fill(1),
      ephemeralKey: new Uint8Array(32).fill(2),
      maxRecordBytes: 65536,
      rekeyRecords: 1024,
      maxStreams: 8,
      ticket: new Uint8Array(136).fill(3),
    }),
    decodeClientHello,
  ],
  [
    "ServerResumed",
    encodeServerResumed({
      version: 2,
      nonce: new Uint8Array(32),
      ephemeralKey: new Uint8Array(32),
      maxRecordBytes: 65536,
      rekeyRecords: 1024,
      maxStreams: 8,
    }),
    decodeServerResumed,
  ],
  ["ClientFinished", encodeClientFinished(new Uint8Array(32)), decodeClientFinished],
  [
    "ticket box",
    encodeNewTicket({ lifetimeSeconds: 86400, ticket: new Uint8Array(136) }),
    decodeNewTicket,
  ],
];

Deno.test("fuzz: handshake decoders give a value or a ProtocolError", async () => {
  for (const [name, valid, decode] of validHandshakeMessages) {
    await cases(`handshake ${name}`, 3000, (prng) => {
      const input = prng.next() < 0.3 ? prng.bytes(prng.int(600)) : prng.mutate(valid);
      if (prng.next() < 0.2) input[0] = valid[0]; // keep the type byte more often
      decodesOrRefuses(() => decode(input));
    });
  }
});

Deno.test("fuzz: record, reason and head decoders give a value or a ProtocolError", async () => {
  const valid = encode([
    record(RecordType.open, 1, new Uint8Array([1, ...encodeHead({ type: "text" })])),
    record(RecordType.data, 1, new Uint8Array(40), 1),
    record(RecordType.window, 1, new Uint8Array([0, 0, 1, 0])),
    record(RecordType.ping, 0, new Uint8Array(8)),
    record(RecordType.reset, 3, encodeReason({ code: 2, message: "x" })),
  ]);
  await cases("records", 5000, (prng) => {
    const input = prng.next() < 0.2 ? prng.bytes(prng.int(200)) : prng.mutate(valid);
    decodesOrRefuses(() => decodeRecords(input));
  });
  await cases("reasons", 2000, (prng) => {
    decodesOrRefuses(() => decodeReason(prng.mutate(encodeReason({ code: 3, message: "été" }))));
  });
  await cases("heads", 2000, (prng) => {
    decodesOrRefuses(() => decodeHead(prng.mutate(encodeHead({ path: "a/b", size: 7 })), "open"));
  });
});

Deno.test("fuzz: FrameReader ends every random stream in frames, the end, or a ProtocolError", async () => {
  await cases("frames", 1500, async (prng) => {
    const [a, b] = memoryTransportPair({ highWaterBytes: 1 << 20 });
    try {
      const parts: Uint8Array[] = [];
      for (let i = prng.int(6); i > 0; i--) {
        parts.push(
          prng.next() < 0.5 ? encodeFrame(prng.bytes(prng.int(300))) : prng.bytes(prng.int(40)),
        );
      }
      for (const part of parts) await a.write(part);
      await a.closeWrite();
      const reader = new FrameReader(b, { maxFrameBytes: 1024 });
      for (let frames = 0; frames < 100; frames++) {
        try {
          if (await reader.read() === null) return;
        } catch (error) {
          if (error instanceof ProtocolError) return;
          throw error;
        }
      }
      assert.fail("the reader did not reach the end of a short stream");
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("fuzz: a channel fed garbage by an authenticated peer ends cleanly", async () => {
  const valid = [
    record(RecordType.open, 1, new Uint8Array([1, ...encodeHead({ type: "text" })])),
    record(RecordType.data, 1, new Uint8Array(16).fill(65), 1),
    record(RecordType.window, 1, new Uint8Array([0, 0, 0, 9])),
    record(RecordType.ping, 0, new Uint8Array(8)),
    record(RecordType.open, 3, new Uint8Array([9, ...encodeHead({})]), 1),
    record(RecordType.reset, 3, encodeReason({ code: 1, message: "bye" })),
    record(RecordType.close, 0, encodeReason({ code: 0, message: "done" })),
  ];
  const echo = (stream: Stream) => {
    (async () => {
      const data = await stream.readAll(1 << 16);
      stream.reply({ ok: true });
      await stream.write(data, { end: true });
    })().catch(() => {});
  };
  await cases("channel", 400, async (prng) => {
    const pair = await handshakePair();
    const server = new Channel(pair.serverTransport, pair.server, {
      role: "server",
      onStream: echo,
    });
    try {
      const sender = new RecordSender(pair.clientTransport, pair.client.sendSecret, {
        rekeyRecords: pair.client.local.rekeyRecords,
      });
      for (let i = 1 + prng.int(4); i > 0; i--) {
        const records = valid.slice(0, 1 + prng.int(valid.length));
        const plaintext = prng.next() < 0.15 ? prng.bytes(1 + prng.int(100)) : encode(records);
        sender.seal(prng.next() < 0.8 ? prng.mutate(plaintext) : plaintext);
      }
      await sender.flush();
      await pair.clientTransport.closeWrite();
      const error = await withTimeout(server.closed, 2000);
      assert.ok(error === undefined || error instanceof OvtpError, `unexpected end: ${error}`);
    } finally {
      server.abort(new Error("case over"));
      await server.closed;
      pair.close();
    }
  });
});

Deno.test("fuzz: OvtpServer survives mutated handshakes over TCP and serves a good client", async () => {
  const server = await startServer(undefined, {
    handshakeTimeoutMs: 500,
    authFailureLimit: 1_000_000,
  });
  const alice = await fixtureIdentity("alice");
  try {
    // Record what a real client sends in a whole session.
    const recorded: Uint8Array[] = [];
    const relay = startRelay(server.address, (direction, _index, frame) => {
      if (direction === "toServer") recorded.push(frame);
      return [frame];
    });
    try {
      await withClient(relay.address, server.clientOptions(alice), async (client) => {
        await client.sendMessage("recorded");
      });
    } finally {
      await relay.close();
    }
    assert.ok(recorded.length >= 4, `recorded ${recorded.length} frames`);

    await cases("tcp", 1000, async (prng) => {
      let frames: Uint8Array[] = recorded.map((frame) => frame.slice());
      switch (prng.int(6)) {
        case 0: { // mutate one frame (its length prefix included)
          const i = prng.int(frames.length);
          frames[i] = prng.mutate(frames[i]);
          break;
        }
        case 1: { // swap two frames
          const i = prng.int(frames.length);
          const j = prng.int(frames.length);
          [frames[i], frames[j]] = [frames[j], frames[i]];
          break;
        }
        case 2: // duplicate a frame
          frames.splice(prng.int(frames.length), 0, frames[prng.int(frames.length)]);
          break;
        case 3: // drop a frame
          frames.splice(prng.int(frames.length), 1);
          break;
        case 4: // random bytes after a valid ClientHello, or instead of it
          frames = prng.next() < 0.5
            ? [frames[0], prng.bytes(prng.int(500))]
            : [prng.bytes(1 + prng.int(500))];
          break;
        default: { // cut the byte stream anywhere
          const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let offset = 0;
          for (const frame of frames) {
            all.set(frame, offset);
            offset += frame.length;
          }
          frames = [all.subarray(0, prng.int(all.length))];
        }
      }
      await sendAndExpectClose(server.address, frames);
    });

    // The server is still up and serves a good client.
    await withClient(server.address, server.clientOptions(alice), async (client) => {
      assert.equal((await client.sendMessage("after fuzzing")).response, "after fuzzing");
    });
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
});

/** Sends raw bytes, ends our side, and requires the server to close within 2 s. */
async function sendAndExpectClose(
  address: { hostname: string; port: number },
  frames: Uint8Array[],
): Promise<void> {
  const conn = await Deno.connect(address);
  try {
    for (const frame of frames) {
      for (let offset = 0; offset < frame.length;) {
        offset += await conn.write(frame.subarray(offset));
      }
    }
    await conn.closeWrite();
    const buffer = new Uint8Array(4096);
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const count = await withTimeout(conn.read(buffer).catch(() => null), 2000);
      if (count === null) return;
    }
    assert.fail("the server did not close the connection within 2 s");
  } finally {
    conn.close();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
