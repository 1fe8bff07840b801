// Benchmark scripts print their figures.
// deno-lint-ignore-file no-console
// One end of a benchmark, run as its own process so its memory and CPU are its own. Every mode
// prints JSON lines on stdout; the last one is its result.
//
// ovtp (library):
//   serve ROOT [PORT [TICKET_KEY_FILE]]
//                           prints {"port", "fingerprint", "listeningAtMs"} once listening
//                           (listeningAtMs: wall clock, ms since the epoch) and serves (the
//                           handler echoes each message) until stdin closes, then prints
//                           {"baselineRss", "peakRss"}. A line "mark" on stdin answers
//                           {"rss", "js", "peakRss"}: RSS now (after V8's memory-pressure GC
//                           when --expose-gc; see settledMemory), the JS heap and external part
//                           of it, and the peak RSS since the previous mark. A line "cpu" answers
//                           {"cpuMs"}: the CPU time used so far. A line "log" answers with the
//                           count of each server log event and refusal reason so far, e.g.
//                           {"refused:shed": 3}.
//   put PORT LOCAL REMOTE / get PORT REMOTE LOCAL / putdir PORT LOCAL_DIR REMOTE_DIR
//                           one transfer after connecting; prints {"baselineRss", "peakRss",
//                           "seconds", "bytes", "files"}
//   messages PORT CONNECTIONS IN_FLIGHT COUNT BYTES
//                           request/reply load; prints {"count", "seconds", "p50Ms", "p99Ms"}
//   handshakes PORT SECONDS [CERT | resumed]
//                           connect + close in a loop (Deno TLS 1.3 when CERT is given; ovtp
//                           resuming from a ticket each time when "resumed"), timing the
//                           handshakes; prints {"count", "seconds", "p50Ms", "p90Ms", "stalled",
//                           "p50UnstalledMs", "p50CloseMs" (ovtp's graceful close),
//                           "cpuPerConnectionMs" (this process, handshake and close)}
//   storm-clients PORT N    connects N clients (each with its own session cache; full
//                           handshakes), each sends one message, prints {"ready"}; after a line
//                           "go" (the server was killed) each client sends a message again and
//                           again, reconnecting on its own (backoff, jitter, its ticket), until
//                           one is answered; prints {"lastReplyAtMs", "firstReplyAtMs",
//                           "medianReplyAtMs", "resumed", "full", "failedCalls", "cpuMs" (from
//                           "go" until all had a reply)}
//   idle PORT N             opens one connection and prints {"rss", "js"}, waits for a line "go",
//                           opens N more, prints {"rss", "js", "connections", "seconds"}, holds them
//                           until stdin closes, then prints {"closed"}
// Baselines (bench/_raw_copy.ts):
//   raw-serve tcp|tls ROOT [CERT KEY]
//                           receives files on each connection; prints {"port"}, serves until
//                           stdin closes, then prints {"baselineRss", "peakRss"}; answers a line
//                           "cpu" as serve does
//   raw-send tcp|tls PORT SOURCE DEST [CERT]
//                           sends a file or folder; prints like put
// The bare Web Crypto pipeline (bench/_aead_pipeline.ts):
//   raw-serve aead ROOT     receives one sealed file per connection into ROOT/bulk.bin
//   raw-send aead PORT SOURCE
//                           sends SOURCE sealed; prints like put
// Every mode samples its resident memory (RSS) every 20 ms. Transfers also print "cpuMs", the CPU
// time (user + system, all threads) the process spent on the transfer; a server answers a line
// "cpu" with {"cpuMs"}, its CPU time so far.
import { OvtpClient } from "../client.ts";
import { AuthorizedKeys } from "../crypto/authorized_keys.ts";
import { identityFromPkcs8, parsePrivateKeyPem } from "../crypto/identity.ts";
import { OvtpServer } from "../server.ts";
import { SessionCache } from "../session/session_cache.ts";
import { receiveSealed, sendSealed } from "./_aead_pipeline.ts";
import { listCopyEntries, receiveFiles, sendFiles } from "./_raw_copy.ts";
import { percentile } from "./_stats.ts";
import { cpuUsage } from "node:process";

async function fixture(name: string) {
  const pem = await Deno.readTextFile(new URL(`../tests/fixtures/keys/${name}`, import.meta.url));
  return await identityFromPkcs8(parsePrivateKeyPem(pem), `${name}@bench`);
}

/** Connections the benchmark server accepts at once, all from one address. */
const maxBenchConnections = 4096;
/** A handshake slower than this waited for a delayed ACK (40 ms on Linux). */
const stallMs = 35;
const gc = (globalThis as { gc?: (options?: Record<string, string>) => void }).gc;

