/**
 * Durable work queues, poison items and CLI pipes, against real `ovtp serve` processes on real
 * SQLite files: a server killed with SIGKILL loses no acknowledged push, an item held by a worker
 * comes back after the restart, a failing item is retried with back-off and then dead-lettered,
 * a corrupt database stops the server at start, and `pull | head -n 1` takes only what it wrote.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { OvtpClient, type OvtpClientOptions } from "../../client.ts";
import { fixtureIdentity } from "../_fixtures.ts";
import { cliArgs, makeWorld, runCli, startServe, waitFor, type World } from "./_cli.ts";

/** Options of a library client for alice against a CLI server. */
async function aliceOptions(
  server: { readyLine: string },
  extra: Partial<OvtpClientOptions> = {},
): Promise<OvtpClientOptions> {
  const fingerprint = /with key (SHA256:\S+),/.exec(server.readyLine)![1];
  return { identity: await fixtureIdentity("alice"), fingerprint, reconnect: false, ...extra };
}

/** Starts `ovtp serve` on the queue database `db`, with extra arguments. */
function serveOn(world: World, db: string, args: string[] = []) {
  return startServe(["--queue-db", db, ...args], { env: world.env(world.serverHome) });
}

/** Takes `count` items from `queue`, acknowledging each; returns their texts. */
async function take(client: OvtpClient, queue: string, count: number): Promise<string[]> {
  const texts: string[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => done = resolve);
  const worker = await client.pull(queue, (message) => {
    if (texts.length >= count) throw new Error("more than asked for");
    texts.push(message.text());
    if (texts.length === count) done();
  });
  await all;
  await worker.stop();
  return texts;
}

Deno.test("ovtp serve with --queue-db keeps every acknowledged push through kill -9: each item is pulled exactly once after the restart", async () => {
  const world = await makeWorld();
  const db = join(world.dir, "queues.db");
  let server = await serveOn(world, db);
  const count = 40;
  const pushed = Array.from({ length: count }, (_, i) => `item ${i}`);
  let client: OvtpClient | undefined;
  try {
    client = new OvtpClient(server.address, await aliceOptions(server));
    // Concurrent pushes: they are committed together, each answered once on disk.
    await Promise.all(pushed.map((text) => client!.push("jobs", text)));
    await client.close();
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(db)).mode! & 0o777, 0o600);

    const killed = await server.stop("SIGKILL");
    assert.equal(killed.code, 137);
    server = await serveOn(world, db);
    client = new OvtpClient(server.address, await aliceOptions(server));
    const taken = await take(client, "jobs", count);
    assert.deepEqual(taken.toSorted(), pushed.toSorted());
    // Nothing more: the next item after them is the sentinel.
    await client.push("jobs", "sentinel");
    assert.deepEqual(await take(client, "jobs", 1), ["sentinel"]);
  } finally {
    await client?.close();
    await server.stop("SIGKILL");
    await world.cleanup();
  }
});

Deno.test("ovtp serve hands out again after kill -9 the item a worker held, its attempts kept", async () => {
  const world = await makeWorld();
  const db = join(world.dir, "queues.db");
  let server = await serveOn(world, db);
  let release!: () => void;
  const holding = new Promise<void>((resolve) => release = resolve);
  let client: OvtpClient | undefined;
  try {
    client = new OvtpClient(server.address, await aliceOptions(server, { onError: () => {} }));
    await client.push("jobs", "held");
    const seen: number[] = [];
    await client.pull("jobs", async (_message, info) => {
      seen.push(info.attempts);
      await holding; // never acknowledged before the server dies
    });
    await waitFor(() => seen.length === 1);
    assert.deepEqual(seen, [1]);
    await server.stop("SIGKILL");
    release();
    await client.close();

    server = await serveOn(world, db);
    client = new OvtpClient(server.address, await aliceOptions(server));
    const attempts: number[] = [];
    const texts: string[] = [];
    const worker = await client.pull("jobs", (message, info) => {
      texts.push(message.text());
      attempts.push(info.attempts);
    });
    await waitFor(() => texts.length === 1);
    await worker.stop();
    assert.deepEqual(texts, ["held"]);
    assert.deepEqual(attempts, [2]);
  } finally {
    release();
    await client?.close();
    await server.stop("SIGKILL");
    await world.cleanup();
  }
});

