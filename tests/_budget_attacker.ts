/**
 * An attacking client, run as its own process by tests/budget_test.ts so that its buffers do
 * not count in the server's memory: connects with the fixture key `alice` to
 * 127.0.0.1:PORT (pinning FINGERPRINT), opens COUNT message streams and sends 1 MiB on each
 * without ever ending them, prints "sent", then waits to be killed.
 *
 * deno run --allow-net=127.0.0.1 --allow-read tests/_budget_attacker.ts PORT FINGERPRINT COUNT
 */
import { StreamKind } from "../session/stream.ts";
import { fixtureIdentity } from "./_fixtures.ts";
import { rawClientChannel } from "./_helpers.ts";

const [port, fingerprint, count] = Deno.args;
const channel = await rawClientChannel(
  { hostname: "127.0.0.1", port: Number(port) },
  await fixtureIdentity("alice"),
  fingerprint,
);
const writes: Promise<unknown>[] = [];
for (let i = 0; i < Number(count); i++) {
  const stream = await channel.openStream(StreamKind.message, { type: "bytes" });
  writes.push(stream.write(new Uint8Array(1024 * 1024)).catch(() => {}));
}
await Promise.all(writes);
await Deno.stdout.write(new TextEncoder().encode("sent\n"));
await new Promise(() => {});
