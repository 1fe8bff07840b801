/**
 * A server run as its own process by tests/budget_test.ts, with V8's gc() exposed, so that its
 * memory can be measured alone and without garbage: prints its port and key fingerprint on one
 * line, then, for every line read on standard input, the growth of its heap and external memory
 * after a full garbage collection, in bytes, and the buffered bytes its budget says it holds.
 *
 * deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-read tests/_budget_server.ts
 */
import { startServer } from "./_helpers.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Run with --v8-flags=--expose-gc");
const measure = async () => {
  // Twice, with a pause: V8 frees array buffers' memory on a background thread after a GC.
  gc();
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
};
const server = await startServer(undefined, { streamStallTimeoutMs: 60_000 });
const base = await measure();
const encoder = new TextEncoder();
await Deno.stdout.write(
  encoder.encode(`${server.address.port} ${server.identity.publicKey.fingerprint}\n`),
);
for await (const _ of Deno.stdin.readable) {
  const line = `${(await measure()) - base} ${server.server.held.bufferedBytes}\n`;
  await Deno.stdout.write(encoder.encode(line));
}
await server.close();
