/**
 * The resumed handshake (SPEC §4.6) over in-memory transports: what each side does, what the
 * server counts as an RSA decryption, and what a stolen ticket key gives an attacker who
 * recorded a resumed connection.
 */
import assert from "node:assert/strict";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import { TicketKeys } from "../../crypto/ticket_keys.ts";
import { generateX25519, x25519, type X25519KeyPair } from "../../crypto/x25519.ts";
import {
  clientHandshake,
  type HandshakeResult,
  serverHandshake,
  type ServerHandshakeResult,
} from "../../session/handshake.ts";
import { resumedIkm, resumedSecrets, transcriptHash } from "../../session/key_schedule.ts";
import type { ResumableSession } from "../../session/session_cache.ts";
import { decodeClientHello, decodeServerResumed } from "../../wire/handshake_codec.ts";
import { AuthenticationError } from "../../errors.ts";
import { memoryTransportPair } from "../../wire/memory_transport.ts";
import type { Transport } from "../../wire/transport.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { testParameters } from "../_helpers.ts";

/** A transport that keeps a copy of every frame body written through it. */
function recording(transport: Transport, frames: Uint8Array[]): Transport {
  return {
    read: (buffer) => transport.read(buffer),
    write(bytes) {
      // Handshake writes hold whole frames (one or two); split them at their length prefixes.
      let offset = 0;
      while (offset + 4 <= bytes.length) {
        const length = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0);
        frames.push(bytes.slice(offset + 4, offset + 4 + length));
        offset += 4 + length;
      }
      return transport.write(bytes);
    },
    closeWrite: () => transport.closeWrite(),
    close: () => transport.close(),
    get remoteAddr() {
      return transport.remoteAddr;
    },
    get localAddr() {
      return transport.localAddr;
    },
  };
}

interface Run {
  client: HandshakeResult;
  server: ServerHandshakeResult;
  decryptions: number;
  clientFrames: Uint8Array[];
  serverFrames: Uint8Array[];
}

async function run(
  tickets: TicketKeys,
  resume?: ResumableSession,
  authorized?: AuthorizedKeys,
  clientEphemeral?: X25519KeyPair,
): Promise<Run> {
  const [alice, server] = await Promise.all([fixtureIdentity("alice"), fixtureIdentity("server")]);
  const keys = authorized ?? AuthorizedKeys.fromKeys([alice.publicKey]);
  const [clientSide, serverSide] = memoryTransportPair({ highWaterBytes: 1 << 22 });
  const clientFrames: Uint8Array[] = [];
  const serverFrames: Uint8Array[] = [];
  let decryptions = 0;
  try {
    // Both settle; a server failure is the one reported (it says why, the client only that it
    // was refused).
    const [clientOutcome, serverOutcome] = await Promise.allSettled([
      clientHandshake(recording(clientSide, clientFrames), {
        identity: alice,
        verifyServerKey: () => Promise.resolve(),
        resume,
        ...(clientEphemeral === undefined ? {} : { ephemeral: Promise.resolve(clientEphemeral) }),
        ...testParameters,
      }),
      serverHandshake(recording(serverSide, serverFrames), {
        identity: server,
        authorize: (fingerprint) => keys.find(fingerprint),
        onDecrypt: () => decryptions++,
        tickets,
        ...testParameters,
      }),
    ]);
    if (serverOutcome.status === "rejected") throw serverOutcome.reason;
    if (clientOutcome.status === "rejected") throw clientOutcome.reason;
    const [client, serverResult] = [clientOutcome.value, serverOutcome.value];
    return { client, server: serverResult, decryptions, clientFrames, serverFrames };
  } finally {
    clientSide.close();
    serverSide.close();
  }
}

