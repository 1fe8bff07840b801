import assert from "node:assert/strict";
import { join } from "node:path";
import { OvtpClient } from "../client.ts";
import { fixtureIdentity, withTempDir } from "./_fixtures.ts";
import { startServer } from "./_helpers.ts";

const connections = 1000;
const connectConcurrency = 32;

Deno.test("OvtpServer holds 1,000 authenticated connections while messages and a file still flow", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    await Deno.mkdir(root);
    const server = await startServer(undefined, {
      root,
      maxConnections: 2 * connections,
      maxConnectionsPerAddress: 2 * connections,
      // One fixture key plays a thousand clients here.
      maxConnectionsPerKey: 2 * connections,
    });
    const alice = await fixtureIdentity("alice");
    const idle: OvtpClient[] = [];
    const active = new OvtpClient(server.address, server.clientOptions(alice));
    try {
      let next = 0;
      await Promise.all(Array.from({ length: connectConcurrency }, async () => {
        while (next < connections) {
          next++;
          const client = new OvtpClient(server.address, server.clientOptions(alice));
          idle.push(client);
          await client.connect();
        }
      }));
      assert.equal(server.server.connectionCount, connections);

      // With all of them open, a new client still gets messages and a file through.
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) => active.sendMessage({ i })),
      );
      replies.forEach((reply, i) => assert.deepEqual(reply.response, { i }));
      const source = join(dir, "file.bin");
      const content = crypto.getRandomValues(new Uint8Array(65536));
      await Deno.writeFile(source, content);
      await active.sendFile(source, "file.bin");
      assert.deepEqual(await Deno.readFile(join(root, "file.bin")), content);
      // And the idle ones are still alive.
      const sample = await Promise.all(idle.slice(0, 20).map((client) => client.sendMessage("hi")));
      assert.ok(sample.every((reply) => reply.response === "hi"));
    } finally {
      await active.close();
      await Promise.all(idle.map((client) => client.close()));
      await server.close();
    }
  });
});
