// Session costs: a whole handshake (both sides, in memory), a message round trip over real
// sockets, one at a time and 64 in flight.
import { OvtpClient } from "../client.ts";
import { AuthorizedKeys } from "../crypto/authorized_keys.ts";
import { identityFromPkcs8, parsePrivateKeyPem } from "../crypto/identity.ts";
import { OvtpServer } from "../server.ts";
import { clientHandshake, serverHandshake } from "../session/handshake.ts";
import { memoryTransportPair } from "../wire/memory_transport.ts";

async function fixture(name: string) {
  const pem = await Deno.readTextFile(new URL(`../tests/fixtures/keys/${name}`, import.meta.url));
  return await identityFromPkcs8(parsePrivateKeyPem(pem), `${name}@bench`);
}

const [alice, serverKey] = await Promise.all([fixture("alice"), fixture("server")]);
const authorized = AuthorizedKeys.fromKeys([alice.publicKey]);
const parameters = { maxRecordBytes: 1 << 20, rekeyRecords: 1 << 23, maxStreams: 256 };

Deno.bench("handshake (RSA-3072, both sides, in memory)", async () => {
  const [c, s] = memoryTransportPair();
  await Promise.all([
    clientHandshake(c, {
      identity: alice,
      verifyServerKey: () => Promise.resolve(),
      ...parameters,
    }),
    serverHandshake(s, {
      identity: serverKey,
      authorize: (fingerprint) => authorized.find(fingerprint),
      ...parameters,
    }),
  ]);
  c.close();
  s.close();
});

const server = new OvtpServer((message) => ({ status: true, response: message.data }), {
  identity: serverKey,
  authorizedKeys: authorized,
  hostname: "127.0.0.1",
  port: 0,
});
const address = server.listen();
const client = new OvtpClient(address, {
  identity: alice,
  fingerprint: serverKey.publicKey.fingerprint,
});
await client.connect();
const body = new Uint8Array(100);

Deno.bench("message round trip, 100 B, 1 in flight", { group: "messages" }, async () => {
  await client.sendData(body);
});
Deno.bench("64 message round trips, 100 B, 64 in flight", { group: "messages" }, async () => {
  await Promise.all(Array.from({ length: 64 }, () => client.sendData(body)));
});

globalThis.addEventListener("unload", () => {
  client.close();
  server.close();
});