function sampleRss(): {
  baseline: number;
  peak: () => number;
  mark: () => { rss: number; js: number; peakRss: number };
  stop: () => void;
} {
  const baseline = Deno.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 20);
  return {
    baseline,
    peak: () => Math.max(peak, Deno.memoryUsage().rss),
    mark: () => {
      const peakRss = Math.max(peak, Deno.memoryUsage().rss);
      const memory = settledMemory();
      peak = memory.rss;
      return { ...memory, peakRss };
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * RSS now, after full GCs when the process runs with --expose-gc, and the part of it that is
 * JavaScript's: heap in use plus memory held by ArrayBuffers and other external objects. The
 * last GC is V8's memory-pressure one ("last-resort": what V8 runs when the system is short of
 * memory, and about what its memory reducer brings an idle process to after some seconds): it
 * also gives back the young generation that a burst of handshakes grew, which an idle process
 * does not keep.
 */
function settledMemory(): { rss: number; js: number } {
  gc?.();
  gc?.();
  gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  const usage = Deno.memoryUsage();
  return { rss: usage.rss, js: usage.heapUsed + usage.external };
}

/** CPU time of this process so far (user + system, every thread), in milliseconds. */
function cpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

function report(value: Record<string, number | string>): void {
  console.log(JSON.stringify(value));
}

/** Lines from stdin until it closes. */
async function* stdinLines(): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    yield* lines;
  }
}

const [mode, ...args] = Deno.args;
const [alice, serverKey] = await Promise.all([fixture("alice"), fixture("server")]);

function ovtpClient(port: string, sessionCache: SessionCache | false = false): OvtpClient {
  return new OvtpClient({ hostname: "127.0.0.1", port: Number(port) }, {
    identity: alice,
    fingerprint: serverKey.publicKey.fingerprint,
    reconnect: false,
    sessionCache,
  });
}

/** TCP with TCP_NODELAY, then TLS over it (`Deno.TlsConn` has no `setNoDelay`). */
async function connect(kind: string, port: number, cert?: string): Promise<Deno.Conn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  if (kind === "tcp") return tcp;
  const tls = await Deno.startTls(tcp, { hostname: "localhost", caCerts: [cert!] });
  await tls.handshake();
  return tls;
}