Deno.test("A failing worker sees an item at most --max-deliveries times, spaced by the back-off; then it is in QUEUE.dead with its attempts and last error", async () => {
  const world = await makeWorld();
  const db = join(world.dir, "queues.db");
  const firstDelayMs = 50;
  const server = await serveOn(world, db, ["--max-deliveries", "3", "--retry-delay", "0.05"]);
  let client: OvtpClient | undefined;
  try {
    client = new OvtpClient(server.address, await aliceOptions(server, { onError: () => {} }));
    const poisonSeen: { attempts: number; at: number; lastError?: string }[] = [];
    const failedAt: number[] = [];
    const done: string[] = [];
    const worker = await client.pull("jobs", (message, info) => {
      if (message.text() !== "poison") {
        done.push(message.text());
        return;
      }
      poisonSeen.push({
        attempts: info.attempts,
        at: performance.now(),
        lastError: info.lastError,
      });
      failedAt.push(performance.now());
      throw new Error(`boom ${info.attempts}`);
    });
    await client.push("jobs", "poison");
    await client.push("jobs", "good");
    const dead: { text: string; attempts: number; lastError?: string }[] = [];
    const deadWorker = await client.pull("jobs.dead", (message, info) => {
      dead.push({ text: message.text(), attempts: info.attempts, lastError: info.lastError });
    });
    await waitFor(() => dead.length === 1);
    await worker.stop();
    await deadWorker.stop();

    // The waiting item did not hold up the one behind it.
    assert.deepEqual(done, ["good"]);
    assert.deepEqual(poisonSeen.map((seen) => seen.attempts), [1, 2, 3]);
    assert.deepEqual(poisonSeen.map((seen) => seen.lastError), [undefined, "boom 1", "boom 2"]);
    for (let i = 1; i < poisonSeen.length; i++) {
      const waitedMs = poisonSeen[i].at - failedAt[i - 1];
      const backoffMs = firstDelayMs * 2 ** (i - 1);
      assert.ok(waitedMs >= backoffMs, `delivery ${i + 1} came ${waitedMs} ms after a failure`);
    }
    // Dead-lettered after its third delivery: handed out from jobs.dead as its fourth.
    assert.deepEqual(dead, [{ text: "poison", attempts: 4, lastError: "boom 3" }]);
  } finally {
    await client?.close();
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp serve refuses to start on a corrupt queue database, naming the file, and leaves it as it was", async () => {
  const world = await makeWorld();
  const db = join(world.dir, "queues.db");
  try {
    const garbage = new TextEncoder().encode("this is not a database ".repeat(500));
    await Deno.writeFile(db, garbage);
    const run = await runCli(["serve", "--listen", "127.0.0.1:0", "--queue-db", db], {
      env: world.env(world.serverHome),
    });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      new RegExp(
        `^ovtp: Cannot use the queue database ${db}: file is not a database; move it away`,
      ),
    );
    assert.deepEqual(await Deno.readFile(db), garbage);
  } finally {
    await world.cleanup();
  }
});

