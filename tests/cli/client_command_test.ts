import assert from "node:assert/strict";
import type { OvtpClient } from "../../client.ts";
import { clientCommand } from "../../cli/client_command.ts";
import type { CliIo } from "../../cli/cli_io.ts";
import { makeWorld, startServe } from "./_cli.ts";

/** A {@linkcode CliIo} that keeps what is printed. */
function bufferIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    print: (line) => out.push(line),
    printError: (line) => err.push(line),
    write: (text) => out.push(text),
    outputClosed: () => false,
    interactive: false,
    columns: () => 80,
    readStdin: () => Promise.resolve(undefined),
  };
}

Deno.test("clientCommand() connects, closes the client before report, and closes it when use throws", async () => {
  const world = await makeWorld();
  const server = await startServe([], { env: world.env(world.serverHome) });
  try {
    let used: OvtpClient | undefined;
    const echo = clientCommand({
      name: "echo",
      summary: "",
      help: "",
      options: { fail: { type: "boolean" } },
      arguments: { min: 2, max: 2, names: "HOST[:PORT] MESSAGE" },
      target: { argument: 0, withPath: false },
      prepare: ({ values, positionals: [, text], target }, io) => ({
        use: async (client) => {
          used = client;
          assert.equal(target.path, "");
          if (values.fail) throw new Error("use failed");
          return await client.sendMessage(text);
        },
        report: (result) => {
          assert.equal(used?.connected, false, "closed before report");
          io.print(String(result.response));
          return 7;
        },
      }),
    });
    const io = bufferIo();
    const home = ["--home", world.aliceHome];
    assert.equal(await echo.run([...home, "--accept-new", server.address, "hi"], io), 7);
    assert.deepEqual(io.out, ["received 2 bytes"]);
    assert.equal(io.err.length, 1);
    assert.match(
      io.err[0],
      /^ovtp: recorded the key SHA256:\S+ of 127\.0\.0\.1:\d+ in .*known_hosts$/,
    );

    used = undefined;
    await assert.rejects(echo.run([...home, "--fail", server.address, "hi"], io), /use failed/);
    assert.equal(used!.connected, false, "closed after use threw");
    assert.equal(io.err.length, 1, "a known key is not announced again");
  } finally {
    await server.stop();
    await world.cleanup();
  }
});
