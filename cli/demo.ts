import { join } from "node:path";
import { OvtpClient } from "../client.ts";
import { generateIdentity, loadIdentity, saveIdentity } from "../crypto/identity.ts";
import { serveOvtp } from "../server.ts";

/** Where the demo writes its lines. */
export type DemoPrinter = (line: string) => void;

/**
 * Runs the demo: throwaway keys in a temporary folder, a server on loopback, a client
 * authorized by key, a message round trip and 100 messages in flight, with timings. Everything
 * it made is removed at the end, whatever happens.
 *
 * @example Run it quietly
 * ```ts ignore
 * await runDemo(() => {});
 * ```
 */
export async function runDemo(print: DemoPrinter): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ovtp_demo_" });
  try {
    const started = performance.now();
    const [serverKey, clientKey] = await Promise.all([
      generateIdentity({ comment: "demo-server" }),
      generateIdentity({ comment: "demo-client" }),
    ]);
    await saveIdentity(serverKey, join(dir, "server_key"));
    await saveIdentity(clientKey, join(dir, "client_key"));
    print(`keys         2 x RSA-3072 in ${ms(performance.now() - started)} (in ${dir})`);
    print(`server key   ${serverKey.publicKey.fingerprint}`);
    print(`client key   ${clientKey.publicKey.fingerprint}`);

    const authorizedKeys = join(dir, "authorized_keys");
    await Deno.writeTextFile(
      authorizedKeys,
      await Deno.readTextFile(join(dir, "client_key.pub")),
    );
    const server = serveOvtp({
      identity: await loadIdentity(join(dir, "server_key")),
      authorizedKeys,
      hostname: "127.0.0.1",
      port: 0,
    }, (message, peer) => ({
      status: true,
      response: `hello ${peer.comment}, you said ${JSON.stringify(message.text())}`,
    }));
    print(`server       listening on 127.0.0.1:${server.addr.port}`);

    const client = new OvtpClient(server.addr, {
      identity: await loadIdentity(join(dir, "client_key")),
      knownHosts: join(dir, "known_hosts"),
      acceptNew: true,
    });
    try {
      let t = performance.now();
      await client.connect();
      print(`handshake    ${ms(performance.now() - t)} (server key recorded in known_hosts)`);
      t = performance.now();
      const { status, response } = await client.sendMessage("hi from the demo");
      print(`message      ${ms(performance.now() - t)} -> ${JSON.stringify({ status, response })}`);
      t = performance.now();
      const count = 1000;
      await Promise.all(Array.from({ length: count }, (_, i) => client.sendMessage({ i })));
      const seconds = (performance.now() - t) / 1000;
      print(`${count} in flight ${ms(seconds * 1000)} (${Math.round(count / seconds)} messages/s)`);
    } finally {
      await client.close();
      await server.close();
    }
    print(`done         in ${ms(performance.now() - started)}; temporary files removed`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`;
}
