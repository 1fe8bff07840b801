// Benchmark scripts print their figures.
// deno-lint-ignore-file no-console
/**
 * Work-queue rates, durable (SQLite file) and in memory, side by side in one run: a server
 * process per store, 16 client connections pushing 1 KiB items as fast as their replies come
 * (pushes/s), then 16 workers pulling them all, each acknowledging at once (pulls/s). The stores
 * alternate from run to run so that drift on the machine falls on both. Not part of the library.
 *
 * Usage: deno run --allow-all bench/queue_bench.ts [--runs N] [--items N] [--clients N]
 *        [--bytes N] [--json]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { OvtpClient } from "../client.ts";
import { AuthorizedKeys } from "../crypto/authorized_keys.ts";
import { identityFromPkcs8, parsePrivateKeyPem } from "../crypto/identity.ts";
import { OvtpServer } from "../server.ts";
import { PeerProcess } from "./_spawn.ts";

async function fixture(name: string) {
  const pem = await Deno.readTextFile(new URL(`../tests/fixtures/keys/${name}`, import.meta.url));
  return await identityFromPkcs8(parsePrivateKeyPem(pem), `${name}@bench`);
}

/** Child mode: `serve STORE` serves until stdin closes. */
async function serve(store: string): Promise<void> {
  const [alice, serverKey] = await Promise.all([fixture("alice"), fixture("server")]);
  const server = new OvtpServer(() => ({ status: true }), {
    identity: serverKey,
    authorizedKeys: AuthorizedKeys.fromKeys([alice.publicKey]),
    hostname: "127.0.0.1",
    port: 0,
    queueStore: store,
  });
  const { port } = server.listen();
  console.log(JSON.stringify({ port, fingerprint: serverKey.publicKey.fingerprint }));
  for await (const _ of Deno.stdin.readable) {
    // Serve until the parent closes our stdin.
  }
  await server.close();
  console.log(JSON.stringify({ closed: true }));
}

interface RunResult {
  store: "durable" | "memory";
  pushesPerSecond: number;
  pullsPerSecond: number;
}

async function measure(
  store: "durable" | "memory",
  dir: string,
  options: { items: number; clients: number; bytes: number },
): Promise<RunResult> {
  const path = store === "memory" ? ":memory:" : join(dir, `queues-${crypto.randomUUID()}.db`);
  const peer = PeerProcess.start(new URL(import.meta.url).pathname, ["serve", path]);
  const clients: OvtpClient[] = [];
  try {
    const { port, fingerprint } = await peer.next() as { port: number; fingerprint: string };
    const identity = await fixture("alice");
    for (let i = 0; i < options.clients; i++) {
      const client = new OvtpClient({ hostname: "127.0.0.1", port }, {
        identity,
        fingerprint,
        reconnect: false,
      });
      await client.connect();
      clients.push(client);
    }
    const body = new Uint8Array(options.bytes).fill(0x61);
    const perClient = Math.ceil(options.items / options.clients);
    const total = perClient * options.clients;

    let start = performance.now();
    await Promise.all(clients.map(async (client) => {
      for (let i = 0; i < perClient; i++) await client.push("bench.jobs", body);
    }));
    const pushSeconds = (performance.now() - start) / 1000;

    let pulled = 0;
    let finished!: () => void;
    const all = new Promise<void>((resolve) => finished = resolve);
    start = performance.now();
    const workers = await Promise.all(clients.map((client) =>
      client.pull("bench.jobs", () => {
        if (++pulled === total) finished();
      })
    ));
    await all;
    const pullSeconds = (performance.now() - start) / 1000;
    await Promise.all(workers.map((worker) => worker.stop()));
    return { store, pushesPerSecond: total / pushSeconds, pullsPerSecond: total / pullSeconds };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await peer.finish();
  }
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      runs: { type: "string", default: "3" },
      items: { type: "string", default: "8000" },
      clients: { type: "string", default: "16" },
      bytes: { type: "string", default: "1024" },
      json: { type: "boolean" },
    },
  });
  if (positionals[0] === "serve") return await serve(positionals[1]);
  const options = {
    items: Number(values.items),
    clients: Number(values.clients),
    bytes: Number(values.bytes),
  };
  const dir = await Deno.makeTempDir({ prefix: "ovtp_queue_bench_" });
  const results: RunResult[] = [];
  try {
    for (let run = 0; run < Number(values.runs); run++) {
      const order: ("durable" | "memory")[] = run % 2 === 0
        ? ["durable", "memory"]
        : ["memory", "durable"];
      for (const store of order) {
        const result = await measure(store, dir, options);
        results.push(result);
        if (!values.json) {
          console.error(
            `run ${run + 1} ${store}: ${result.pushesPerSecond.toFixed(0)} pushes/s, ` +
              `${result.pullsPerSecond.toFixed(0)} pulls/s`,
          );
        }
      }
    }
  } finally {
    await PeerProcess.killAll();
    await Deno.remove(dir, { recursive: true });
  }
  const summary = (["durable", "memory"] as const).map((store) => {
    const of = results.filter((result) => result.store === store);
    const pushes = of.map((result) => result.pushesPerSecond);
    const pulls = of.map((result) => result.pullsPerSecond);
    return {
      store,
      pushesPerSecond: [median(pushes), Math.min(...pushes), Math.max(...pushes)],
      pullsPerSecond: [median(pulls), Math.min(...pulls), Math.max(...pulls)],
    };
  });
  if (values.json) {
    console.log(JSON.stringify({ ...options, runs: Number(values.runs), summary }));
    return;
  }
  console.log(
    `${options.items} items of ${options.bytes} bytes, ${options.clients} pushers then ` +
      `${options.clients} workers, ${values.runs} runs (median, min–max):`,
  );
  console.log("| store | pushes/s | pulls/s |");
  console.log("| --- | --- | --- |");
  for (const { store, pushesPerSecond: p, pullsPerSecond: q } of summary) {
    const fmt = ([mid, min, max]: number[]) =>
      `${mid.toFixed(0)} (${min.toFixed(0)}–${max.toFixed(0)})`;
    console.log(`| ${store} | ${fmt(p)} | ${fmt(q)} |`);
  }
}

if (import.meta.main) await main();
