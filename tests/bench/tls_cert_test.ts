import assert from "node:assert/strict";
import { ecdsaSignatureToDer, makeTlsCertificate } from "../../bench/_tls_cert.ts";

/** Handshakes over 127.0.0.1 with `cert` as the only trusted root, naming the server `hostname`. */
async function handshake(cert: string, key: string, hostname: string): Promise<void> {
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const accepted = listener.accept();
  accepted.catch(() => {}); // if connecting fails, closing the listener rejects it
  const client = await Deno.connectTls({
    hostname,
    port: (listener.addr as Deno.NetAddr).port,
    caCerts: [cert],
  });
  const server = await accepted;
  try {
    const [clientSide] = await Promise.allSettled([client.handshake(), server.handshake()]);
    if (clientSide.status === "rejected") throw clientSide.reason;
    await client.write(Uint8Array.of(1, 2, 3));
    const buffer = new Uint8Array(8);
    assert.equal(await server.read(buffer), 3);
    assert.deepEqual(buffer.subarray(0, 3), Uint8Array.of(1, 2, 3));
  } finally {
    client.close();
    server.close();
  }
}

Deno.test("ecdsaSignatureToDer() turns r || s into SEQUENCE { INTEGER r, INTEGER s }", () => {
  const raw = new Uint8Array(64);
  raw[0] = 0x80; // r needs a leading zero byte to stay positive
  raw[63] = 1; // s is 1
  const der = ecdsaSignatureToDer(raw);
  assert.equal(der.toHex(), `3026022100${"80" + "00".repeat(31)}020101`);
  assert.throws(() => ecdsaSignatureToDer(new Uint8Array(63)), RangeError);
});

Deno.test("makeTlsCertificate() makes a certificate Deno TLS accepts for localhost and 127.0.0.1", async () => {
  const { cert, key } = await makeTlsCertificate();
  assert.match(cert, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/);
  await handshake(cert, key, "localhost");
  await handshake(cert, key, "127.0.0.1");
});

Deno.test("makeTlsCertificate() certificates are refused for names they do not list", async () => {
  const { cert, key } = await makeTlsCertificate({ dnsNames: ["example.test"], ipAddresses: [] });
  await assert.rejects(handshake(cert, key, "localhost"), /certificate/i);
  await assert.rejects(handshake(cert, key, "127.0.0.1"), /certificate/i);
});

Deno.test("makeTlsCertificate() makes an RSA certificate on request", async () => {
  const { cert, key } = await makeTlsCertificate({ key: { rsaBits: 2048 } });
  await handshake(cert, key, "localhost");
});
