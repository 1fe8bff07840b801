import assert from "node:assert/strict";
import { ProtocolError } from "../../errors.ts";
import {
  decodeClientAuth,
  decodeClientHello,
  decodeClientSecret,
  decodeServerFinished,
  decodeServerHello,
  encodeClientAuth,
  encodeClientHello,
  encodeClientSecret,
  encodeRefused,
  encodeServerFinished,
  encodeServerHello,
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
  const verify = crypto.getRandomValues(new Uint8Array(32));
  assert.deepEqual(decodeServerFinished(encodeServerFinished(verify)), verify);
  assert.deepEqual(decodeServerFinished(encodeRefused(RefusalReason.authentication)), {
    refused: RefusalReason.authentication,
  });
  assert.deepEqual(decodeServerFinished(new Uint8Array([6, 200])), {
    refused: RefusalReason.protocol,
  });
  assert.throws(() => decodeServerFinished(new Uint8Array([5, 1, 2])), ProtocolError);
});
