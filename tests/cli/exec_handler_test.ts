import assert from "node:assert/strict";
import { join } from "node:path";
import { execHandler } from "../../cli/exec_handler.ts";
import { OvtpClient } from "../../client.ts";
import { AuthorizedKeys } from "../../crypto/authorized_keys.ts";
import type { OvtpHandler } from "../../server.ts";
import { fixtureIdentity, withTempDir } from "../_fixtures.ts";
import { startServer } from "../_helpers.ts";

const onPosix = Deno.build.os !== "windows";

/** Polls `condition` for up to 10 s. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !await condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(await condition(), `timed out waiting for ${what}`);
}

async function readLines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((line) => line !== "");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** The most commands running at once in a log of "start WHO ID" / "end WHO ID" lines. */
function mostAtOnce(lines: string[], who?: string): number {
  let running = 0;
  let most = 0;
  for (const line of lines) {
    const [event, name] = line.split(" ");
    if (who !== undefined && name !== who) continue;
    running += event === "start" ? 1 : -1;
    most = Math.max(most, running);
  }
  return most;
}

Deno.test({
  name:
    "execHandler() runs at most maxProcesses commands at once and serves other keys while one key's calls wait",
  ignore: !onPosix,
  fn: () =>
    withTempDir(async (dir) => {
      const log = join(dir, "log");
      const [alice, bob, carol] = await Promise.all(
        (["alice", "bob", "server"] as const).map(fixtureIdentity),
      );
      const server = await startServer(
        execHandler(
          `id=$(cat); echo "start $OVTP_PEER_COMMENT $id" >> '${log}'; sleep 0.3; ` +
            `echo "end $OVTP_PEER_COMMENT $id" >> '${log}'; printf '%s' "$id"`,
          { maxProcesses: 2 },
        ),
        {
          authorizedKeys: AuthorizedKeys.fromKeys([
            alice.publicKey,
            bob.publicKey,
            carol.publicKey,
          ]),
        },
      );
      const clients = [alice, bob, carol].map((identity) =>
        new OvtpClient(server.address, server.clientOptions(identity))
      );
      const [aliceClient, bobClient, carolClient] = clients;
      try {
        await Promise.all(clients.map((client) => client.connect()));
        // alice sends four at once: one runs, three wait (her cap is half of 2).
        const aliceCalls = [1, 2, 3, 4].map((n) => aliceClient.sendMessage(`a${n}`));
        await waitFor(async () => (await readLines(log)).length > 0, "alice's first command");
        const others = [bobClient.sendMessage("b1"), carolClient.sendMessage("c1")];
        const replies = await Promise.all([...aliceCalls, ...others]);
        assert.deepEqual(replies.map((reply) => reply.response), [
          "a1",
          "a2",
          "a3",
          "a4",
          "b1",
          "c1",
        ]);
        const lines = await readLines(log);
        assert.equal(lines.length, 12, lines.join("\n"));
        assert.equal(mostAtOnce(lines), 2, lines.join("\n"));
        assert.equal(mostAtOnce(lines, "alice@test"), 1, lines.join("\n"));
        const starts = lines.filter((line) => line.startsWith("start"))
          .map((line) => line.split(" ")[2]);
        // bob and carol do not wait behind alice's queue: each starts before her third.
        assert.ok(starts.indexOf("b1") < starts.indexOf("a3"), starts.join(" "));
        assert.ok(starts.indexOf("c1") < starts.indexOf("a3"), starts.join(" "));
      } finally {
        await Promise.all(clients.map((client) => client.close()));
        await server.close();
      }
      assert.deepEqual(server.errors, []);
    }),
});

Deno.test({
  name:
    "execHandler() does not start the command of a call whose connection closed while it waited",
  ignore: !onPosix,
  fn: () =>
    withTempDir(async (dir) => {
      const log = join(dir, "log");
      const go = join(dir, "go");
      const exec = execHandler(
        `id=$(cat); echo "start $id" >> '${log}'; ` +
          `while [ ! -e '${go}' ]; do sleep 0.02; done; printf '%s' "$id"`,
        { maxProcesses: 1 },
      );
      let calls = 0;
      const handler: OvtpHandler = (message, peer) => {
        calls++;
        return exec(message, peer);
      };
      const server = await startServer(handler);
      const alice = await fixtureIdentity("alice");
      const first = new OvtpClient(server.address, server.clientOptions(alice));
      const leaving = new OvtpClient(server.address, server.clientOptions(alice));
      try {
        const running = first.sendMessage("first");
        await waitFor(async () => (await readLines(log)).length === 1, "the first command");
        const waiting = leaving.sendMessage("second").catch((error) => error);
        await waitFor(() => calls === 2, "the second call at the server");
        await leaving.close();
        await waiting;
        await waitFor(() => server.server.connectionCount === 1, "the connection gone");
        await Deno.writeTextFile(go, "");
        assert.equal((await running).response, "first");
        assert.equal((await first.sendMessage("third")).response, "third");
        assert.deepEqual(await readLines(log), ["start first", "start third"]);
      } finally {
        await Deno.writeTextFile(go, "");
        await first.close();
        await leaving.close();
        await server.close();
      }
    }),
});

Deno.test("execHandler() refuses caps that are not whole numbers above 0", () => {
  assert.throws(() => execHandler("cat", { maxProcesses: 0 }), RangeError);
  assert.throws(() => execHandler("cat", { maxProcesses: 2, maxProcessesPerKey: 1.5 }), RangeError);
});
