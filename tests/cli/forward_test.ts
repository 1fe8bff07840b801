import assert from "node:assert/strict";
import { join } from "node:path";
import { parseLocalForward } from "../../cli/forward.ts";
import { cliArgs, makeWorld, runCli, startServe, type World } from "./_cli.ts";

const readyTimeoutMs = 15_000;

/** An HTTP server on 127.0.0.1:0 that answers its path. */
function startHttp(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => new Response(`hello ${new URL(request.url).pathname}`),
  );
}

/** Runs `fn` with a world, an HTTP server and `ovtp serve ARGS`; cleans everything up. */
async function withServe(
  args: (http: Deno.NetAddr) => string[],
  fn: (world: World, server: string, http: Deno.NetAddr) => Promise<void>,
  keyOptions = "",
): Promise<void> {
  const world = await makeWorld();
  const http = startHttp();
  try {
    if (keyOptions !== "") {
      const path = join(world.serverHome, "authorized_keys");
      await Deno.writeTextFile(path, `${keyOptions} ${await Deno.readTextFile(path)}`);
    }
    const serve = await startServe(args(http.addr), { env: world.env(world.serverHome) });
    try {
      await fn(world, serve.address, http.addr);
    } finally {
      await serve.stop();
    }
  } finally {
    await http.shutdown();
    await world.cleanup();
  }
}

Deno.test("parseLocalForward() reads ssh -L forms", () => {
  assert.deepEqual(parseLocalForward("0.0.0.0:80:web:8080"), {
    bindHost: "0.0.0.0",
    bindPort: 80,
    host: "web",
    port: 8080,
  });
  assert.equal(parseLocalForward("80:web:0"), undefined);
  assert.equal(parseLocalForward("99999:web:80"), undefined);
  assert.equal(parseLocalForward("web:80"), undefined);
});

Deno.test("ovtp forward -L carries HTTP through the server until SIGTERM", async () => {
  await withServe(
    (http) => ["--forward-allow", `127.0.0.1:${http.port}`],
    async (world, server, http) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: cliArgs(["forward", "--accept-new", "-L", `0:127.0.0.1:${http.port}`, server]),
        env: { NO_COLOR: "1", ...world.env(world.aliceHome) },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const stderr = new Response(child.stderr).text();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const fetcher = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      try {
        let stdout = "";
        const deadline = Date.now() + readyTimeoutMs;
        while (!stdout.includes("\n") && Date.now() < deadline) {
          const { value, done } = await reader.read();
          if (done) break;
          stdout += value;
        }
        const match = /^forwarding 127\.0\.0\.1:(\d+) -> 127\.0\.0\.1:\d+ via /.exec(stdout);
        assert.ok(match, `no ready line: ${stdout}`);
        const url = `http://127.0.0.1:${match[1]}`;
        const answers = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) => fetch(`${url}/${i}`, { client: fetcher }).then((response) => response.text()),
          ),
        );
        assert.deepEqual(
          answers,
          Array.from({ length: 10 }, (_, i) => `hello /${i}`),
        );
        child.kill("SIGTERM");
        const status = await child.status;
        assert.equal(status.code, 0, await stderr);
      } finally {
        fetcher.close();
        try {
          child.kill("SIGKILL");
        } catch {
          // It ended.
        }
        await child.status;
        await reader.cancel().catch(() => {});
        await stderr;
      }
    },
  );
});

Deno.test("ovtp forward to a destination not on the allow-list exits 5", async () => {
  await withServe(
    (http) => ["--forward-allow", `127.0.0.1:${http.port}`],
    async (world, server, http) => {
      const run = await runCli(
        ["forward", "--accept-new", "-L", `0:127.0.0.1:${http.port + 1}`, server],
        { env: world.env(world.aliceHome) },
      );
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /not on the server's forward allow-list/);
    },
  );
});

Deno.test("ovtp forward with a no-forward key exits 5", async () => {
  await withServe(
    (http) => ["--forward-allow", `127.0.0.1:${http.port}`],
    async (world, server, http) => {
      const run = await runCli(
        ["forward", "--accept-new", "-L", `0:127.0.0.1:${http.port}`, server],
        { env: world.env(world.aliceHome) },
      );
      assert.equal(run.code, 5, run.stderr);
      assert.match(run.stderr, /no-forward/);
    },
    "no-forward",
  );
});

Deno.test("ovtp serve refuses a malformed --forward-allow; forward refuses a malformed -L", async () => {
  const world = await makeWorld();
  try {
    const serve = await runCli(["serve", "--forward-allow", "nope"], {
      env: world.env(world.serverHome),
    });
    assert.equal(serve.code, 2, serve.stderr);
    const forward = await runCli(["forward", "-L", "80:web", "127.0.0.1:1"], {
      env: world.env(world.aliceHome),
    });
    assert.equal(forward.code, 2, forward.stderr);
  } finally {
    await world.cleanup();
  }
});