Deno.test("ovtp pull | head -n 1 exits by itself: pull stops on the closed pipe and the items it did not write stay queued", async () => {
  const world = await makeWorld();
  const server = await serveOn(world, join(world.dir, "queues.db"));
  const pushed = Array.from({ length: 8 }, (_, i) => `item ${i}`);
  let client: OvtpClient | undefined;
  try {
    client = new OvtpClient(server.address, await aliceOptions(server));
    for (const text of pushed) await client.push("jobs", text);
    // A real pipe: sh runs pull into head, and reports pull's own exit code on stderr.
    const pull = [Deno.execPath(), ...cliArgs(["pull", "--accept-new", server.address, "jobs"])]
      .map((word) => `'${word}'`).join(" ");
    const { code, stdout, stderr } = await new Deno.Command("sh", {
      args: ["-c", `{ ${pull}; echo "pull exited $?" >&2; } | head -n 1`],
      env: { ...world.env(world.aliceHome), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.match(err, /pull exited 0/);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), {
      queue: "jobs",
      message: "item 0",
      attempts: 1,
    });
    // What pull did not write is still queued, in order, not counted as a delivery. At most
    // one line can have been written into the pipe after head read its line and before it
    // exited (a pipe loses what its reader never reads).
    const rest: { text: string; attempts: number }[] = [];
    const worker = await client.pull("jobs", (message, info) => {
      rest.push({ text: message.text(), attempts: info.attempts });
    });
    await client.push("jobs", "sentinel");
    await waitFor(() => rest.at(-1)?.text === "sentinel");
    await worker.stop();
    const texts = rest.map((item) => item.text);
    const from = pushed.indexOf(texts[0]);
    assert.ok(from === 1 || from === 2, `the rest starts at ${texts[0]}`);
    assert.deepEqual(texts, [...pushed.slice(from), "sentinel"]);
    assert.ok(rest.every((item) => item.attempts === 1), JSON.stringify(rest));
  } finally {
    await client?.close();
    await server.stop();
    await world.cleanup();
  }
});

Deno.test("ovtp sub | head -n 1 exits by itself once its output is closed", async () => {
  const world = await makeWorld();
  const server = await serveOn(world, ":memory:");
  let client: OvtpClient | undefined;
  let publishing = true;
  try {
    client = new OvtpClient(server.address, await aliceOptions(server));
    const sub = [Deno.execPath(), ...cliArgs(["sub", "--accept-new", server.address, "t.>"])]
      .map((word) => `'${word}'`).join(" ");
    const child = new Deno.Command("sh", {
      args: ["-c", `{ ${sub}; echo "sub exited $?" >&2; } | head -n 1`],
      env: { ...world.env(world.aliceHome), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const publisher = (async () => {
      for (let i = 0; publishing; i++) {
        await client!.publish("t.x", `event ${i}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const { code, stdout, stderr } = await child.output();
    publishing = false;
    await publisher;
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, err);
    assert.match(err, /sub exited 0/);
    assert.match(new TextDecoder().decode(stdout), /^\{"topic":"t\.x","message":"event \d+"\}\n$/);
  } finally {
    publishing = false;
    await client?.close();
    await server.stop();
    await world.cleanup();
  }
});

/** Collects a child's standard error as it comes. */
function collect(stream: ReadableStream<Uint8Array>): { text(): string; done: Promise<void> } {
  let text = "";
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return { text: () => text, done };
}

Deno.test("ovtp pull reconnects after the server restarts and goes on pulling; with --no-reconnect it exits 6", async () => {
  const world = await makeWorld();
  const db = join(world.dir, "queues.db");
  let server = await serveOn(world, db);
  const port = String(server.port);
  const start = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: cliArgs(["pull", "--accept-new", ...args, server.address, "jobs"]),
      env: { ...world.env(world.aliceHome), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const pulling = start([]);
  const once = start(["--no-reconnect"]);
  const pullingErr = collect(pulling.stderr);
  const onceErr = collect(once.stderr);
  const lines = pulling.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let client: OvtpClient | undefined;
  try {
    await waitFor(() => /pulling from jobs/.test(pullingErr.text()));
    await waitFor(() => /pulling from jobs/.test(onceErr.text()));
    await server.stop("SIGKILL");
    assert.equal((await once.status).code, 6, onceErr.text());

    server = await serveOn(world, db, ["--listen", `127.0.0.1:${port}`]);
    assert.equal(String(server.port), port);
    client = new OvtpClient(server.address, await aliceOptions(server));
    await client.push("jobs", "after the restart");
    const { value } = await lines.read();
    assert.deepEqual(JSON.parse(value!), {
      queue: "jobs",
      message: "after the restart",
      attempts: 1,
    });
    pulling.kill("SIGTERM");
    assert.equal((await pulling.status).code, 0, pullingErr.text());
  } finally {
    for (const child of [pulling, once]) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Ended already.
      }
      await child.status;
    }
    await lines.cancel().catch(() => {});
    await Promise.all([pullingErr.done, onceErr.done, once.stdout.cancel()]);
    await client?.close();
    await server.stop();
    await world.cleanup();
  }
});