switch (mode) {
  case "serve": {
    const [root, port = "0", ticketKeyFile] = args;
    const events = new Map<string, number>();
    const server = new OvtpServer((message) => ({ status: true, response: message.data }), {
      identity: serverKey,
      authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey]),
      hostname: "127.0.0.1",
      port: Number(port),
      root,
      ...(ticketKeyFile === undefined ? {} : { ticketKeyFile }),
      onLog: (event) => {
        const name = event.event === "refused" ? `refused:${event.reason}` : event.event;
        events.set(name, (events.get(name) ?? 0) + 1);
      },
      // Every benchmark client comes from 127.0.0.1; the memory section holds 1,000 at once.
      maxConnections: maxBenchConnections,
      maxConnectionsPerAddress: maxBenchConnections,
      // One fixture key plays every client of the bench.
      maxConnectionsPerKey: maxBenchConnections,
    });
    const listening = server.listen();
    const listeningAtMs = performance.timeOrigin + performance.now();
    const rss = sampleRss();
    report({ port: listening.port, fingerprint: serverKey.publicKey.fingerprint, listeningAtMs });
    // Serve until the parent closes our stdin.
    for await (const line of stdinLines()) {
      if (line === "mark") report(rss.mark());
      if (line === "cpu") report({ cpuMs: cpuMs() });
      if (line === "log") report(Object.fromEntries(events));
    }
    rss.stop();
    await server.close();
    report({ baselineRss: rss.baseline, peakRss: rss.peak() });
    break;
  }
  case "put":
  case "get":
  case "putdir": {
    const [port, from, to] = args;
    const client = ovtpClient(port);
    await client.connect();
    const rss = sampleRss();
    const started = performance.now();
    const cpuBefore = cpuMs();
    const result = mode === "put"
      ? await client.sendFile(from, to, { overwrite: true })
      : mode === "get"
      ? await client.getFile(from, to, { overwrite: true })
      : await client.sendDirectory(from, to, { overwrite: true });
    const seconds = (performance.now() - started) / 1000;
    const transferCpuMs = cpuMs() - cpuBefore;
    rss.stop();
    await client.close();
    report({
      baselineRss: rss.baseline,
      peakRss: rss.peak(),
      seconds,
      bytes: result.bytes,
      files: result.files,
      cpuMs: transferCpuMs,
    });
    break;
  }
  case "messages": {
    const [port, connections, inFlight, count, size] = args.map(Number);
    const clients = Array.from({ length: connections }, () => ovtpClient(String(port)));
    await Promise.all(clients.map((client) => client.connect()));
    const payload = crypto.getRandomValues(new Uint8Array(size));
    const call = async (client: OvtpClient) => {
      const { status, response } = await client.sendData(payload);
      if (!status || (response as Uint8Array).length !== size) {
        throw new Error("The server did not echo the message");
      }
    };
    // Warm up every connection (code paths, stream tables) before timing.
    await Promise.all(
      clients.flatMap((client) => Array.from({ length: inFlight }, () => call(client))),
    );
    const latencies: number[] = [];
    let issued = 0;
    const worker = async (client: OvtpClient) => {
      while (issued < count) {
        issued++;
        const sent = performance.now();
        await call(client);
        latencies.push(performance.now() - sent);
      }
    };
    const started = performance.now();
    await Promise.all(
      clients.flatMap((client) => Array.from({ length: inFlight }, () => worker(client))),
    );
    const seconds = (performance.now() - started) / 1000;
    await Promise.all(clients.map((client) => client.close()));
    latencies.sort((a, b) => a - b);
    report({
      count: latencies.length,
      seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    });
    break;
  }
  case "handshakes": {
    const [port, seconds, certPath] = args;
    const resumed = certPath === "resumed";
    const cert = certPath === undefined || resumed ? undefined : await Deno.readTextFile(certPath);
    // Each connection a new client object; "resumed" shares one cache, so each resumes with
    // the ticket the previous connection got (the warm-up makes the first one). Only the
    // handshake is timed (ovtp: `connect()`; TLS: TCP connect, `startTls`, `handshake()`): ovtp's
    // graceful close waits for the server's close record, TLS's does not, so the closes are
    // timed apart.
    const sessionCache = resumed ? new SessionCache() : false;
    let measuring = false;
    const closeTimes: number[] = [];
    const once = async (): Promise<number> => {
      const begun = performance.now();
      if (cert !== undefined) {
        const conn = await connect("tls", Number(port), cert);
        const handshakeMs = performance.now() - begun;
        conn.close();
        return handshakeMs;
      }
      const client = ovtpClient(port, sessionCache);
      await client.connect();
      const handshakeMs = performance.now() - begun;
      if (measuring && resumed && client.lastHandshake?.resumed !== true) {
        throw new Error("bench: a connection did not resume");
      }
      const closing = performance.now();
      await client.close();
      if (measuring) closeTimes.push(performance.now() - closing);
      return handshakeMs;
    };
    for (let i = 0; i < 3; i++) await once(); // warm-up
    measuring = true;
    const limitMs = Number(seconds) * 1000;
    const times: number[] = [];
    const started = performance.now();
    const cpuBefore = cpuMs();
    while (performance.now() - started < limitMs) times.push(await once());
    const elapsed = (performance.now() - started) / 1000;
    const cpuPerConnectionMs = (cpuMs() - cpuBefore) / times.length;
    times.sort((a, b) => a - b);
    closeTimes.sort((a, b) => a - b);
    const unstalled = times.filter((ms) => ms <= stallMs);
    report({
      count: times.length,
      seconds: elapsed,
      p50Ms: percentile(times, 50),
      p90Ms: percentile(times, 90),
      p50UnstalledMs: unstalled.length > 0 ? percentile(unstalled, 50) : Number.NaN,
      // Over 35 ms on loopback: a Nagle + delayed-ACK stall (Linux delays an ACK 40 ms).
      stalled: times.filter((ms) => ms > stallMs).length,
      p50CloseMs: closeTimes.length > 0 ? percentile(closeTimes, 50) : Number.NaN,
      cpuPerConnectionMs,
    });
    break;
  }
  case "storm-clients": {
    const [port, count] = args.map(Number);
    // Each client with its own session cache (the default), as separate programs would be: it
    // keeps the ticket of its first connection for the reconnection.
    const clients = Array.from(
      { length: count },
      () =>
        new OvtpClient({ hostname: "127.0.0.1", port }, {
          identity: alice,
          fingerprint: serverKey.publicKey.fingerprint,
        }),
    );
    const payload = new Uint8Array(16);
    const connectConcurrency = 16;
    let next = 0;
    await Promise.all(Array.from({ length: connectConcurrency }, async () => {
      while (next < clients.length) await clients[next++].sendData(payload);
    }));
    const lines = stdinLines();
    report({ ready: clients.length });
    while (true) {
      const line = await lines.next();
      if (line.done) Deno.exit(0);
      if (line.value === "go") break;
    }
    const wallNow = () => performance.timeOrigin + performance.now();
    const cpuBefore = cpuMs();
    let failedCalls = 0;
    const replyAt = await Promise.all(clients.map(async (client) => {
      for (;;) {
        try {
          await client.sendData(payload);
          return wallNow();
        } catch {
          // The server is down or shed us: the next call reconnects, after the client's backoff.
          failedCalls++;
        }
      }
    }));
    replyAt.sort((a, b) => a - b);
    const resumed = clients.filter((client) => client.lastHandshake?.resumed === true).length;
    report({
      firstReplyAtMs: replyAt[0],
      medianReplyAtMs: percentile(replyAt, 50),
      lastReplyAtMs: replyAt.at(-1)!,
      resumed,
      full: clients.length - resumed,
      failedCalls,
      cpuMs: cpuMs() - cpuBefore,
    });
    for (let line = await lines.next(); !line.done; line = await lines.next()) { /* wait */ }
    await Promise.all(clients.map((client) => client.close()));
    break;
  }
  case "idle": {
    const [port, count] = args;
    const warm = ovtpClient(port);
    await warm.connect();
    const lines = stdinLines();
    report(settledMemory());
    while (true) {
      const line = await lines.next();
      if (line.done) Deno.exit(0);
      if (line.value === "go") break;
    }
    const clients = Array.from({ length: Number(count) }, () => ovtpClient(port));
    const started = performance.now();
    const connectConcurrency = 8;
    let next = 0;
    await Promise.all(Array.from({ length: connectConcurrency }, async () => {
      while (next < clients.length) await clients[next++].connect();
    }));
    const seconds = (performance.now() - started) / 1000;
    report({
      ...settledMemory(),
      connections: clients.filter((client) => client.connected).length,
      seconds,
    });
    for (let line = await lines.next(); !line.done; line = await lines.next()) { /* wait */ }
    await Promise.all([warm, ...clients].map((client) => client.close()));
    report({ closed: clients.length + 1 });
    break;
  }
  case "raw-serve": {
    const [kind, root, certPath, keyPath] = args;
    const listener = kind === "tls"
      ? Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(certPath),
        key: await Deno.readTextFile(keyPath),
      })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const rss = sampleRss();
    const serving = new Set<Promise<void>>();
    const accepting = (async () => {
      try {
        for await (const conn of listener) {
          // Deno.TlsConn cannot set TCP_NODELAY; the TCP side can.
          if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
          const task = (async () => {
            try {
              if (kind === "tls") await (conn as Deno.TlsConn).handshake();
              if (kind === "aead") await receiveSealed(conn, `${root}/bulk.bin`);
              else await receiveFiles(conn, root);
            } catch (error) {
              // A handshake-only client closes at once; anything else is worth seeing.
              if (!(error instanceof Deno.errors.ConnectionReset)) console.error(error);
            } finally {
              try {
                conn.close();
              } catch {
                // Already closed.
              }
            }
          })();
          serving.add(task);
          task.finally(() => serving.delete(task));
        }
      } catch {
        // The listener was closed.
      }
    })();
    report({ port: (listener.addr as Deno.NetAddr).port });
    for await (const line of stdinLines()) {
      if (line === "cpu") report({ cpuMs: cpuMs() });
    }
    listener.close();
    await accepting;
    await Promise.all(serving);
    rss.stop();
    report({ baselineRss: rss.baseline, peakRss: rss.peak() });
    break;
  }
  case "raw-send": {
    const [kind, port, source, destination, certPath] = args;
    const cert = certPath === undefined ? undefined : await Deno.readTextFile(certPath);
    const conn = await connect(kind === "aead" ? "tcp" : kind, Number(port), cert);
    const rss = sampleRss();
    // Listing the files is part of the time, as it is in ovtp's sendDirectory.
    const started = performance.now();
    const cpuBefore = cpuMs();
    const result = kind === "aead"
      ? { files: 1, bytes: await sendSealed(conn, source) }
      : await sendFiles(conn, await listCopyEntries(source, destination));
    const seconds = (performance.now() - started) / 1000;
    const transferCpuMs = cpuMs() - cpuBefore;
    rss.stop();
    conn.close();
    report({
      baselineRss: rss.baseline,
      peakRss: rss.peak(),
      seconds,
      bytes: result.bytes,
      files: result.files,
      cpuMs: transferCpuMs,
    });
    break;
  }
  default:
    console.error(`_peer.ts: unknown mode "${mode}"`);
    Deno.exit(2);
}
