import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import {
  decodeClientAuth,
  decodeClientFinished,
  decodeClientHello,
  decodeClientSecret,
  decodeServerFinished,
  decodeServerHello,
  decodeServerResumed,
  encodeClientAuth,
  encodeClientFinished,
  encodeClientHello,
  encodeClientSecret,
  encodeRefused,
  encodeServerFinished,
  encodeServerHello,
  encodeServerResumed,
  RefusalReason,
} from "../../wire/handshake_codec.ts";

const clientHello = {
  version: 1,
  nonce: new Uint8Array(32).fill(1),
  ephemeralKey: new Uint8Array(32).fill(2),
  maxRecordBytes: 1 << 20,
  rekeyRecords: 1 << 23,
  maxStreams: 256,
};

Deno.test("decodeClientHello() round-trips and rejects every truncation and extension", () => {
  const bytes = encodeClientHello(clientHello);
  assert.deepEqual(decodeClientHello(bytes), clientHello);
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(() => decodeClientHello(bytes.subarray(0, length)), ProtocolError);
  }
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeClientHello(longer), /trailing/);
});

Deno.test("decodeClientHello() caps the announced parameters", () => {
  const cases = [
    { maxRecordBytes: 100 },
    { maxRecordBytes: 2 ** 32 - 1 },
    { rekeyRecords: 0 },
    { rekeyRecords: 1 },
    { rekeyRecords: 1023 },
    { rekeyRecords: 2 ** 25 },
    { maxStreams: 0 },
    { maxStreams: 100000 },
  ];
  for (const change of cases) {
    const bytes = encodeClientHello({ ...clientHello, ...change });
    assert.throws(() => decodeClientHello(bytes), ProtocolError, JSON.stringify(change));
  }
});

Deno.test("decodeClientHello() rejects a wrong magic", () => {
  const bytes = encodeClientHello(clientHello);
  bytes[1] = 0x58;
  assert.throws(() => decodeClientHello(bytes), /does not speak ovtp/);
});

Deno.test("decodeServerHello() rejects an oversized server key", () => {
  const bytes = encodeServerHello({ ...clientHello, spki: new Uint8Array(4000) });
  assert.throws(() => decodeServerHello(bytes), /exceeds the 2048-byte limit/);
});

Deno.test("decodeServerHello() reports a refusal instead of decoding it", () => {
  assert.throws(() => decodeServerHello(encodeRefused(RefusalReason.busy)), /refused/);
});

Deno.test("decodeClientAuth() needs at least a tag", () => {
  const bytes = encodeClientAuth({ sealed: new Uint8Array(16) });
  assert.equal(decodeClientAuth(bytes).sealed.length, 16);
  assert.throws(() => decodeClientAuth(bytes.subarray(0, bytes.length - 1)), ProtocolError);
});

Deno.test("decodeClientSecret() round-trips and refuses trailing bytes", () => {
  const bytes = encodeClientSecret({ wrappedSecret: new Uint8Array(384).fill(7) });
  assert.deepEqual(decodeClientSecret(bytes).wrappedSecret, new Uint8Array(384).fill(7));
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeClientSecret(longer), /trailing/);
  assert.throws(() => decodeClientSecret(bytes.subarray(0, 10)), ProtocolError);
});

Deno.test("decodeServerFinished() returns the verify data or the refusal reason", () => {
  const verifyData = crypto.getRandomValues(new Uint8Array(32));
  assert.deepEqual(decodeServerFinished(encodeServerFinished({ verifyData })), { verifyData });
  assert.deepEqual(decodeServerFinished(encodeRefused(RefusalReason.authentication)), {
    refused: RefusalReason.authentication,
  });
  assert.deepEqual(decodeServerFinished(new Uint8Array([6, 200])), {
    refused: RefusalReason.protocol,
  });
  assert.throws(() => decodeServerFinished(new Uint8Array([5, 1, 2])), ProtocolError);
});

const resumeHello = { ...clientHello, version: 2, ticket: new Uint8Array(136).fill(7) };

Deno.test("decodeClientHello() reads a ResumeHello and rejects every truncation and extension", () => {
  const bytes = encodeClientHello(resumeHello);
  assert.equal(bytes[0], 7);
  assert.equal(bytes.length, 83 + 2 + 136);
  assert.deepEqual(decodeClientHello(bytes), resumeHello);
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(() => decodeClientHello(bytes.subarray(0, length)), ProtocolError);
  }
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeClientHello(longer), /trailing/);
});

Deno.test("decodeClientHello() refuses a ResumeHello of version 1, or with an empty or oversized ticket", () => {
  assert.throws(
    () => decodeClientHello(encodeClientHello({ ...resumeHello, version: 1 })),
    /needs version 2/,
  );
  const empty = encodeClientHello({ ...resumeHello, ticket: new Uint8Array(1) });
  empty[84] = 0;
  assert.throws(() => decodeClientHello(empty.subarray(0, 85)), /empty ticket/);
  const big = encodeClientHello({ ...resumeHello, ticket: new Uint8Array(1024) });
  big[83] = 0x04;
  big[84] = 0x01; // claims 1025 bytes
  assert.throws(() => decodeClientHello(big), ProtocolError);
  assert.throws(
    () => encodeClientHello({ ...resumeHello, ticket: new Uint8Array(1025) }),
    RangeError,
  );
});

Deno.test("decodeServerFinished() takes a ticket box within its bounds only", () => {
  const verifyData = new Uint8Array(32).fill(1);
  for (const size of [1, 20]) {
    const bytes = encodeServerFinished({ verifyData, ticketBox: new Uint8Array(size) });
    assert.throws(() => decodeServerFinished(bytes), /ticket box/);
  }
  const big = encodeServerFinished({ verifyData, ticketBox: new Uint8Array(4 + 1024 + 16 + 1) });
  assert.throws(() => decodeServerFinished(big), /ticket box/);
  const ticketBox = new Uint8Array(21).fill(2);
  assert.deepEqual(decodeServerFinished(encodeServerFinished({ verifyData, ticketBox })), {
    verifyData,
    ticketBox,
  });
});

Deno.test("decodeServerResumed() and decodeClientFinished() reject every truncation", () => {
  const resumed = encodeServerResumed({
    version: 2,
    nonce: new Uint8Array(32).fill(1),
    ephemeralKey: new Uint8Array(32).fill(2),
    maxRecordBytes: 1 << 20,
    rekeyRecords: 1 << 23,
    maxStreams: 256,
  });
  assert.equal(resumed.length, 79);
  for (let length = 0; length < resumed.length; length++) {
    assert.throws(() => decodeServerResumed(resumed.subarray(0, length)), ProtocolError);
  }
  const finished = encodeClientFinished(new Uint8Array(32));
  assert.equal(finished.length, 33);
  for (let length = 0; length < finished.length; length++) {
    assert.throws(() => decodeClientFinished(finished.subarray(0, length)), ProtocolError);
  }
});