Deno.test("serverHandshake() resumes from a ticket without an RSA decryption", async () => {
  const tickets = await TicketKeys.load();
  const full = await run(tickets);
  assert.equal(full.decryptions, 1);
  assert.equal(full.client.version, 2);
  assert.ok(full.client.newSession !== undefined);
  const resumed = await run(tickets, full.client.newSession);
  assert.equal(resumed.decryptions, 0, "no RSA decryption on the server");
  assert.equal(resumed.client.resumed, true);
  assert.equal(resumed.server.resumed, true);
  assert.deepEqual(resumed.client.sendSecret, resumed.server.receiveSecret);
  assert.deepEqual(resumed.client.receiveSecret, resumed.server.sendSecret);
  assert.notDeepEqual(resumed.client.sendSecret, full.client.sendSecret);
  assert.equal(resumed.server.peerKey.fingerprint, full.server.peerKey.fingerprint);
  // A fresh ticket, unlike the one spent.
  assert.notDeepEqual(resumed.client.newSession?.ticket, full.client.newSession.ticket);
});

Deno.test("serverHandshake() answers a ticket of another ticket key with a full handshake", async () => {
  const full = await run(await TicketKeys.load());
  const other = await run(await TicketKeys.load(), full.client.newSession);
  assert.equal(other.client.resumed, false);
  assert.equal(other.decryptions, 1);
  assert.deepEqual(other.client.sendSecret, other.server.receiveSecret);
});

Deno.test("a stolen ticket key does not give the keys of a recorded resumed session", async () => {
  const tickets = await TicketKeys.load();
  const full = await run(tickets);
  // The test keeps the client's X25519 key pair (a real client erases it) for a control below.
  const clientPair = await generateX25519();
  const resumed = await run(tickets, full.client.newSession, undefined, clientPair);
  assert.equal(resumed.client.resumed, true);
  // The attacker recorded the connection and later stole the ticket key: it opens the ticket
  // from the ResumeHello and learns rms, and it sees both public X25519 keys.
  const [resumeHello] = resumed.clientFrames;
  const [serverResumed] = resumed.serverFrames;
  const { ticket, ephemeralKey: clientPublic } = decodeClientHello(resumeHello);
  const contents = await tickets.open(ticket!);
  assert.ok(contents !== undefined);
  assert.deepEqual(contents.resumptionSecret, full.client.newSession!.resumptionSecret);
  const tr = await transcriptHash([resumeHello, serverResumed]);
  // Without the X25519 secret (which needs one of the two private keys, erased after the
  // handshake), every guess the attacker can make from public values gives other keys.
  const serverPublic = decodeServerResumed(serverResumed).ephemeralKey;
  const stranger = await generateX25519();
  const guesses = [
    new Uint8Array(32),
    clientPublic,
    serverPublic,
    await x25519(stranger.privateKey, clientPublic),
    await x25519(stranger.privateKey, serverPublic),
  ];
  for (const ecdh of guesses) {
    const derived = await resumedSecrets(resumedIkm(ecdh, contents.resumptionSecret), tr);
    assert.notDeepEqual(derived.clientToServer, resumed.client.sendSecret);
    assert.notDeepEqual(derived.serverToClient, resumed.client.receiveSecret);
  }
  // Control: the same derivation with the X25519 secret does give the session's keys, so only
  // that secret was missing.
  const ecdh = await x25519(clientPair.privateKey, serverPublic);
  const real = await resumedSecrets(resumedIkm(ecdh, contents.resumptionSecret), tr);
  assert.deepEqual(real.clientToServer, resumed.client.sendSecret);
  assert.deepEqual(real.serverToClient, resumed.client.receiveSecret);
});

Deno.test("serverHandshake() falls back, then refuses, when the ticket's key was revoked", async () => {
  const tickets = await TicketKeys.load();
  const full = await run(tickets);
  await assert.rejects(
    run(tickets, full.client.newSession, AuthorizedKeys.fromKeys([])),
    (error: unknown) => {
      // The server's own error: the full handshake's authorized_keys check, after the fallback.
      assert.ok(error instanceof AuthenticationError);
      assert.match(error.message, /is not authorized/);
      return true;
    },
  );
});
