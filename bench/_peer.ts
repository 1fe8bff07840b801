// Benchmark scripts print their figures.
// deno-lint-ignore-file no-console
// One end of a benchmark transfer, run as its own process so its memory is its own.
//   serve ROOT            prints {"port": N} once listening, serves until stdin closes
//   put PORT LOCAL REMOTE / get PORT REMOTE LOCAL
// Every mode samples its resident memory (RSS) every 20 ms and, at the end, prints one JSON
// line: {"baselineRss", "peakRss", "seconds", "bytes"}.
import { OvtpClient } from "../client.ts";
import { AuthorizedKeys } from "../crypto/authorized_keys.ts";
import { identityFromPkcs8, parsePrivateKeyPem } from "../crypto/identity.ts";
import { OvtpServer } from "../server.ts";

async function fixture(name: string) {
  const pem = await Deno.readTextFile(new URL(`../tests/fixtures/keys/${name}`, import.meta.url));
  return await identityFromPkcs8(parsePrivateKeyPem(pem), `${name}@bench`);
}

function sampleRss(): { baseline: number; peak: () => number; stop: () => void } {
  const baseline = Deno.memoryUsage().rss;
  let peak = baseline;
  const gc = (globalThis as { gc?: () => void }).gc;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
    gc?.();
  }, 20);
  return {
    baseline,
    peak: () => Math.max(peak, Deno.memoryUsage().rss),
    stop: () => clearInterval(timer),
  };
}

const [mode, ...args] = Deno.args;
const [alice, serverKey] = await Promise.all([fixture("alice"), fixture("server")]);

if (mode === "serve") {
  const server = new OvtpServer(() => ({ status: true }), {
    identity: serverKey,
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey]),
    hostname: "127.0.0.1",
    port: 0,
    root: args[0],
  });
  const { port } = server.listen();
  const rss = sampleRss();
  console.log(JSON.stringify({ port }));
  // Serve until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  rss.stop();
  await server.close();
  console.log(JSON.stringify({ baselineRss: rss.baseline, peakRss: rss.peak() }));
} else {
  const [port, from, to] = args;
  const client = new OvtpClient({ hostname: "127.0.0.1", port: Number(port) }, {
    identity: alice,
    fingerprint: serverKey.publicKey.fingerprint,
  });
  await client.connect();
  const rss = sampleRss();
  const started = performance.now();
  const result = mode === "put"
    ? await client.sendFile(from, to, { overwrite: true })
    : await client.getFile(from, to, { overwrite: true });
  const seconds = (performance.now() - started) / 1000;
  rss.stop();
  await client.close();
  console.log(JSON.stringify({
    baselineRss: rss.baseline,
    peakRss: rss.peak(),
    seconds,
    bytes: result.bytes,
  }));
}
